"""Revenue stage throughput: attributed stage changes and spend snapshots per second, against the batched pass-through.

The realistic mix the stage sees: ``--deals`` deals over 20 tenants, each moving through HubSpot's
default pipeline as the attribution stage publishes it - every deal opens (``appointmentscheduled``:
lead), 60% reach ``presentationscheduled`` (appointment), 25% close won (half of them with a deal
amount, half valued at the won stage), 15% close lost, and 5% also pass through a custom stage
nobody mapped (credits nothing). A quarter of the deals were not attributed (``method`` ``none``:
nothing to credit, but each is claimed and committed like the others); of the attributed ones 30%
are probabilistic (confidence 0.6). Beside them, spend snapshots of the ad sets the deals came from,
several per ad set and day with growing totals, as the spend poller re-reports a day (one for
every four stage changes).

Everything is on the topics before the stage starts; the stage (both subscriptions: conversions
through the inbox, valuation, ledger and publish; spend as upserts) is timed from its first
applied record to its last, as the batched aiokafka pass-through of ``bench.broker_passthrough``
is, in the same run on the same broker and database.

    python bench/revenue.py [--deals 4000] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.broker_passthrough import bench_settings, measure_batched_passthrough
from bench.sampler_stage import produce
from schemas.envelope import Envelope
from schemas.events import ConversionAttributed, SpendReported
from schemas.money import Money
from streams.core.clock import ManualClock
from streams.core.db import connect
from streams.core.settings import Settings
from streams.core.stage import StageRunner
from streams.revenue.app import CONSUMER, RevenueStage

T0 = datetime(2026, 3, 1, tzinfo=UTC)
TENANTS = 20
ADSETS = 25  # per tenant


def _stages(deal: int) -> list[str]:
    """The deal's path through HubSpot's default pipeline (see the module docstring for the shares)."""
    path = ["appointmentscheduled"]
    if deal % 20 == 7:
        path.append("custom-review")  # a stage id nobody mapped
    if deal % 5 < 3:
        path.append("presentationscheduled")
    if deal % 20 < 5:
        path.append("closedwon")
    elif deal % 20 < 8:
        path.append("closedlost")
    return path


def conversions(deals: int) -> Iterator[ConversionAttributed]:
    for d in range(deals):
        tenant, adset = f"t{d % TENANTS}", f"as{d % ADSETS}"
        clicked = T0 + timedelta(minutes=d)
        attributed = d % 4 != 3
        confidence = 1.0 if d % 10 < 7 else 0.6
        for n, stage in enumerate(_stages(d)):
            ad = {"method": "url" if confidence == 1.0 else "probabilistic", "matched_on": "click_id",
                  "confidence": confidence, "click_id": f"k{d}", "ad_id": f"{adset}-ad", "adset_id": adset,
                  "campaign_id": f"c{d % 5}", "group_id": f"c{d % 5}", "click_occurred_at": clicked}
            amount = Money(amount_minor=400_000 + 100 * d, currency="USD") if stage == "closedwon" and d % 2 else None
            yield ConversionAttributed(
                event_id=f"ca-{d}-{n}", tenant_id=tenant, occurred_at=clicked + timedelta(hours=n + 1),
                deal_id=f"deal{d}", stage_event_id=f"s-{d}-{n}", stage_id=stage, amount=amount,
                **(ad if attributed else {"method": "none", "confidence": 0.0}))


def spend(count: int) -> Iterator[SpendReported]:
    """``count`` snapshots: each (tenant, ad set, day) re-reported four times with a growing total."""
    for i in range(count):
        snapshot, key = i % 4, i // 4
        tenant, adset, day = f"t{key % TENANTS}", f"as{key // TENANTS % ADSETS}", key // (TENANTS * ADSETS)
        at = T0 + timedelta(days=day, hours=6 * snapshot + 1)
        yield SpendReported(event_id=f"sp-{key}-{snapshot}", tenant_id=tenant, occurred_at=at,
                            group_id=f"c{key % 5}", campaign_id=f"c{key % 5}", entity_id=adset, day=at.date(),
                            spend=Money(amount_minor=2_000 * (snapshot + 1), currency="USD"),
                            impressions=1_000 * (snapshot + 1), clicks=20 * (snapshot + 1))


def final_spend(snapshots: list[SpendReported]) -> tuple[int, int]:
    """(rows, total) ``spend_daily`` holds once every snapshot is applied: the newest per day wins."""
    newest: dict[tuple[str, str, object], SpendReported] = {}
    for s in snapshots:
        key = (s.tenant_id, s.entity_id, s.day)
        if key not in newest or newest[key].occurred_at <= s.occurred_at:
            newest[key] = s
    return len(newest), sum(s.spend.amount_minor for s in newest.values())


async def measure(settings: Settings, deals: int) -> dict[str, float]:
    """Events applied per second, and what the stage credited on the way."""
    stage_changes = list(conversions(deals))
    snapshots = list(spend(len(stage_changes) // 4))
    batch: list[Envelope] = [*stage_changes, *snapshots]
    await produce(settings, batch)
    rows, total = final_spend(snapshots)
    runner = StageRunner([RevenueStage()], settings, clock=ManualClock(T0 + timedelta(days=30)))
    conn = await connect(settings)
    await runner.start()
    try:
        started = 0.0
        while True:
            claimed = await conn.fetchval("SELECT count(*) FROM inbox WHERE consumer = $1", CONSUMER)
            spent = await conn.fetchrow("SELECT count(*) AS n, coalesce(sum(spend_minor), 0) AS total"
                                        " FROM spend_daily")
            if (claimed or spent["n"]) and not started:
                started = time.perf_counter()
            if claimed >= len(stage_changes) and (spent["n"], spent["total"]) == (rows, total):
                break
            await asyncio.sleep(0.01)
        rate = len(batch) / (time.perf_counter() - started)
        credits = await conn.fetchval("SELECT count(*) FROM revenue_ledger")
    finally:
        await runner.stop()
        await conn.close()
    return {"events_per_s": rate, "stage_changes": len(stage_changes), "spend": len(snapshots),
            "credits": int(credits)}


async def main(deals: int, as_json: bool) -> None:
    from streams.lab.dev.runtime import local_infrastructure

    with local_infrastructure() as (bootstrap, url):
        baseline = await measure_batched_passthrough(bootstrap, 20_000)
        async with bench_settings(bootstrap, url) as settings:
            result = await measure(settings, deals)
    rate = result["events_per_s"]
    if as_json:
        print(json.dumps({"benchmark": "revenue", "deals": deals, "stage_changes": result["stage_changes"],
                          "spend": result["spend"], "credits": result["credits"],
                          "batched_baseline": round(baseline), "events_per_s": round(rate),
                          "ratio": round(rate / baseline, 3)}))
        return
    print(f"{'measure':<44}{'msgs/s':>10}{'ratio':>9}")
    print(f"{'batched aiokafka pass-through (baseline)':<44}{baseline:>10.0f}{1:>9.3f}")
    print(f"{'revenue stage (stage changes + spend)':<44}{rate:>10.0f}{rate / baseline:>9.3f}")
    print(f"{result['stage_changes']} stage changes, {result['spend']} spend snapshots, "
          f"{result['credits']} credits in the ledger")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--deals", type=int, default=4_000)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    asyncio.run(main(args.deals, args.json))
