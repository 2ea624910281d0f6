"""POST /v1/clicks: per-tenant API keys, per-item errors by index, valid items on the broker."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from schemas import AdClicked, decode_as
from schemas.topics import CLICKS
from streams.core.hashing import keyed_hash
from streams.core.settings import Settings
from streams.ingest import api_keys
from streams.ingest.settings import IngestSettings
from tests.helpers import read_records
from tests.ingest.conftest import ingress, stop_producer


def item(n: int, **extra: Any) -> dict[str, Any]:
    return {"click_id": f"k{n}", "ad_id": "ad1", "occurred_at": "2026-05-01T10:00:00Z"} | extra


@pytest.fixture
async def key(db_pool: asyncpg.Pool[Any]) -> str:
    return await api_keys.issue(db_pool, "acme", "site tracker")


async def clicks_on_broker(settings: Settings, min_count: int = 0) -> list[AdClicked]:
    records = await read_records(settings, CLICKS, min_count=min_count, timeout=5)
    return [decode_as(r.value, AdClicked) for r in records]


async def test_a_valid_batch_is_published_for_the_keys_tenant_with_identifiers_hashed(
        settings: Settings, key: str) -> None:
    batch = [item(1, email=" Jane@Example.COM ", ip="198.51.100.4", user_agent="UA/1")]
    async with ingress(settings) as ing:
        response = await ing.client.post("/v1/clicks", json=batch, headers={"X-Api-Key": key})
    assert response.status_code == 200 and response.json()["accepted"] == 1
    [click] = await clicks_on_broker(settings, 1)
    assert (click.tenant_id, click.event_id, click.click_id) == ("acme", "click-acme-k1", "k1")
    assert click.email_hash == keyed_hash(settings.hash_key, "jane@example.com")
    assert click.ip_hash == keyed_hash(settings.hash_key, "198.51.100.4")


async def test_invalid_items_are_reported_by_index_while_valid_ones_are_published(
        settings: Settings, key: str) -> None:
    batch = [item(1), item(2, occurred_at="yesterday"), item(3, tenant_id="globex"), "nope", item(5)]
    async with ingress(settings) as ing:
        response = await ing.client.post("/v1/clicks", json={"clicks": batch},
                                         headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 207
    body = response.json()
    assert body["accepted"] == 2
    assert [r["index"] for r in body["rejected"]] == [1, 2, 3]
    assert "occurred_at" in body["rejected"][0]["error"] and "tenant_id" in body["rejected"][1]["error"]
    assert sorted(c.click_id for c in await clicks_on_broker(settings, 2)) == ["k1", "k5"]


async def test_a_retried_batch_republishes_the_same_event_ids(settings: Settings, key: str) -> None:
    async with ingress(settings) as ing:
        for _ in range(2):
            await ing.client.post("/v1/clicks", json=[item(1)], headers={"X-Api-Key": key})
    assert {c.event_id for c in await clicks_on_broker(settings, 2)} == {"click-acme-k1"}


async def test_missing_unknown_and_revoked_keys_get_401(settings: Settings, key: str,
                                                        db_pool: asyncpg.Pool[Any]) -> None:
    async with ingress(settings) as ing:
        none = await ing.client.post("/v1/clicks", json=[item(1)])
        wrong = await ing.client.post("/v1/clicks", json=[item(1)], headers={"X-Api-Key": key + "x"})
        assert await api_keys.revoke(db_pool, key)
        revoked = await ing.client.post("/v1/clicks", json=[item(1)], headers={"X-Api-Key": key})
    assert [r.status_code for r in (none, wrong, revoked)] == [401, 401, 401]
    assert await db_pool.fetchval("SELECT count(*) FROM click_api_keys WHERE key_hash = $1", key) == 0  # hashed


async def test_malformed_oversized_and_too_long_batches_are_refused(settings: Settings, key: str) -> None:
    config = IngestSettings(click_batch_max_items=3, click_batch_max_bytes=2048)
    headers = {"X-Api-Key": key}
    async with ingress(settings, config) as ing:
        not_json = await ing.client.post("/v1/clicks", content=b"[{", headers=headers)
        not_list = await ing.client.post("/v1/clicks", json={"click": 1}, headers=headers)
        too_many = await ing.client.post("/v1/clicks", json=[item(n) for n in range(4)], headers=headers)
        too_big = await ing.client.post("/v1/clicks", json=[item(1, referrer="r" * 1990)] * 2, headers=headers)
    assert [r.status_code for r in (not_json, not_list, too_many, too_big)] == [400, 400, 413, 413]
    assert await clicks_on_broker(settings) == []


async def test_rate_limit_counts_clicks_not_requests(settings: Settings, key: str) -> None:
    async with ingress(settings, IngestSettings(rate_limit_per_second=0.1, rate_limit_burst=5)) as ing:
        first = await ing.client.post("/v1/clicks", json=[item(n) for n in range(4)], headers={"X-Api-Key": key})
        second = await ing.client.post("/v1/clicks", json=[item(9), item(10)], headers={"X-Api-Key": key})
    assert (first.status_code, second.status_code) == (200, 429)
    assert int(second.headers["retry-after"]) >= 1


async def test_a_broker_outage_fails_the_batch_with_503(settings: Settings, key: str) -> None:
    async with ingress(settings, IngestSettings(publish_timeout_seconds=1)) as ing:
        await stop_producer(ing.runner)
        response = await ing.client.post("/v1/clicks", json=[item(1)], headers={"X-Api-Key": key})
    assert response.status_code == 503 and response.headers["retry-after"]
