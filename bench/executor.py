"""Executor throughput: budget-change requests settled per second, as a ratio to the pass-through.

For 1, 100 and 10,000 campaigns (allocation groups), one ad set per request, jitter 0, in two
modes: dry-run (no Graph API call) and live against the Meta stand-in over HTTP (its usage tier
raised so it never throttles, since we measure the executor, not Meta's quota). Each run uses
fresh topics and a fresh schema on the embedded broker and PostgreSQL, starts the executor stage,
warms it up with one request, then publishes N requests and times until all N are settled in
``ad_change_history``. The baseline is the batched aiokafka consume -> produce loop of
``bench/broker_passthrough.py``, measured in the same run.

One campaign is the worst case by design: its requests run strictly one after another (each
waits for the previous one's Meta call and audit writes). Many campaigns run concurrently,
bounded by the database pool.

    python -m bench.executor [--quick] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from pydantic import SecretStr

from bench.broker_passthrough import bench_settings, measure_batched_passthrough
from schemas import BudgetChangeRequested, Money, encode
from schemas.topics import BUDGET_REQUESTS, group_key
from streams.core.naming import topic_name
from streams.core.settings import Settings
from streams.core.stage import Resources, StageRunner
from streams.executor.app import ExecutorStage
from streams.executor.executor import MetaGateway
from streams.executor.settings import ExecutorSettings
from streams.integrations.meta import MetaClient
from streams.lab.sandbox.meta import create_meta_app
from streams.lab.sandbox.meta_state import MetaState
from streams.lab.sandbox.meta_usage import UsageTier
from streams.lab.sandbox.serve import BackgroundServer

TENANT = "bench"
AT = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
LIMITS = ExecutorSettings(jitter_min_seconds=0, jitter_max_seconds=0, max_actions_per_campaign_hour=10**6,
                          commit_interval_seconds=0.2)


def requests_for(campaigns: int, n: int, tag: str) -> list[BudgetChangeRequested]:
    return [
        BudgetChangeRequested(
            event_id=f"r-{tag}-{i}", tenant_id=TENANT, occurred_at=AT, change_id=f"{tag}-{i}",
            group_id=f"g{i % campaigns}", campaign_id=f"g{i % campaigns}", entity_id=f"{tag}-as{i}",
            requested_budget=Money(amount_minor=11_000, currency="USD"), previous_budget_minor=10_000,
        )
        for i in range(n)
    ]


async def _publish(settings: Settings, batch: list[BudgetChangeRequested]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, linger_ms=5)
    await producer.start()
    try:
        topic = topic_name(settings, BUDGET_REQUESTS)
        futures = [await producer.send(topic, encode(r), key=group_key(r.tenant_id, r.group_id)) for r in batch]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def _settled(runner: StageRunner) -> int:
    return int(await runner.resources.pool.fetchval(
        "SELECT count(*) FROM ad_change_history WHERE status <> 'executing'"))


async def _until_settled(runner: StageRunner, count: int) -> None:
    while True:
        if await _settled(runner) >= count:
            return
        await asyncio.sleep(0.05)


async def _seed_budgets(runner: StageRunner, batch: list[BudgetChangeRequested]) -> None:
    """Known current budgets, as in steady state (else each request first reads Meta)."""
    await runner.resources.pool.executemany(
        "INSERT INTO entity_budgets (tenant_id, entity_id, entity_level, campaign_id, group_id, currency, "
        "daily_budget_minor, source, updated_at) VALUES ($1, $2, 'adset', $3, $3, 'USD', 10000, 'meta', $4)",
        [(r.tenant_id, r.entity_id, r.group_id, AT) for r in batch],
    )


async def measure(settings: Settings, campaigns: int, n: int, meta_url: str | None, state: MetaState | None) -> float:
    """Requests settled per second for ``n`` requests over ``campaigns`` groups."""
    tag = uuid.uuid4().hex[:6]
    batch = requests_for(campaigns, n, tag)
    warmup = requests_for(1, 1, tag + "w")
    if state is not None:
        state.add_account("1")
        for r in warmup + batch:
            if r.campaign_id not in state.campaigns:
                state.add_campaign(r.campaign_id, "1")
            state.add_adset(r.entity_id, r.campaign_id, 10_000)

    def meta(res: Resources, _: ExecutorSettings) -> MetaGateway | None:
        if meta_url is None or state is None:
            return None
        return MetaClient.create(graph_url=meta_url, version="v26.0", access_token=SecretStr(state.access_token),
                                 app_secret=SecretStr(state.app_secret), clock=res.clock)

    runner = StageRunner([ExecutorStage(LIMITS, meta=meta)], settings)
    await runner.start()
    try:
        await _seed_budgets(runner, warmup + batch)
        await _publish(settings, warmup)
        await _until_settled(runner, 1)
        started = time.perf_counter()
        await _publish(settings, batch)
        await _until_settled(runner, n + 1)
        return n / (time.perf_counter() - started)
    finally:
        await runner.stop()


async def main(quick: bool, as_json: bool) -> None:
    from streams.lab.dev.runtime import local_infrastructure

    sizes = [(1, 100), (100, 500), (2_000, 2_000)] if quick else [(1, 300), (100, 2_000), (10_000, 10_000)]
    rows: list[tuple[str, int, int, float]] = []
    with local_infrastructure() as (bootstrap, url):
        raw = await measure_batched_passthrough(bootstrap, 20_000)
        state = MetaState(tier=UsageTier(max_score=1e12, app_calls_per_hour=10**9))
        holder: dict[str, Any] = {"state": state}

        async def app(scope: Any, receive: Any, send: Any) -> None:
            await create_meta_app(holder["state"])(scope, receive, send)

        with BackgroundServer(app) as meta_url:
            for mode in ("dry-run", "stand-in"):
                for campaigns, n in sizes:
                    holder["state"] = state = MetaState(tier=UsageTier(max_score=1e12, app_calls_per_hour=10**9))
                    async with bench_settings(bootstrap, url) as settings:
                        live = mode == "stand-in"
                        rate = await measure(settings, campaigns, n, meta_url if live else None,
                                             state if live else None)
                    rows.append((mode, campaigns, n, rate))
                    print(f"  {mode:<9} {campaigns:>6} campaigns {n:>6} requests: {rate:8.0f}/s", flush=True)
    if as_json:
        dry = [rate for mode, _, _, rate in rows if mode == "dry-run"]
        print(json.dumps({"benchmark": "executor", "batched_baseline": round(raw),
                          "runs": [{"mode": m, "campaigns": c, "requests": n, "settled_per_s": round(r)}
                                   for m, c, n, r in rows],
                          "ratio": round(min(dry) / raw, 3)}))
        return
    print(f"\n{'mode':<10}{'campaigns':>10}{'requests':>10}{'settled/s':>11}{'ratio':>8}")
    print(f"{'batched pass-through (baseline)':<41}{raw:>11.0f}{1:>8.3f}")
    for mode, campaigns, n, rate in rows:
        print(f"{mode:<10}{campaigns:>10}{n:>10}{rate:>11.0f}{rate / raw:>8.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs (10,000 campaigns become 2,000)")
    parser.add_argument("--json", action="store_true", help="one JSON object; ratio = the slowest dry run / baseline")
    args = parser.parse_args()
    asyncio.run(main(args.quick, args.json))
