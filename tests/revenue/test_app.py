"""The revenue stage on the real broker: conversions in, exact RevenueRecognized out, ROAS per day."""

from __future__ import annotations

from datetime import date
from typing import Any

import asyncpg

from schemas import Money, RevenueRecognized, SpendReported
from schemas.topics import REVENUE
from streams.core.settings import Settings
from streams.revenue.app import RevenueStage
from tests.helpers import read_events, running_stages, wait_until
from tests.revenue.factories import T0, conversion, unattributed


def spend(entity: str, amount: int, at_minute: int, day: date = date(2026, 5, 1)) -> SpendReported:
    return SpendReported(
        event_id=f"spend-{entity}-{day}-{at_minute}", tenant_id="acme", occurred_at=T0.replace(minute=at_minute),
        group_id="camp1", campaign_id="camp1", entity_id=entity, day=day,
        spend=Money(amount_minor=amount, currency="USD"), impressions=1000, clicks=10,
    )


async def test_sequences_credit_exactly_and_redeliveries_change_nothing(
    settings: Settings, db_pool: asyncpg.Pool[Any]
) -> None:
    sequences = {
        "full": [conversion("full", "appointmentscheduled"), conversion("full", "presentationscheduled"),
                 conversion("full", "closedwon", amount=720_000)],
        "skip": [conversion("skip", "qualifiedtobuy"), conversion("skip", "closedwon")],
        "back": [conversion("back", "contractsent"), conversion("back", "appointmentscheduled")],
        "lost": [conversion("lost", "decisionmakerboughtin"), conversion("lost", "closedlost")],
        "half": [conversion("half", "contractsent", confidence=0.467)],
    }
    async with running_stages(settings, [RevenueStage()]) as runner:
        publish = runner.resources.publisher.publish
        for events in sequences.values():
            for event in events:
                await publish(event)
        await publish(sequences["full"][1])  # a redelivered conversion
        await publish(sequences["lost"][1])
        await publish(unattributed("organic", "closedwon"))
        await wait_until(lambda: db_pool.fetchval("SELECT count(*) = 11 FROM inbox WHERE consumer = 'revenue'"))
        await wait_until(lambda: db_pool.fetchval("SELECT count(*) = 9 FROM revenue_ledger"))

    revenue = [e for e in await read_events(settings, REVENUE, min_count=9) if isinstance(e, RevenueRecognized)]
    got: dict[str, list[tuple[str, int, int]]] = {}
    for event in revenue:
        got.setdefault(event.deal_id, []).append((event.kind, event.amount.amount_minor, event.credited_total_minor))
    assert got == {
        "full": [("synthetic", 50_000, 50_000), ("synthetic", 100_000, 150_000), ("actual", 570_000, 720_000)],
        "skip": [("synthetic", 50_000, 50_000), ("synthetic", 450_000, 500_000)],
        "back": [("synthetic", 150_000, 150_000)],
        "lost": [("synthetic", 150_000, 150_000), ("reversal", -150_000, 0)],
        "half": [("synthetic", 70_050, 70_050)],
    }
    assert len(revenue) == 9  # nothing for the duplicates, nothing for the unattributed deal
    assert all(r.group_id == "camp1" and r.adset_id == "s1" for r in revenue)
    sums = dict(await db_pool.fetch("SELECT deal_id, sum(amount_minor) FROM revenue_ledger GROUP BY deal_id"))
    assert sums == {"full": 720_000, "skip": 500_000, "back": 150_000, "lost": 0, "half": 70_050}


async def test_roas_per_adset_and_day_divides_credited_revenue_by_the_latest_spend_snapshot(
    settings: Settings, db_pool: asyncpg.Pool[Any]
) -> None:
    async with running_stages(settings, [RevenueStage()]) as runner:
        publish = runner.resources.publisher.publish
        await publish(spend("s1", 10_000, at_minute=5))
        await publish(spend("s1", 40_000, at_minute=30))  # a later snapshot of the same day: replaces
        await publish(spend("s1", 20_000, at_minute=10))  # an older snapshot arriving late: ignored
        await publish(spend("s2", 5_000, at_minute=5))
        await publish(conversion("d1", "contractsent", adset="s1"))
        await publish(conversion("d2", "appointmentscheduled", adset="s1"))
        await wait_until(lambda: db_pool.fetchval("SELECT count(*) = 2 FROM revenue_ledger"))
        await wait_until(lambda: db_pool.fetchval("SELECT count(*) = 2 FROM spend_daily"))
        await wait_until(lambda: db_pool.fetchval("SELECT spend_minor = 40000 FROM spend_daily WHERE entity_id = 's1'"))

    rows = {r["adset_id"]: r for r in await db_pool.fetch("SELECT * FROM adset_daily_roas ORDER BY adset_id")}
    assert rows["s1"]["day"] == date(2026, 5, 1)
    assert (rows["s1"]["revenue_minor"], rows["s1"]["spend_minor"], rows["s1"]["deals"]) == (200_000, 40_000, 2)
    assert rows["s1"]["roas"] == 5.0
    assert (rows["s2"]["revenue_minor"], rows["s2"]["spend_minor"], rows["s2"]["roas"]) == (0, 5_000, 0.0)
