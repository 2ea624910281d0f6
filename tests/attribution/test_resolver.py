"""Deals decided once: out-of-order clicks, redeliveries, expiry, late clicks, catalog learning."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg

from schemas import ConversionAttributed
from schemas.topics import CONVERSIONS
from streams.attribution.app import AttributionStage
from streams.core.clock import ManualClock
from streams.core.settings import Settings
from tests.attribution.factories import FAST, T0, click, conversions, stage
from tests.helpers import read_events, running_stages, wait_until


def count(pool: asyncpg.Pool[Any], sql: str, expected: int) -> Any:
    async def check() -> bool:
        return bool(await pool.fetchval(sql) == expected)

    return check


async def test_a_deal_before_its_click_waits_and_attributes_when_the_click_arrives(
    settings: Settings, db_pool: asyncpg.Pool[Any]
) -> None:
    async with running_stages(settings, [AttributionStage(FAST)], clock=ManualClock(T0)) as runner:
        publish = runner.resources.publisher.publish
        first = stage("d1", "appointmentscheduled", click_id="c-late")
        await publish(first)
        await publish(first)  # redelivered while pending: still one pending row, one conversion
        await publish(stage("d1", "contractsent", at=T0 + timedelta(minutes=1)))
        await wait_until(count(db_pool, "SELECT count(*) FROM pending_stage_events", 2))
        await publish(click("c-late", "ad-9", at=T0 - timedelta(minutes=30)))
        got = await conversions(settings, 2)
        await wait_until(count(db_pool, "SELECT count(*) FROM pending_stage_events", 0))
        # a later stage reuses the decision, even though a fresher click on another ad now matches too
        await publish(click("c-other", "ad-7", at=T0 + timedelta(minutes=2), device_id="dev"))
        await publish(stage("d1", "closedwon", at=T0 + timedelta(minutes=3), device_id="dev"))
        await publish(stage("d1", "closedwon", at=T0 + timedelta(minutes=3), event_id="stage-won-dup",
                            device_id="dev"))
        await publish(stage("d1", "closedwon", at=T0 + timedelta(minutes=3), event_id="stage-won-dup",
                            device_id="dev"))
        got = await conversions(settings, 4)
    assert [(c.stage_id, c.method, c.ad_id, c.click_id) for c in got] == [
        ("appointmentscheduled", "url", "ad-9", "c-late"),
        ("contractsent", "url", "ad-9", "c-late"),
        ("closedwon", "url", "ad-9", "c-late"),
        ("closedwon", "url", "ad-9", "c-late"),
    ]
    assert len({c.event_id for c in got}) == 4  # one conversion per distinct stage event, none for redeliveries
    assert got[0].latency_seconds == 1800.0
    assert await db_pool.fetchval("SELECT count(*) FROM deal_attributions") == 1


async def test_after_the_bound_a_deal_is_emitted_unattributed_and_stays_so(
    settings: Settings, db_pool: asyncpg.Pool[Any]
) -> None:
    clock = ManualClock(T0)
    async with running_stages(settings, [AttributionStage(FAST)], clock=clock) as runner:
        publish = runner.resources.publisher.publish
        await publish(stage("lonely", fbclid="fb-never"))
        await wait_until(count(db_pool, "SELECT count(*) FROM pending_stage_events", 1))
        clock.advance(FAST.pending_seconds - 1)
        await publish(stage("other", fbclid="fb-2"))  # keeps the stage busy while the clock moves
        await wait_until(count(db_pool, "SELECT count(*) FROM pending_stage_events", 2))
        assert await db_pool.fetchval("SELECT count(*) FROM deal_attributions") == 0
        clock.advance(2)
        await wait_until(count(db_pool, "SELECT count(*) FROM deal_attributions WHERE deal_id = 'lonely'", 1))
        await publish(click("late", fbclid="fb-never", at=T0 - timedelta(minutes=1)))
        await publish(stage("lonely", "closedwon", at=T0 + timedelta(minutes=5)))
        got = await conversions(settings, 2)
        await publish(click("c2", fbclid="fb-2", at=T0 - timedelta(minutes=1)))  # 'other' is still within bound
        got = await conversions(settings, 3)
    by_stage = [(c.deal_id, c.stage_id, c.method) for c in got]
    assert by_stage.count(("lonely", "appointmentscheduled", "none")) == 1
    assert ("lonely", "closedwon", "none") in by_stage  # decided once: the late click changes nothing
    assert ("other", "appointmentscheduled", "url") in by_stage
    assert all(c.confidence == 0 and c.ad_id is None for c in got if c.method == "none")


async def test_a_click_on_an_uncatalogued_ad_is_credited_once_the_catalog_learns_the_ad(
    settings: Settings, db_pool: asyncpg.Pool[Any]
) -> None:
    async with running_stages(settings, [AttributionStage(FAST)], clock=ManualClock(T0)) as runner:
        publish = runner.resources.publisher.publish
        await publish(click("redirect", "ad-new", hierarchy=False))
        await wait_until(count(db_pool, "SELECT count(*) FROM clicks", 1))
        await publish(stage("d1", click_id="redirect"))
        await wait_until(count(db_pool, "SELECT count(*) FROM pending_stage_events WHERE waiting_ad_id = 'ad-new'", 1))
        await publish(click("producer", "ad-new", at=T0 - timedelta(days=3)))  # carries ad set and campaign
        (got,) = await conversions(settings, 1)
    assert (got.method, got.click_id, got.ad_id, got.adset_id, got.campaign_id) == (
        "url", "redirect", "ad-new", "s-ad-new", "camp1"
    )


async def test_spend_teaches_the_allocation_group_of_an_ad_set(settings: Settings, db_pool: asyncpg.Pool[Any]) -> None:
    from schemas import Money, SpendReported

    report = SpendReported(event_id="sp1", tenant_id="acme", occurred_at=T0, group_id="account-1",
                           campaign_id="camp1", entity_id="s-ad1", day=T0.date(),
                           spend=Money(amount_minor=100, currency="USD"), impressions=1, clicks=1)
    async with running_stages(settings, [AttributionStage(FAST.model_copy(update={"pending_seconds": 0}))],
                              clock=ManualClock(T0)) as runner:
        await runner.resources.publisher.publish(report)
        await wait_until(count(db_pool, "SELECT count(*) FROM entity_groups", 1))
        await runner.resources.publisher.publish(click("c1"))
        await wait_until(count(db_pool, "SELECT count(*) FROM clicks", 1))
        await runner.resources.publisher.publish(stage("d1", click_id="c1"))
        events = await read_events(settings, CONVERSIONS, min_count=1)
    (got,) = [e for e in events if isinstance(e, ConversionAttributed)]
    assert (got.campaign_id, got.group_id) == ("camp1", "account-1")
