"""Play the market in compressed real time, for ``roasloop dev`` and end-to-end tests.

One simulated day lasts ``seconds_per_day`` wall seconds. Each day the market steps (at the
budgets currently in the Meta stand-in, when one is given), the HubSpot stand-in learns the day's
contacts and deals, and then every click and stage change is played at its compressed moment:

- clicks go to ``click_hit`` (e.g. a GET on the ingress click redirect, see :func:`redirect_clicker`)
  or, without it, to ``publish`` as ``AdClicked`` events;
- stage changes go to ``webhooks`` (signed HubSpot deliveries) or, without it, to ``publish`` as
  ``DealStageChanged`` events;
- the day's ``SpendReported`` snapshots go to ``publish`` when ``publish_spend`` is on (leave it off
  when the insights poller reads the Meta stand-in instead).

Played events carry *wall-clock* times (the moment they are played), so clicks stamped by the
ingress and webhook ``occurredAt`` values share one time line.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote, urlsplit

import httpx

from schemas.envelope import Envelope
from streams.lab.sandbox.hubspot import HubSpotState
from streams.lab.sandbox.hubspot_webhooks import WebhookSender, deal_stage_event
from streams.lab.sandbox.market import Market
from streams.lab.sandbox.market_events import DEV_HASH_KEY, click_events, spend_events, stage_events
from streams.lab.sandbox.market_types import ClickRecord, DayOutcome, StageChange
from streams.lab.sandbox.meta_state import MetaState

Publish = Callable[[Envelope], Awaitable[None]]
ClickHit = Callable[[ClickRecord], Awaitable[None]]


@dataclass
class LiveStats:
    days: int = 0
    clicks: int = 0
    stage_changes: int = 0
    webhooks_failed: int = 0


def redirect_clicker(
    client: httpx.AsyncClient,
    ingress_base_url: str,
    tenant_id: str,
    *,
    landed: Callable[[ClickRecord, str], None] | None = None,
) -> ClickHit:
    """A ``click_hit`` that follows the click like a browser would: ``GET /c/<tenant>/<ad>?url=<landing>``.

    ``landed(click, rl_cid)`` is told the click id the redirect appended to the landing URL - what
    a landing page would store on the CRM contact.
    """

    async def hit(click: ClickRecord) -> None:
        url = f"{ingress_base_url.rstrip('/')}/c/{quote(tenant_id)}/{quote(click.ad_id)}"
        params = {
            "url": click.landing_url.split("?", 1)[0],  # the ingress appends rl_cid itself
            "fbclid": click.fbclid,
            "utm_source": "facebook",
            "utm_medium": "paid_social",
            "utm_campaign": click.campaign_id,
            "utm_content": click.adset_id,
            "utm_id": click.ad_id,
        }
        headers = {"User-Agent": click.user_agent, "X-Forwarded-For": click.ip}
        response = await client.get(url, params=params, headers=headers, follow_redirects=False)
        location = response.headers.get("location", "")
        rl_cid = dict(parse_qsl(urlsplit(location).query)).get("rl_cid")
        if landed is not None and response.status_code in (302, 303, 307) and rl_cid:
            landed(click, rl_cid)

    return hit


async def run_market_live(
    market: Market,
    *,
    seconds_per_day: float,
    stop_event: asyncio.Event,
    publish: Publish | None = None,
    click_hit: ClickHit | None = None,
    webhooks: WebhookSender | None = None,
    hubspot_state: HubSpotState | None = None,
    meta_state: MetaState | None = None,
    publish_spend: bool = True,
    max_days: int | None = None,
    hash_key: str = DEV_HASH_KEY,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> LiveStats:
    """Run until ``stop_event`` is set (or ``max_days`` days were played); return what was played."""
    if seconds_per_day <= 0:
        raise ValueError("seconds_per_day must be positive")
    if meta_state is not None:
        market.attach_meta(meta_state)
    stats = LiveStats()
    loop = asyncio.get_running_loop()
    while not stop_event.is_set() and (max_days is None or stats.days < max_days):
        outcome = market.step()
        day_mono = loop.time()
        if hubspot_state is not None:
            hubspot_state.apply(outcome)
        for offset, item in _timeline(outcome, seconds_per_day):
            delay = day_mono + offset - loop.time()
            if delay > 0 and await _stopped(stop_event, delay):
                return stats
            # The moment it is actually played, not the scheduled one: when playing falls behind
            # (HTTP round trips at a burst), clicks stamped by the ingress on arrival and stage
            # changes stamped here must stay on one time line, or a deal can predate its click.
            played_at = now()
            if isinstance(item, StageChange):
                await _play_stage(item, outcome, played_at, publish, webhooks, hubspot_state, hash_key, stats)
            else:
                await _play_click(item, outcome, played_at, publish, click_hit, hash_key)
                stats.clicks += 1
        remaining = day_mono + seconds_per_day - loop.time()
        if remaining > 0 and await _stopped(stop_event, remaining):
            return stats
        if publish is not None and publish_spend:
            for event in spend_events(outcome, account_id=market.scenario.account_id):
                await publish(event.model_copy(update={"occurred_at": now(), "produced_at": now()}))
        stats.days += 1
    return stats


def _timeline(outcome: DayOutcome, seconds_per_day: float) -> list[tuple[float, ClickRecord | StageChange]]:
    scale = seconds_per_day / 86_400
    items: list[tuple[float, ClickRecord | StageChange]] = [
        ((c.occurred_at - outcome.start).total_seconds() * scale, c) for c in outcome.clicks
    ]
    items += [((s.occurred_at - outcome.start).total_seconds() * scale, s) for s in outcome.stage_changes]
    items.sort(key=lambda t: t[0])
    return items


async def _stopped(stop_event: asyncio.Event, seconds: float) -> bool:
    try:
        await asyncio.wait_for(stop_event.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True


async def _play_click(
    click: ClickRecord,
    outcome: DayOutcome,
    at: datetime,
    publish: Publish | None,
    click_hit: ClickHit | None,
    hash_key: str,
) -> None:
    if click_hit is not None:
        await click_hit(click)
    elif publish is not None:
        one = replace(outcome, delivery=(), clicks=(click,), contacts=(), stage_changes=())
        [event] = click_events(one, hash_key=hash_key)
        await publish(event.model_copy(update={"occurred_at": at, "produced_at": at}))


async def _play_stage(
    change: StageChange,
    outcome: DayOutcome,
    at: datetime,
    publish: Publish | None,
    webhooks: WebhookSender | None,
    hubspot: HubSpotState | None,
    hash_key: str,
    stats: LiveStats,
) -> None:
    stats.stage_changes += 1
    if webhooks is not None:
        portal = hubspot.portal_id if hubspot is not None else 62515
        app_id = hubspot.app_id if hubspot is not None else 54321
        payload = deal_stage_event(
            deal_id=change.deal_id,
            stage_id=change.stage_id,
            occurred_at=at,
            portal_id=portal,
            app_id=app_id,
            subscription_id=12345,
        )
        result = await webhooks.deliver([payload])
        stats.webhooks_failed += 0 if result.delivered else 1
    elif publish is not None:
        one = replace(outcome, delivery=(), clicks=(), stage_changes=(change,))
        [event] = stage_events(one, hash_key=hash_key)
        await publish(event.model_copy(update={"occurred_at": at, "produced_at": at}))
