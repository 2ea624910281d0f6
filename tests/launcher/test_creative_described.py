"""An ad the launcher creates is described for the priors: its creative, media and ad set as features and
a local embedding, recorded where the priors read them and published once on creatives.v1."""

from __future__ import annotations

from typing import Any

from schemas import decode_as
from schemas.events import CreativeDescribed
from schemas.topics import CREATIVES, LAUNCH_OUTCOMES
from streams.assets import AssetLibrary
from streams.core.settings import Settings
from streams.lab.sandbox.meta_state import MetaState
from streams.priors.creatives import DEFAULT_EMBEDDER, load_features
from tests.helpers import read_records
from tests.jwt_issuer import Issuer
from tests.launcher.conftest import meta_world, stack, store_accounts
from tests.launcher.test_launch_flow import adset, campaign, launch, video_ad

HEADLINE = "Close deals twice as fast"
MESSAGE = "Watch the two-minute demo"


async def test_a_created_video_ad_is_described_once_without_copy_link_page_or_token(
        settings: Settings, jwks_url: str, issuer: Issuer, meta_url: str, meta_state: MetaState,
        library: AssetLibrary, db_pool: Any) -> None:
    meta_world(meta_state)
    await store_accounts(settings, db_pool, ("acme", "act_11"))
    ad = video_ad("ad-1", "set-1")
    ad["spec"] |= {"headline": HEADLINE, "message": MESSAGE}
    async with stack(settings, jwks_url, meta_url, library) as s:
        c = await launch(s, issuer, campaign("camp-1"))
        a = await launch(s, issuer, adset("set-1", "camp-1"))
        made = await launch(s, issuer, ad)
        await read_records(settings, LAUNCH_OUTCOMES, min_count=3)
        records = await read_records(settings, CREATIVES, min_count=1)
    assert [x["status"] for x in (c, a, made)] == ["created"] * 3, made["error"]
    assert len(records) == 1  # the campaign and the ad set alone describe nothing: no creative yet
    event = decode_as(records[0].value, CreativeDescribed)
    adset_id, ad_id = a["created"]["adset_id"], made["created"]["ad_id"]
    campaign_id = c["created"]["campaign_id"]
    assert (event.tenant_id, event.entity_id, event.ad_id, event.campaign_id, event.group_id) == (
        "acme", adset_id, ad_id, campaign_id, campaign_id)
    f = event.features
    assert (f.creative_type, f.call_to_action, f.video_duration_s, f.aspect_ratio, f.headline_length) == (
        "video", "sign_up", 12.0, round(1080 / 1920, 4), len(HEADLINE))
    assert (f.objective, f.age_min, f.age_max, f.country, f.placement, f.audience) == (
        "leads", 25, 55, None, "auto", "broad")  # two countries: no single country
    assert event.embedder == DEFAULT_EMBEDDER.name and len(event.embedding) == DEFAULT_EMBEDDER.dim
    raw = records[0].value.decode()
    for secret in ("EAAB-token-11-secret", "app-secret-11", HEADLINE, MESSAGE, "acme.test", "go.acme.test",
                   made["created"]["creative_id"], made["created"]["video_id"]):
        assert secret not in raw, secret
    async with db_pool.acquire() as conn:
        rows = await load_features(conn, "acme", embedder=DEFAULT_EMBEDDER.name)
    assert set(rows) == {adset_id} and rows[adset_id].embedding is not None
    assert rows[adset_id].video_duration_s == 12.0


async def test_a_dry_run_ad_describes_nothing(
        settings: Settings, jwks_url: str, issuer: Issuer, meta_url: str, meta_state: MetaState,
        library: AssetLibrary, db_pool: Any) -> None:
    meta_world(meta_state)
    ad = video_ad("ad-dry", "set-dry")
    ad["account_id"] = "act_99"
    async with stack(settings, jwks_url, meta_url, library) as s:
        await launch(s, issuer, campaign("camp-dry", account="act_99"))
        await launch(s, issuer, adset("set-dry", "camp-dry", account="act_99"))
        row = await launch(s, issuer, ad)
    assert row["status"] == "dry_run"
    assert await db_pool.fetchval("SELECT count(*) FROM creative_features") == 0
