"""The three matching layers end to end: clicks and deals on the real broker, decisions in PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg

from streams.attribution.app import AttributionStage
from streams.core.clock import ManualClock
from streams.core.hashing import keyed_hash, normalize_email
from streams.core.settings import Settings
from tests.attribution.factories import FAST, T0, by_deal, click, conversions, stage
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
    async with running_stages(settings, [AttributionStage(FAST.model_copy(update={"pending_seconds": 0}))],
                              clock=ManualClock(T0)) as runner:
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


async def test_the_tenant_window_is_respected_and_ip_ua_conflicts_lower_confidence(
    settings: Settings, db_pool: asyncpg.Pool[Any]
) -> None:
    await db_pool.execute("INSERT INTO tenants (tenant_id, attribution_window_days) VALUES ('short', 1)")
    clicks = [
        click("old", "ad-a", at=T0 - timedelta(days=2), tenant="short", device_id="dev-old"),
        click("old7", "ad-a", at=T0 - timedelta(days=2), device_id="dev-old"),  # acme: default 7 days
        click("recent", "ad-a", at=T0 - timedelta(hours=12), tenant="short", device_id="dev-new"),
        click("future", "ad-a", at=T0 + timedelta(hours=1), device_id="dev-future"),  # after the conversion
        # three clicks from one IP + user agent, two on ad-b (the most recent), one on ad-c
        click("p1", "ad-c", at=T0 - timedelta(hours=3), ip_hash="office", user_agent_hash="chrome"),
        click("p2", "ad-b", at=T0 - timedelta(hours=2), ip_hash="office", user_agent_hash="chrome"),
        click("p3", "ad-b", at=T0 - timedelta(hours=1), ip_hash="office", user_agent_hash="chrome"),
        # URL beats fingerprint: this click shares the email of another, more recent one
        click("url-click", "ad-url", at=T0 - timedelta(days=1), email_hash="e1"),
        click("mail-click", "ad-mail", at=T0 - timedelta(minutes=5), email_hash="e1"),
    ]
    deals = [
        stage("d-old", tenant="short", device_id="dev-old"),
        stage("d-old7", device_id="dev-old"),
        stage("d-recent", tenant="short", device_id="dev-new"),
        stage("d-future", device_id="dev-future"),
        stage("d-office", ip_hash="office", user_agent_hash="chrome"),
        stage("d-first", click_id="url-click", email_hash="e1"),
    ]
    async with running_stages(settings, [AttributionStage(FAST.model_copy(update={"pending_seconds": 0}))],
                              clock=ManualClock(T0)) as runner:
        for c in clicks:
            await runner.resources.publisher.publish(c)
        await wait_until(lambda: db_pool.fetchval(f"SELECT count(*) = {len(clicks)} FROM clicks"))
        for d in deals:
            await runner.resources.publisher.publish(d)
        got = by_deal(await conversions(settings, len(deals)))
    assert got["d-old"].method == "none"  # 2 days before, tenant window 1 day
    assert (got["d-old7"].method, got["d-old7"].click_id) == ("fingerprint", "old7")
    assert (got["d-recent"].method, got["d-recent"].click_id) == ("fingerprint", "recent")
    assert got["d-future"].method == "none"  # an hour after the conversion: beyond the clock skew
    office = got["d-office"]
    assert (office.method, office.click_id, office.ad_id) == ("probabilistic", "p3", "ad-b")
    assert office.confidence == round(0.7 * 2 / 3, 4)
    assert (got["d-first"].matched_on, got["d-first"].ad_id) == ("click_id", "ad-url")
