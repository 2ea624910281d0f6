"""The market in compressed real time: events in order, wall-clock stamps, webhooks that verify."""

from __future__ import annotations

import asyncio

import httpx
from hubspot.utils.signature import Signature
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from schemas import AdClicked, DealStageChanged, SpendReported
from schemas.envelope import Envelope
from streams.lab.sandbox.hubspot import HubSpotState
from streams.lab.sandbox.hubspot_webhooks import WebhookSender
from streams.lab.sandbox.live import run_market_live
from streams.lab.sandbox.market import Market
from streams.lab.sandbox.meta_state import MetaState


async def test_live_run_publishes_a_days_events_in_order_with_wall_clock_times() -> None:
    published: list[Envelope] = []

    async def publish(event: Envelope) -> None:
        published.append(event)

    meta = MetaState()
    stats = await run_market_live(
        Market.from_scenario("fast_small", seed=1),
        seconds_per_day=0.3,
        stop_event=asyncio.Event(),
        publish=publish,
        meta_state=meta,
        max_days=3,
    )
    assert stats.days == 3 and stats.clicks > 100 and stats.stage_changes > 0
    kinds = {type(e) for e in published}
    assert kinds == {AdClicked, DealStageChanged, SpendReported}
    times = [e.occurred_at for e in published if not isinstance(e, SpendReported)]
    assert times == sorted(times)
    assert times[0].year >= 2026  # played at wall-clock time, not the scenario's 2025 dates
    won = [e for e in published if isinstance(e, DealStageChanged) and e.contact.email_hash]
    assert won, "stage changes carry the CRM contact's signals"
    assert meta.insights, "the Meta stand-in's insights reflect the spend"


async def test_live_run_stops_promptly_and_posts_signed_webhooks() -> None:
    verified: list[bool] = []

    async def hook(request: Request) -> Response:
        body = (await request.body()).decode()
        verified.append(
            Signature.is_valid(request.headers["X-HubSpot-Signature"], "s3cret", body, signature_version="v1")
        )
        return Response(status_code=204)

    app = Starlette(routes=[Route("/webhooks/hubspot", hook, methods=["POST"])])
    stop = asyncio.Event()
    hubspot = HubSpotState(client_secret="s3cret")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client:
        sender = WebhookSender("http://ingress.test/webhooks/hubspot", "s3cret", client)
        clicks: list[str] = []

        async def click_hit(click: object) -> None:
            clicks.append(click.click_id)

        task = asyncio.create_task(
            run_market_live(
                Market.from_scenario("fast_small", seed=2),
                seconds_per_day=0.4,
                stop_event=stop,
                click_hit=click_hit,
                webhooks=sender,
                hubspot_state=hubspot,
            )
        )
        await asyncio.sleep(1.0)
        stop.set()
        stats = await asyncio.wait_for(task, timeout=1.0)
    assert stats.days >= 2 and clicks and verified and all(verified)
    assert stats.webhooks_failed == 0 and hubspot.deals
