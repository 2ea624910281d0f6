"""The insights poller against the sandbox Graph API: snapshots on spend.v1, no double spend."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any, cast

import httpx
import pytest
from pydantic import SecretStr

from schemas import SpendReported, decode_as
from schemas.topics import SPEND
from streams.core.clock import ManualClock
from streams.core.settings import Settings
from streams.ingest import context
from streams.ingest.insights_poller import InsightsPoller
from streams.ingest.settings import IngestSettings
from streams.lab.sandbox.meta import create_meta_app
from streams.lab.sandbox.meta_state import InsightsRow, MetaState
from tests.helpers import read_records
from tests.ingest.conftest import ingress

TODAY = datetime(2026, 5, 3, 15, tzinfo=UTC)
GRAPH = "https://graph.sandbox.test"


class FrozenDay:
    """Meta's "today" stays put while the poll loop really sleeps (a ManualClock would spin it)."""

    def now(self) -> datetime:
        return TODAY

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@pytest.fixture
def meta() -> MetaState:
    state = MetaState(clock=lambda: TODAY)
    state.add_account("act_1", currency="EUR")
    state.add_campaign("c1", "act_1")
    for adset in ("as1", "as2", "as3"):
        state.add_adset(adset, "c1", daily_budget=5_000)
    for day in (1, 2, 3):
        for n, adset in enumerate(("as1", "as2", "as3")):
            state.record_insights(InsightsRow(date(2026, 5, day), "1", "c1", adset, f"ad-{adset}",
                                              spend_minor=1_000 * (n + 1) + day, impressions=900, clicks=30, leads=2))
    return state


def meta_settings(meta: MetaState) -> dict[str, Any]:
    return {"meta_access_token": SecretStr(meta.access_token), "meta_app_secret": SecretStr(meta.app_secret),
            "meta_graph_url": GRAPH}


async def spend_events(settings: Settings, min_count: int = 0) -> list[SpendReported]:
    return [decode_as(r.value, SpendReported) for r in await read_records(settings, SPEND, min_count=min_count,
                                                                          timeout=5)]


async def test_polling_publishes_one_snapshot_per_ad_set_and_day_and_a_repoll_adds_nothing(
        settings: Settings, meta: MetaState) -> None:
    config = IngestSettings(insights_accounts="acme=act_1", insights_lookback_days=3)
    transports = context.Transports(meta=httpx.ASGITransport(app=create_meta_app(meta)))
    async with ingress(settings, config, transports, clock=FrozenDay(), **meta_settings(meta)) as ing:
        events = await spend_events(settings, 9)  # the poll loop runs as soon as the stage starts
        poller: InsightsPoller = ing.stage.running().poller
        assert await poller.poll_once() == 0  # same window, same numbers: nothing new
        meta.record_insights(InsightsRow(date(2026, 5, 3), "1", "c1", "as1", "ad-as1", 500, 100, 5, 0))
        assert await poller.poll_once() == 1  # Meta revised today's as1 spend
        poller.page_limit = 2
        paged = await poller.fetch("act_1", date(2026, 5, 1), date(2026, 5, 3))
    assert len(events) == 9
    first = {(e.entity_id, e.day): e for e in events}
    as1 = first[("as1", date(2026, 5, 1))]
    assert (as1.tenant_id, as1.group_id, as1.campaign_id, as1.account_id) == ("acme", "c1", "c1", "act_1")
    assert (as1.spend.amount_minor, as1.spend.currency, as1.impressions, as1.clicks) == (1_001, "EUR", 900, 30)
    assert as1.platform_results["lead"] == 2
    everything = await spend_events(settings, 10)
    revised = [e for e in everything if (e.entity_id, e.day) == ("as1", date(2026, 5, 3))]
    assert [e.spend.amount_minor for e in revised] == [1_003, 1_503]
    assert revised[0].event_id != revised[1].event_id
    assert len(paged) == 9  # five pages of two, followed through paging.next


async def test_event_ids_are_stable_for_the_same_snapshot(settings: Settings, meta: MetaState,
                                                          db_pool: Any) -> None:
    config = IngestSettings(insights_accounts="acme=act_1", insights_lookback_days=1)
    transports = context.Transports(meta=httpx.ASGITransport(app=create_meta_app(meta)))
    async with ingress(settings, config, transports, clock=FrozenDay(), **meta_settings(meta)) as ing:
        await spend_events(settings, 3)
        poller: InsightsPoller = ing.stage.running().poller
        await db_pool.execute("DELETE FROM insights_snapshots")  # forget what was published
        assert await poller.poll_once() == 3
    events = await spend_events(settings, 6)
    assert len({e.event_id for e in events}) == 3  # republished with the same ids: downstream dedupes


def bare_poller(settings: Settings, transport: httpx.AsyncBaseTransport, clock: ManualClock) -> InsightsPoller:
    s = settings.model_copy(update={"meta_access_token": SecretStr("t"), "meta_app_secret": SecretStr("s"),
                                    "meta_graph_url": GRAPH})
    ctx = SimpleNamespace(res=SimpleNamespace(settings=s, clock=clock), config=IngestSettings(http_backoff_seconds=1))
    return InsightsPoller(cast(context.IngestContext, ctx), httpx.AsyncClient(transport=transport))


async def test_throttling_errors_wait_as_long_as_meta_says(meta: MetaState) -> None:
    meta.faults.fail_next("throttle_80004", retry_after_seconds=120)
    clock = ManualClock(TODAY)
    settings = Settings(meta_access_token=SecretStr(meta.access_token), meta_app_secret=SecretStr(meta.app_secret))
    poller = bare_poller(settings, httpx.ASGITransport(app=create_meta_app(meta)), clock)
    poller.auth = {"access_token": meta.access_token, "appsecret_proof": meta.proof()}
    rows = await poller.fetch("act_1", date(2026, 5, 1), date(2026, 5, 3))
    assert len(rows) == 9
    assert (clock.now() - TODAY).total_seconds() >= 120


async def test_high_usage_headers_slow_the_poller_down_before_a_block() -> None:
    usage = {"acc_id_util_pct": 95, "reset_time_duration": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"data": []}, headers={"X-Ad-Account-Usage": json.dumps(usage)})

    clock = ManualClock(TODAY)
    poller = bare_poller(Settings(), httpx.MockTransport(handler), clock)
    await poller.fetch("act_1", date(2026, 5, 1), date(2026, 5, 1))
    assert (clock.now() - TODAY).total_seconds() >= 60
