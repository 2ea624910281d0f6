"""GET /c/{tenant}/{ad}: the click is on the broker, hashed, and the visitor lands with rl_cid."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest

from schemas import AdClicked, decode_as
from schemas.topics import CLICKS
from streams.core.hashing import keyed_hash
from streams.core.settings import Settings
from streams.ingest.clicks import host_allowed
from streams.ingest.settings import IngestSettings
from tests.helpers import read_records
from tests.ingest.conftest import ingress, stop_producer

UA = "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"
LANDING = "https://shop.acme.test/offer?utm_source=facebook&utm_campaign=spring&utm_id=ad7"


@pytest.fixture
async def tenant(db_pool: asyncpg.Pool[Any]) -> None:
    await db_pool.execute(
        "INSERT INTO tenants (tenant_id, landing_hosts) VALUES ('acme', ARRAY['shop.acme.test', '*.acme.io'])"
    )


async def clicks_on_broker(settings: Settings, min_count: int = 0) -> list[AdClicked]:
    return [decode_as(r.value, AdClicked) for r in await read_records(settings, CLICKS, min_count=min_count,
                                                                       timeout=5)]


async def test_a_click_is_recorded_hashed_and_redirected_with_its_click_id(settings: Settings, tenant: None) -> None:
    async with ingress(settings) as ing:
        response = await ing.client.get("/c/acme/ad7", params={"url": LANDING, "fbclid": "IwAR0abc"},
                                        headers={"User-Agent": UA, "Referer": "https://m.facebook.com/"})
    assert response.status_code == 302
    target = urlsplit(response.headers["location"])
    assert (target.netloc, target.path) == ("shop.acme.test", "/offer")
    query = parse_qs(target.query)
    assert query["utm_campaign"] == ["spring"]
    [click] = await clicks_on_broker(settings, 1)
    assert query["rl_cid"] == [click.click_id]
    assert (click.tenant_id, click.ad_id, click.fbclid, click.utm.source, click.utm.id) == (
        "acme", "ad7", "IwAR0abc", "facebook", "ad7")
    key = settings.hash_key
    assert click.ip_hash == keyed_hash(key, "203.0.113.7")
    assert click.user_agent_hash == keyed_hash(key, UA)
    assert click.referrer == "https://m.facebook.com/"
    raw = (await read_records(settings, CLICKS, min_count=1))[0].value
    assert b"203.0.113.7" not in raw and b"Firefox" not in raw


async def test_hosts_off_the_allow_list_and_non_http_urls_get_400(settings: Settings, tenant: None) -> None:
    bad = ["https://evil.test/phish", "https://shop.acme.test.evil.test/", "javascript:alert(1)",
           "https://user@evil.test/", "//evil.test/", "https://acme.io.evil.test/"]
    async with ingress(settings) as ing:
        statuses = [(await ing.client.get("/c/acme/ad7", params={"url": u})).status_code for u in bad]
        missing = await ing.client.get("/c/acme/ad7")
        subdomain = await ing.client.get("/c/acme/ad7", params={"url": "https://eu.acme.io/x"})
    assert statuses == [400] * len(bad) and missing.status_code == 400
    assert subdomain.status_code == 302
    assert len(await clicks_on_broker(settings, 1)) == 1


async def test_an_unknown_tenant_gets_404(settings: Settings) -> None:
    async with ingress(settings) as ing:
        assert (await ing.client.get("/c/nobody/ad7", params={"url": LANDING})).status_code == 404


async def test_the_ad_catalog_fills_in_ad_set_and_campaign_when_it_exists(
        settings: Settings, tenant: None, db_pool: asyncpg.Pool[Any]) -> None:
    await db_pool.execute("CREATE TABLE IF NOT EXISTS ad_catalog (tenant_id text, ad_id text, adset_id text, "
                          "campaign_id text, learned_at timestamptz)")  # attribution's table (0002)
    await db_pool.execute("INSERT INTO ad_catalog (tenant_id, ad_id, adset_id, campaign_id, learned_at) "
                          "VALUES ('acme', 'ad7', 'as3', 'c1', now())")
    async with ingress(settings) as ing:
        await ing.client.get("/c/acme/ad7", params={"url": LANDING})
        await ing.client.get("/c/acme/ad8", params={"url": LANDING})
    by_ad = {c.ad_id: (c.adset_id, c.campaign_id) for c in await clicks_on_broker(settings, 2)}
    assert by_ad == {"ad7": ("as3", "c1"), "ad8": (None, None)}


async def test_a_tenant_over_its_rate_gets_429_with_retry_after(settings: Settings, tenant: None) -> None:
    async with ingress(settings, IngestSettings(rate_limit_per_second=0.5, rate_limit_burst=2)) as ing:
        statuses = [(await ing.client.get("/c/acme/ad7", params={"url": LANDING})) for _ in range(3)]
    assert [r.status_code for r in statuses] == [302, 302, 429]
    assert statuses[2].headers["retry-after"] == "2"


async def test_during_a_broker_outage_the_visitor_still_lands_without_a_click_id(
        settings: Settings, tenant: None) -> None:
    async with ingress(settings, IngestSettings(publish_timeout_seconds=1)) as ing:
        await stop_producer(ing.runner)
        response = await ing.client.get("/c/acme/ad7", params={"url": LANDING})
    assert response.status_code == 302 and response.headers["location"] == LANDING


def test_wildcard_hosts_match_subdomains_only() -> None:
    assert host_allowed("a.b.acme.io", ["*.acme.io"]) and host_allowed("SHOP.acme.test.", ["shop.acme.test"])
    assert not host_allowed("acme.io", ["*.acme.io"]) and not host_allowed("evilacme.io", ["*.acme.io"])
