"""The three matching layers end to end: clicks and deals on the real broker, decisions in PostgreSQL."""

from __future__ import annotations

from typing import Any

import asyncpg

from streams.attribution.app import build_stage
from streams.core.hashing import keyed_hash, normalize_email
from streams.core.settings import Settings
from tests.attribution.factories import FAST, by_deal, click, conversions, stage
from tests.helpers import running_stages, wait_until


async def test_each_layer_matches_with_its_confidence(settings: Settings, db_pool: asyncpg.Pool[Any]) -> None:
    email_hash = keyed_hash(settings.hash_key, normalize_email("Ann@Example.com"))
    clicks = [
        click("c-url", "ad-url"),
        click("c-fb", "ad-fb", fbclid="fb-123"),
        click("c-utm", "ad-utm"),
        click("c-mail", "ad-mail", email_hash=email_hash),
        click("c-dev", "ad-dev", device_id="device-9"),
        click("c-ip", "ad-ip", ip_hash="ip-1", user_agent_hash="ua-1"),
    ]
    deals = [
        stage("d-url", click_id="c-url"),
        stage("d-fb", fbclid="fb-123"),
        stage("d-utm", utm_ad_id="ad-utm"),
        stage("d-mail", email_hash=keyed_hash(settings.hash_key, normalize_email("  ann@EXAMPLE.com "))),
        stage("d-dev", device_id="device-9"),
        stage("d-ip", ip_hash="ip-1", user_agent_hash="ua-1"),
        stage("d-nothing", ip_hash="ip-unknown", user_agent_hash="ua-1"),
    ]
    async with running_stages(settings, [build_stage(FAST.model_copy(update={"pending_seconds": 0}))]) as runner:
        for c in clicks:
            await runner.resources.publisher.publish(c)
        await wait_until(lambda: db_pool.fetchval("SELECT count(*) = 6 FROM clicks"))
        for d in deals:
            await runner.resources.publisher.publish(d)
        got = by_deal(await conversions(settings, len(deals)))
    expected = {
        "d-url": ("url", "click_id", 1.0, "ad-url"),
        "d-fb": ("url", "fbclid", 1.0, "ad-fb"),
        "d-utm": ("url", "utm_ad_id", 1.0, "ad-utm"),
        "d-mail": ("fingerprint", "email", 0.9, "ad-mail"),
        "d-dev": ("fingerprint", "device_id", 0.9, "ad-dev"),
        "d-ip": ("probabilistic", "ip_user_agent", 0.7, "ad-ip"),
        "d-nothing": ("none", "none", 0.0, None),
    }
    assert {k: (v.method, v.matched_on, v.confidence, v.ad_id) for k, v in got.items()} == expected
    assert got["d-url"].adset_id == "s-ad-url" and got["d-url"].campaign_id == "camp1"
    assert got["d-url"].group_id == "camp1"
    assert got["d-url"].latency_seconds == 3600.0
    assert got["d-url"].click_id == "c-url"
