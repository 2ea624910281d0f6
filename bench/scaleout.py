"""Scale-out: the sampler and the executor as 1 and 2 instances of one consumer group, aggregate rate.

Each instance is its own OS process (``roasloop run <stage>``, :mod:`bench.chaos.procs`), all in
one consumer group on the same broker and database. The work is put on the topics first; the rate
is timed from the first applied record to the last (so group joins are not counted):

- sampler: spend and revenue events over ``--groups`` groups (:func:`bench.sampler_stage.events`),
  counted by their inbox rows;
- executor (dry run, no Meta credentials): budget-change requests over ``--groups`` campaigns,
  counted as settled rows in ``ad_change_history``.

No group's state is split: both stages subscribe with the range assignor to co-partitioned topics,
so partition *p* of every topic - every record of the groups hashed to *p* - goes to one member.
On this 2-core machine the second instance shares the cores with the first, the broker and
PostgreSQL, so the gain is bounded by what is left idle; the printed ``ratio`` is the 2-instance
rate over the 1-instance rate.

    python bench/scaleout.py [--events 20000] [--requests 4000] [--groups 200] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.broker_passthrough import bench_settings
from bench.chaos.procs import StageProcess
from bench.executor import AT, requests_for
from bench.executor import _publish as publish_requests
from bench.sampler_stage import events
from bench.sampler_stage import produce as produce_events
from streams.core.db import connect
from streams.core.settings import Settings

COUNTS = {
    "sampler": "SELECT count(*) FROM inbox WHERE consumer = 'sampler'",
    "executor": "SELECT count(*) FROM ad_change_history WHERE status <> 'executing'",
}


def environment(settings: Settings) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("ROASLOOP_", "META_", "KAFKA_", "DATABASE_"))}
    env.update({
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers or "",
        "DATABASE_URL": settings.database_url or "",
        "ROASLOOP_TOPIC_PREFIX": settings.topic_prefix,
        "ROASLOOP_DATABASE_SCHEMA": settings.database_schema,
        "ROASLOOP_DB_POOL_MAX_SIZE": "6",
        "ROASLOOP_KAFKA_SESSION_TIMEOUT_MS": "3000",
        "ROASLOOP_KAFKA_HEARTBEAT_INTERVAL_MS": "500",
        "ROASLOOP_LOG_LEVEL": "WARNING",
        "ROASLOOP_SAMPLER_DRAWS": "500",
        "ROASLOOP_EXECUTOR_JITTER_MIN_SECONDS": "0",
        "ROASLOOP_EXECUTOR_JITTER_MAX_SECONDS": "0",
    })
    return env


async def load(settings: Settings, stage: str, n: int, groups: int) -> int:
    """Put the stage's work on its topics; the number of rows that mark it done."""
    if stage == "sampler":
        batch = list(events(n, groups, 10))
        await produce_events(settings, batch)
        return len(batch)
    requests = requests_for(groups, n, "scale")
    conn = await connect(settings)
    try:
        await conn.executemany(
            "INSERT INTO entity_budgets (tenant_id, entity_id, entity_level, campaign_id, group_id, currency,"
            " daily_budget_minor, source, updated_at) VALUES ($1, $2, 'adset', $3, $3, 'USD', 10000, 'meta', $4)",
            [(r.tenant_id, r.entity_id, r.group_id, AT) for r in requests])
    finally:
        await conn.close()
    await publish_requests(settings, requests)
    return n


async def rate(settings: Settings, stage: str, instances: int, n: int, groups: int, log_dir: Path) -> float:
    target = await load(settings, stage, n, groups)
    procs = [StageProcess(stage, environment(settings), log_dir) for _ in range(instances)]
    conn = await connect(settings)
    try:
        for p in procs:
            p.start()
        started, deadline = 0.0, time.perf_counter() + 600
        while (done := await conn.fetchval(COUNTS[stage])) < target:
            if done and not started:
                started = time.perf_counter()
            if time.perf_counter() > deadline or not all(p.alive() for p in procs):
                raise RuntimeError(f"{stage} x{instances}: {done}/{target} (logs in {log_dir})")
            await asyncio.sleep(0.02)
        return target / (time.perf_counter() - (started or time.perf_counter() - 1e-3))
    finally:
        for p in procs:
            p.stop()
        await conn.close()


async def main(n_events: int, n_requests: int, groups: int, as_json: bool) -> None:
    from streams.lab.dev.runtime import local_infrastructure

    results: dict[str, dict[int, float]] = {}
    with local_infrastructure() as (bootstrap, url), tempfile.TemporaryDirectory() as logs:
        for stage, n in (("sampler", n_events), ("executor", n_requests)):
            for instances in (1, 2):
                async with bench_settings(bootstrap, url) as settings:
                    r = await rate(settings, stage, instances, n, groups, Path(logs))
                results.setdefault(stage, {})[instances] = r
                if not as_json:
                    print(f"{stage:<9} x{instances}: {r:8.0f}/s", flush=True)
    ratios = {stage: r[2] / r[1] for stage, r in results.items()}
    if as_json:
        print(json.dumps({"benchmark": "scaleout", "rates": {s: {str(k): round(v) for k, v in r.items()}
                                                              for s, r in results.items()},
                          "ratio": round(min(ratios.values()), 3),
                          "ratios": {s: round(v, 3) for s, v in ratios.items()}}))
        return
    for stage, ratio in ratios.items():
        print(f"{stage}: 2 instances / 1 instance = {ratio:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000, help="sampler events")
    parser.add_argument("--requests", type=int, default=4_000, help="executor requests")
    parser.add_argument("--groups", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(args.events, args.requests, args.groups, args.json))
