"""Console pages at real sizes: server time per page against the time of its SQL alone, same run.

Seeds a campaign of 50 ad sets with 90 days of spend, revenue and four decisions a day, and a
tenant of 1,000 ad sets (20 groups of 50), then for each page:

1. page: ``GET`` through the console stage in-process (token verified, queries, aggregation, JSON);
2. SQL: the same statements with the same arguments, captured from the page's connection and
   replayed on one connection - the floor no server code could go below.

Prints milliseconds per page for both and ``ratio`` = SQL time / page time (1.0: the page costs
no more than its queries). ``--json`` prints one JSON object.

    python bench/console.py [--rounds 20] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from datetime import time as day_time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from streams.console.app import ConsoleStage
from streams.console.settings import ConsoleSettings
from streams.core.clock import ManualClock
from streams.core.http import build_asgi
from streams.core.settings import load_settings
from streams.core.stage import StageRunner
from streams.lab.dev.issuer import LocalIssuer
from streams.lab.dev.runtime import local_infrastructure, prepare
from streams.lab.sandbox.console_history import seed_group

TODAY = date(2026, 5, 10)
PAGES = {
    "campaign page (50 ad sets, 90 days)": "/v1/tenants/campaign/groups/g?days=90",
    "tenant page (1,000 ad sets)": "/v1/tenants/tenant/overview?days=30",
}


class Capture:
    def __init__(self) -> None:
        self.statements: list[tuple[str, tuple[Any, ...]]] = []

    def __call__(self, record: Any) -> None:
        self.statements.append((record.query, tuple(record.args)))


async def measure(rounds: int) -> dict[str, Any]:
    with local_infrastructure() as (bootstrap, url):
        suffix = uuid.uuid4().hex[:8]
        issuer = LocalIssuer.create()
        settings = load_settings(kafka_bootstrap_servers=bootstrap, database_url=url, database_schema=f"bench_{suffix}",
                                 topic_prefix=f"bench{suffix}.", log_level="WARNING",
                                 firebase_project_id=issuer.project, firebase_jwks_url="http://jwks.invalid/keys")
        await prepare(settings)
        jwks = httpx.MockTransport(lambda _: httpx.Response(200, json=issuer.jwks()))
        runner = StageRunner([ConsoleStage(ConsoleSettings(), jwks_transport=jwks)], settings,
                             clock=ManualClock(datetime.combine(TODAY, day_time(18), tzinfo=UTC)))
        await runner.start()
        try:
            pool = runner.resources.pool
            await seed_group(pool, tenant="campaign", group="g", adsets=50, days=90, last_day=TODAY,
                             decisions_per_day=4)
            for n in range(20):
                await seed_group(pool, tenant="tenant", group=f"g{n:02d}", adsets=50, days=30, last_day=TODAY)
            token = issuer.token("VIEWER")
            app = build_asgi(runner, manage_lifecycle=False)
            results: dict[str, Any] = {}
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://bench") as client:
                for name, path in PAGES.items():
                    results[name] = await _page(client, runner, path, token, rounds)
        finally:
            await runner.stop()
    return results


async def _page(client: httpx.AsyncClient, runner: StageRunner, path: str, token: str,
                rounds: int) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(3):  # warm up plans, caches and code paths
        assert (await client.get(path, headers=headers)).status_code == 200
    started = time.perf_counter()
    for _ in range(rounds):
        response = await client.get(path, headers=headers)
        assert response.status_code == 200, response.text
    page_ms = (time.perf_counter() - started) * 1000 / rounds
    statements = await _statements_of(client, runner, path, headers)
    async with runner.resources.pool.acquire() as conn:
        for query, args in statements:
            await conn.fetch(query, *args)
        started = time.perf_counter()
        for _ in range(rounds):
            for query, args in statements:
                await conn.fetch(query, *args)
        sql_ms = (time.perf_counter() - started) * 1000 / rounds
    return {"page_ms": round(page_ms, 2), "sql_ms": round(sql_ms, 2), "statements": len(statements),
            "bytes": len(response.content), "ratio": round(sql_ms / page_ms, 3)}


class LoggingPool:
    """The stage's pool, lending connections that log every statement (with its arguments)."""

    def __init__(self, pool: Any, capture: Capture) -> None:
        self.pool, self.capture = pool, capture

    @contextlib.asynccontextmanager
    async def acquire(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        async with self.pool.acquire(*args, **kwargs) as conn:
            conn.add_query_logger(self.capture)
            try:
                yield conn
            finally:
                conn.remove_query_logger(self.capture)


async def _statements_of(client: httpx.AsyncClient, runner: StageRunner, path: str,
                         headers: dict[str, str]) -> list[tuple[str, tuple[Any, ...]]]:
    """The statements one request runs, with their arguments."""
    capture, pool = Capture(), runner.resources.pool
    runner.resources._pool = LoggingPool(pool, capture)  # type: ignore[assignment]
    try:
        assert (await client.get(path, headers=headers)).status_code == 200
    finally:
        runner.resources._pool = pool
    return capture.statements


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = asyncio.run(measure(args.rounds))
    ratio = min(r["ratio"] for r in results.values())
    if args.json:
        print(json.dumps({"pages": results, "ratio": ratio}))
        return
    print(f"{'page':<40}{'page ms':>10}{'SQL ms':>10}{'queries':>9}{'ratio':>8}")
    for name, r in results.items():
        print(f"{name:<40}{r['page_ms']:>10.1f}{r['sql_ms']:>10.1f}{r['statements']:>9}{r['ratio']:>8.3f}")
    print(f"ratio (SQL time / page time, the worse page): {ratio:.3f}")


if __name__ == "__main__":
    main()
