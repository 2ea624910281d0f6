"""The insights poller describes each ad set it discovers once: its creative read from the Graph API
stand-in, features and a local embedding recorded where the priors read them, one CreativeDescribed."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import pytest

from schemas import decode_as
from schemas.events import CreativeDescribed
from schemas.topics import CREATIVES
from streams.core.settings import Settings
from streams.ingest import context
from streams.ingest.insights_poller import InsightsPoller
from streams.ingest.settings import IngestSettings
from streams.lab.sandbox.meta import create_meta_app
from streams.lab.sandbox.meta_state import InsightsRow, MetaCreative, MetaState
from streams.priors.creatives import DEFAULT_EMBEDDER, load_features
from tests.helpers import read_records
from tests.ingest.conftest import ingress
from tests.ingest.test_insights_poller import TODAY, FrozenDay, meta_settings

HEADLINE = "Book a demo of the CRM"
MESSAGE = "See how Acme closes deals twice as fast"
LINK = "https://acme.test/demo?email=jane.doe@example.com"


@pytest.fixture
def meta() -> MetaState:
    """act_1: as1 runs a video ad with a creative, as2 an ad without one (made before creatives existed)."""
    state = MetaState(clock=lambda: TODAY)
    state.add_account("act_1", currency="EUR")
    state.add_campaign("c1", "act_1").objective = "OUTCOME_LEADS"
    for adset in ("as1", "as2"):
        state.add_adset(adset, "c1", daily_budget=5_000)
    state.adsets["as1"].targeting = {"geo_locations": {"countries": ["DE"]}, "age_min": 25, "age_max": 54,
                                     "publisher_platforms": ["instagram"], "instagram_positions": ["reels"],
                                     "device_platforms": ["mobile"]}
    state.adsets["as1"].optimization_goal = "LEAD_GENERATION"
    cta = {"type": "BOOK_NOW", "value": {"link": LINK}}
    state.media.creatives["cr1"] = MetaCreative("cr1", "1", "Demo creative", {
        "page_id": "987654321012", "video_data": {"video_id": "v1", "title": HEADLINE, "message": MESSAGE,
                                        "image_url": "https://cdn.acme.test/t.jpg", "call_to_action": cta}})
    state.add_ad("ad1", "as1").creative_id = "cr1"
    state.add_ad("ad2", "as2")
    for adset in ("as1", "as2"):
        state.record_insights(InsightsRow(date(2026, 5, 3), "1", "c1", adset, "ad-x", 1_000, 900, 30, 2))
    return state


def ads_reads(meta: MetaState, adset: str) -> int:
    return sum(1 for method, path, _ in meta.requests if method == "GET" and path.endswith(f"/{adset}/ads"))


async def described(settings: Settings, min_count: int = 1) -> list[CreativeDescribed]:
    return [decode_as(r.value, CreativeDescribed) for r in await read_records(settings, CREATIVES,
                                                                               min_count=min_count, timeout=10)]


async def test_a_discovered_ad_set_is_described_once_across_polls_and_a_restart(
        settings: Settings, meta: MetaState, db_pool: Any) -> None:
    config = IngestSettings(insights_accounts="acme=act_1", insights_lookback_days=1)
    transports = context.Transports(meta=httpx.ASGITransport(app=create_meta_app(meta)))
    async with ingress(settings, config, transports, clock=FrozenDay(), **meta_settings(meta)) as ing:
        first = await described(settings)  # the poll loop runs as soon as the stage starts
        poller: InsightsPoller = ing.stage.running().poller
        await poller.poll_once()
        await poller.poll_once()
    async with ingress(settings, config, transports, clock=FrozenDay(), **meta_settings(meta)) as ing:
        await ing.stage.running().poller.poll_once()  # a restarted poller remembers nothing in memory
    events = await described(settings)
    assert len(events) == 1 and events == first
    event = events[0]
    assert (event.tenant_id, event.entity_id, event.campaign_id, event.group_id, event.ad_id) == (
        "acme", "as1", "c1", "c1", "ad1")
    f = event.features
    assert (f.creative_type, f.call_to_action, f.objective, f.placement, f.device) == (
        "video", "book_demo", "leads", "reels", "mobile")
    assert (f.headline_length, f.age_min, f.age_max, f.country, f.audience) == (len(HEADLINE), 25, 54, "DE", "broad")
    assert event.embedder == DEFAULT_EMBEDDER.name and len(event.embedding) == DEFAULT_EMBEDDER.dim
    assert ads_reads(meta, "as1") == 1  # described ad sets are not read again, not even after the restart
    assert ads_reads(meta, "as2") == 2  # no creative yet: asked again only after RECHECK (once per process)
    async with db_pool.acquire() as conn:
        rows = await load_features(conn, "acme", embedder=DEFAULT_EMBEDDER.name)
    assert set(rows) == {"as1"} and rows["as1"].call_to_action == "book_demo" and rows["as1"].embedding is not None


async def test_the_description_carries_no_copy_link_page_or_token(settings: Settings, meta: MetaState) -> None:
    config = IngestSettings(insights_accounts="acme=act_1", insights_lookback_days=1)
    transports = context.Transports(meta=httpx.ASGITransport(app=create_meta_app(meta)))
    async with ingress(settings, config, transports, clock=FrozenDay(), **meta_settings(meta)):
        records = await read_records(settings, CREATIVES, min_count=1, timeout=10)
    raw = records[0].value.decode()
    for secret in (meta.access_token, meta.app_secret, meta.proof(), "jane.doe", "acme.test", HEADLINE, MESSAGE,
                   "cr1", "987654321012"):
        assert secret not in raw, secret
