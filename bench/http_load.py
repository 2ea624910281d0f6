"""What the ingress benchmarks share: the ingest stage on a real uvicorn server, and a load generator.

:func:`ingress_server` starts the local broker and PostgreSQL (or those named by the environment),
migrates a fresh schema, runs the ingest stage and serves its routes plus the benchmark's own
baseline routes on ``127.0.0.1:<free port>``. :func:`hammer` keeps ``concurrency`` requests in flight
for ``seconds`` and returns the rate and each request's latency; every answer must have the expected
status. Baseline and candidate run on the same server in the same run, one after the other, so the
ratio compares like with like on a shared machine where absolute numbers are noise; :func:`compare`
alternates them in short slices, so a neighbour's burst of load falls on both alike.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from starlette.routing import BaseRoute

from streams.core.db import connect
from streams.core.http import build_asgi
from streams.core.http_server import HeaderDeadlineProtocol
from streams.core.settings import Settings, load_settings
from streams.core.stage import StageRunner
from streams.ingest.app import IngestStage
from streams.ingest.settings import IngestSettings
from streams.lab.dev.runtime import local_infrastructure, prepare


@dataclass(frozen=True)
class Load:
    rate: float
    """Requests per second."""
    latencies_ms: list[float]

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else float("nan")

    def summary(self) -> dict[str, float]:
        return {"rps": round(self.rate, 1), "p50_ms": round(self.percentile(50), 2),
                "p99_ms": round(self.percentile(99), 2),
                "mean_ms": round(statistics.fmean(self.latencies_ms), 2) if self.latencies_ms else float("nan")}


async def hammer(send: Callable[[int], Awaitable[httpx.Response]], seconds: float, concurrency: int,
                 expect: int = 200) -> Load:
    """Requests/s and latencies with ``concurrency`` in flight; every answer must be ``expect``."""
    counter = itertools.count()
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            response = await send(next(counter))
            latencies.append((time.perf_counter() - started) * 1000)
            if response.status_code != expect:
                raise RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Load(len(latencies) / (time.perf_counter() - started), latencies)


async def compare(baseline: Callable[[int], Awaitable[httpx.Response]],
                  candidate: Callable[[int], Awaitable[httpx.Response]], seconds: float, concurrency: int,
                  expect: int = 200, slices: int = 5) -> tuple[Load, Load]:
    """Both loads over ``seconds`` each, measured alternately in ``slices`` slices."""
    done: dict[str, list[Load]] = {"baseline": [], "candidate": []}
    for _ in range(slices):
        done["baseline"].append(await hammer(baseline, seconds / slices, concurrency, expect))
        done["candidate"].append(await hammer(candidate, seconds / slices, concurrency, expect))
    merged = []
    for loads in done.values():
        requests = sum(len(load.latencies_ms) for load in loads)
        elapsed = sum(len(load.latencies_ms) / load.rate for load in loads if load.rate)
        merged.append(Load(requests / elapsed, [ms for load in loads for ms in load.latencies_ms]))
    return merged[0], merged[1]


@dataclass
class Server:
    base: str
    settings: Settings
    client: httpx.AsyncClient


@contextlib.asynccontextmanager
async def ingress_server(extra_routes: Sequence[BaseRoute], setup_sql: Sequence[tuple[str, tuple[Any, ...]]],
                         concurrency: int, **settings: Any) -> AsyncIterator[Server]:
    with local_infrastructure() as (bootstrap, url):
        suffix = uuid.uuid4().hex[:8]
        s = load_settings(kafka_bootstrap_servers=bootstrap, database_url=url, database_schema=f"bench_{suffix}",
                          topic_prefix=f"bench{suffix}.", log_level="WARNING", **settings)
        await prepare(s)
        conn = await connect(s)
        try:
            for sql, args in setup_sql:
                await conn.execute(sql, *args)
        finally:
            await conn.close()
        config = IngestSettings(rate_limit_per_second=1e9, rate_limit_burst=10**9)
        runner = StageRunner([IngestStage(config)], s)
        await runner.start()
        app = build_asgi(runner, manage_lifecycle=False)
        app.router.routes.extend(extra_routes)
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                               access_log=False, lifespan="off", http=HeaderDeadlineProtocol))
        serving = asyncio.create_task(server.serve())
        while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        base = f"http://127.0.0.1:{port}"
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        try:
            async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
                yield Server(base, s, client)
        finally:
            server.should_exit = True
            await serving
            await runner.stop()


def report(benchmark: str, concurrency: int, seconds: float, baseline: tuple[str, Load], candidate: tuple[str, Load],
           as_json: bool) -> None:
    """Both rates and latencies and their ratio: a table, or one JSON object whose ``ratio`` is candidate/baseline."""
    ratio = candidate[1].rate / baseline[1].rate
    if as_json:
        print(json.dumps({"benchmark": benchmark, "concurrency": concurrency, "seconds": seconds,
                          "baseline": {"name": baseline[0], **baseline[1].summary()},
                          "candidate": {"name": candidate[0], **candidate[1].summary()}, "ratio": round(ratio, 3)}))
        return
    print(f"{'endpoint (concurrency ' + str(concurrency) + ')':<44}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}")
    for name, load in (baseline, candidate):
        print(f"{name:<44}{load.rate:>10.0f}{load.percentile(50):>9.2f}{load.percentile(99):>9.2f}")
    print(f"ratio {benchmark}: {ratio:.3f}")


def cli(main: Callable[[float, int, bool], Coroutine[Any, Any, None]], doc: str | None) -> None:
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=8)  # httpx degrades past ~16 in flight
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.concurrency, args.json))
