"""Ingress throughput: signed HubSpot webhooks end to end vs a bare "200 OK", same server, same run.

One uvicorn server (real sockets) serves the ingest stage's routes plus ``GET /bench/ok``, which
answers 200 and does nothing (:mod:`bench.http_load`). A load generator keeps ``--concurrency``
requests in flight for ``--seconds`` against each endpoint, alternating in five slices:

1. bare: ``GET /bench/ok`` - HTTP parsing, routing and the client's own cost (the baseline);
2. webhook: ``POST /webhooks/hubspot`` with a v3-signed batch of one deal-stage change (a new deal
   each time; the bodies are signed before the clock starts, so the client's cost is the same as
   for the baseline): body read with the size limit and deadline, signature verified, JSON parsed,
   each item validated, portal looked up (cached), deduplicated (a first attempt against the keys
   in memory; retries also against PostgreSQL), ``DealStageChanged`` published and acked by the
   broker, the delivery key written behind - everything but CRM enrichment (no HubSpot token).

Prints both rates, the webhook's p50/p99 latency and the ratio (``--json``: one JSON object).

    python bench/ingress.py [--seconds 5] [--concurrency 8] [--json]
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx
from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.http_load import cli, compare, hammer, ingress_server, report
from streams.lab.sandbox.hubspot_webhooks import deal_stage_event, signed_request

SECRET = "bench-hubspot-secret"
PORTAL = 62515


async def ok(_: Request) -> Response:
    return PlainTextResponse("OK")


async def main(seconds: float, concurrency: int, as_json: bool) -> None:
    setup = [("INSERT INTO hubspot_portals (portal_id, tenant_id) VALUES ($1, 'bench')", (PORTAL,))]
    async with ingress_server([Route("/bench/ok", ok)], setup, concurrency,
                              hubspot_client_secret=SecretStr(SECRET)) as server:
        client = server.client
        at = datetime(2026, 5, 1, tzinfo=UTC)
        signed: list[tuple[bytes, dict[str, str]]] = []

        def sign(first: int, count: int) -> None:
            signed.clear()
            for n in range(first, first + count):
                event = deal_stage_event(deal_id=str(n), stage_id="appointmentscheduled", occurred_at=at,
                                         portal_id=PORTAL, app_id=1, subscription_id=2)
                signed.append(signed_request([event], url=f"{server.base}/webhooks/hubspot", client_secret=SECRET,
                                             versions=("v3",)))

        async def bare(_: int) -> httpx.Response:
            return await client.get("/bench/ok")

        async def webhook(n: int) -> httpx.Response:
            body, headers = signed[n]
            return await client.post("/webhooks/hubspot", content=body, headers=headers)

        sign(1, 2_000)
        await hammer(bare, 0.5, concurrency)  # warm up connections and code paths
        await hammer(webhook, 0.5, concurrency)
        sign(100_000, int(seconds * 4_000) + 1_000)  # more than the run can send, all unseen deals
        bare_load, webhook_load = await compare(bare, webhook, seconds, concurrency)
    report("webhook/bare", concurrency, seconds, ("bare 200 OK (baseline)", bare_load),
           ("signed webhook: verify + publish", webhook_load), as_json)


if __name__ == "__main__":
    cli(main, __doc__)
