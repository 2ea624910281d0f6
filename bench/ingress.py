"""Ingress throughput: signed HubSpot webhooks end to end vs a bare "200 OK", same server, same run.

One uvicorn server (real sockets) serves the ingest stage's routes plus ``GET /bench/ok``, which
answers 200 and does nothing. A load generator keeps ``--concurrency`` requests in flight for
``--seconds`` against each endpoint in turn:

1. bare: ``GET /bench/ok`` - HTTP parsing, routing and the client's own cost (the baseline);
2. webhook: ``POST /webhooks/hubspot`` with a v3-signed batch of one deal-stage change (a new
   deal each time): body read with the size limit, signature verified, JSON parsed, portal looked
   looked up (cached), dedupe lookup in PostgreSQL, ``DealStageChanged`` published and acked by the broker, the
   delivery key recorded - everything but CRM enrichment (no HubSpot token).

Prints both rates and their ratio.

    python bench/ingress.py [--seconds 5] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import httpx
import uvicorn
from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from streams.core.db import connect
from streams.core.http import build_asgi
from streams.core.settings import load_settings
from streams.core.stage import StageRunner
from streams.ingest.app import IngestStage
from streams.ingest.settings import IngestSettings
from streams.lab.dev.runtime import local_infrastructure, prepare
from streams.lab.sandbox.hubspot_webhooks import deal_stage_event, signed_request

SECRET = "bench-hubspot-secret"
PORTAL = 62515


async def hammer(send: Callable[[int], Awaitable[httpx.Response]], seconds: float, concurrency: int) -> float:
    """Requests/s with ``concurrency`` in flight; every answer must be 200."""
    counter = itertools.count()
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            response = await send(next(counter))
            if response.status_code != 200:
                raise RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / (time.perf_counter() - started)


async def main(seconds: float, concurrency: int) -> None:
    with local_infrastructure() as (bootstrap, url):
        suffix = uuid.uuid4().hex[:8]
        settings = load_settings(
            kafka_bootstrap_servers=bootstrap, database_url=url, database_schema=f"bench_{suffix}",
            topic_prefix=f"bench{suffix}.", hubspot_client_secret=SecretStr(SECRET), log_level="WARNING",
        )
        await prepare(settings)
        conn = await connect(settings)
        try:
            await conn.execute("INSERT INTO hubspot_portals (portal_id, tenant_id) VALUES ($1, 'bench')", PORTAL)
        finally:
            await conn.close()
        config = IngestSettings(rate_limit_per_second=1e9, rate_limit_burst=10**9)
        runner = StageRunner([IngestStage(config)], settings)
        await runner.start()
        app = build_asgi(runner, manage_lifecycle=False)

        async def ok(_: Request) -> Response:
            return PlainTextResponse("OK")

        app.router.routes.append(Route("/bench/ok", ok))
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                               access_log=False, lifespan="off"))
        serving = asyncio.create_task(server.serve())
        while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        base = f"http://127.0.0.1:{port}"
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        at = datetime(2026, 5, 1, tzinfo=UTC)
        try:
            async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
                async def bare(_: int) -> httpx.Response:
                    return await client.get("/bench/ok")

                async def webhook(n: int) -> httpx.Response:
                    event = deal_stage_event(deal_id=str(10_000 + n), stage_id="appointmentscheduled",
                                             occurred_at=at, portal_id=PORTAL, app_id=1, subscription_id=2)
                    body, headers = signed_request([event], url=f"{base}/webhooks/hubspot", client_secret=SECRET,
                                                   versions=("v3",))
                    return await client.post("/webhooks/hubspot", content=body, headers=headers)

                await hammer(bare, 0.5, concurrency)  # warm up connections and code paths
                await hammer(webhook, 0.5, concurrency)
                bare_rate = await hammer(bare, seconds, concurrency)
                webhook_rate = await hammer(webhook, seconds, concurrency)
        finally:
            server.should_exit = True
            await serving
            await runner.stop()
    print(f"{'endpoint (concurrency ' + str(concurrency) + ')':<44}{'req/s':>10}")
    print(f"{'bare 200 OK (baseline)':<44}{bare_rate:>10.0f}")
    print(f"{'signed webhook: verify + dedupe + publish':<44}{webhook_rate:>10.0f}")
    print(f"ratio webhook/bare: {webhook_rate / bare_rate:.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=8)  # httpx degrades past ~16 in flight
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.concurrency))
