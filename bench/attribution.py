"""Attribution throughput against a click index of realistic size, as ratios to the raw baseline.

1. Bulk-loads ``--clicks`` clicks (default 1,000,000) into the index with COPY (secondary
   indexes dropped during the load and rebuilt after, as an operator would for a backfill).
2. Measures **conversions attributed per second**: ``--conversions`` deal-stage events - a mix of
   click-id, fbclid, email, device, IP+UA and unmatched deals - through the attribution stage
   (inbox, tenant lock, one matching query over the index, decision row, publish, commit).
3. Measures **clicks indexed per second**: ``--new-clicks`` fresh clicks through the stage's batch
   subscriber into the already-large index.

Each rate is printed beside the batched aiokafka consume -> produce pass-through of
``bench.broker_passthrough`` measured in the same run, and as a ratio to it (``--json``: one JSON
object whose ``ratio`` is the slower of the two).

    python bench/attribution.py [--clicks 1000000] [--conversions 3000] [--new-clicks 30000] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.broker_passthrough import bench_settings, measure_batched_passthrough
from schemas import AdClicked, ContactSignals, DealStageChanged, encode
from schemas.topics import CLICKS, DEAL_STAGES
from streams.attribution.app import AttributionStage
from streams.attribution.click_index import CLICK_COLUMNS
from streams.attribution.settings import AttributionSettings
from streams.core.db import connect
from streams.core.naming import topic_name
from streams.core.settings import Settings
from streams.core.stage import StageRunner

TENANTS = 20
ADS = 500
NOW = datetime.now(UTC).replace(microsecond=0)


def click_fields(i: int) -> dict[str, Any]:
    """Click ``i``'s identifiers, a pure function of ``i`` so deals can point at known clicks."""
    return {
        "tenant_id": f"t{i % TENANTS}",
        "click_id": f"k{i}",
        "ad_id": f"ad{i % ADS}",
        "occurred_at": NOW - timedelta(seconds=60 + (i * 7919) % (6 * 86_400)),
        "fbclid": f"fb{i}" if i % 2 == 0 else None,
        "email_hash": f"em{i}" if i % 10 < 3 else None,
        "device_id": f"dev{i}" if i % 10 == 5 else None,
        "ip_hash": f"ip{i % 50_000}",
        "user_agent_hash": f"ua{i % 7}",
        "event_id": f"click-{i}",
    }


async def bulk_load(settings: Settings, n: int) -> float:
    """COPY ``n`` clicks (+ the ad catalog); returns seconds taken."""
    started = time.perf_counter()
    conn = await connect(settings)
    try:
        indexes = await conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = 'clicks'"
            " AND indexname <> 'clicks_pkey'", settings.database_schema,
        )
        for row in indexes:
            await conn.execute(f'DROP INDEX "{row["indexname"]}"')
        chunk = 100_000
        for start in range(0, n, chunk):
            records = []
            for i in range(start, min(n, start + chunk)):
                f = click_fields(i)
                records.append(tuple(f[c] for c in CLICK_COLUMNS))
            await conn.copy_records_to_table("clicks", records=records, columns=list(CLICK_COLUMNS))
        for row in indexes:
            await conn.execute(row["indexdef"])
        await conn.copy_records_to_table(
            "ad_catalog",
            records=[(f"t{t}", f"ad{a}", f"s{a % 50}", f"c{a % 10}", NOW) for t in range(TENANTS) for a in range(ADS)],
            columns=["tenant_id", "ad_id", "adset_id", "campaign_id", "learned_at"],
        )
        await conn.execute("ANALYZE clicks; ANALYZE ad_catalog")
    finally:
        await conn.close()
    return time.perf_counter() - started


def deal_events(n: int, clicks: int, seed: int = 7) -> list[DealStageChanged]:
    """Deals spread over the matching layers, each pointing at a random indexed click."""
    rng = random.Random(seed)
    events = []
    for d in range(n):
        i = rng.randrange(clicks)
        f = click_fields(i)
        kind = d % 6
        contact: dict[str, Any] = {
            0: {"click_id": f["click_id"]},
            1: {"fbclid": f"fb{i - i % 2}"},
            2: {"email_hash": f"em{i - i % 10}"},
            3: {"device_id": f"dev{i - i % 10 + 5}"},
            4: {"ip_hash": f["ip_hash"], "user_agent_hash": f["user_agent_hash"]},
            5: {"email_hash": f"nobody{d}"},
        }[kind]
        events.append(DealStageChanged(
            event_id=f"deal-{d}", tenant_id=f["tenant_id"], occurred_at=NOW, deal_id=f"deal{d}",
            stage_id="appointmentscheduled", contact=ContactSignals(**contact),
        ))
    return events


async def produce(settings: Settings, topic: str, payloads: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, linger_ms=5)
    await producer.start()
    try:
        futures = [await producer.send(topic, value, key=key) for key, value in payloads]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def wait_for_count(settings: Settings, sql: str, target: int, timeout: float = 900.0) -> None:
    conn = await connect(settings)
    try:
        deadline = time.perf_counter() + timeout
        while await conn.fetchval(sql) < target:
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{sql!r} did not reach {target} within {timeout}s")
            await asyncio.sleep(0.05)
    finally:
        await conn.close()


async def measure(settings: Settings, clicks: int, conversions: int, new_clicks: int) -> tuple[float, float]:
    config = AttributionSettings(pending_seconds=0, session_timeout_ms=2000, heartbeat_interval_ms=200,
                                 sweep_interval_seconds=60)
    runner = StageRunner([AttributionStage(config)], settings)
    await runner.start()
    try:
        deals = deal_events(conversions, clicks)
        started = time.perf_counter()
        await produce(settings, topic_name(settings, DEAL_STAGES),
                      [(f"{e.tenant_id}:{e.deal_id}".encode(), encode(e)) for e in deals])
        await wait_for_count(settings, "SELECT count(*) FROM deal_attributions", conversions)
        conversion_rate = conversions / (time.perf_counter() - started)

        fresh = [AdClicked(**click_fields(clicks + i)) for i in range(new_clicks)]
        started = time.perf_counter()
        await produce(settings, topic_name(settings, CLICKS), [(c.tenant_id.encode(), encode(c)) for c in fresh])
        await wait_for_count(settings, "SELECT count(*) FROM clicks", clicks + new_clicks)
        click_rate = new_clicks / (time.perf_counter() - started)
    finally:
        await runner.stop()
    return conversion_rate, click_rate


async def main(clicks: int, conversions: int, new_clicks: int, baseline_n: int, as_json: bool) -> None:
    from streams.lab.dev.runtime import local_infrastructure

    with local_infrastructure() as (bootstrap, url):
        baseline = await measure_batched_passthrough(bootstrap, baseline_n)
        async with bench_settings(bootstrap, url) as settings:
            load_seconds = await bulk_load(settings, clicks)
            conversion_rate, click_rate = await measure(settings, clicks, conversions, new_clicks)
    if as_json:
        print(json.dumps({"benchmark": "attribution", "clicks": clicks, "batched_baseline": round(baseline),
                          "conversions_per_s": round(conversion_rate), "clicks_per_s": round(click_rate),
                          "ratio": round(min(conversion_rate, click_rate) / baseline, 3)}))
        return
    print(f"click index: {clicks:,} clicks bulk-loaded (COPY + index build) in {load_seconds:.1f}s")
    print(f"{'measure':<44}{'msgs/s':>10}{'ratio':>9}")
    print(f"{'batched aiokafka pass-through (baseline)':<44}{baseline:>10.0f}{1.0:>9.3f}")
    print(f"{'conversions attributed':<44}{conversion_rate:>10.0f}{conversion_rate / baseline:>9.3f}")
    print(f"{'clicks indexed':<44}{click_rate:>10.0f}{click_rate / baseline:>9.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--clicks", type=int, default=1_000_000, help="clicks in the index before measuring")
    parser.add_argument("--conversions", type=int, default=3_000, help="deal-stage events to attribute")
    parser.add_argument("--new-clicks", type=int, default=30_000, help="clicks to index while measuring")
    parser.add_argument("--baseline-n", type=int, default=20_000, help="messages for the pass-through baseline")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    asyncio.run(main(args.clicks, args.conversions, args.new_clicks, args.baseline_n, args.json))
