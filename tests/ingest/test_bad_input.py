"""Every input the attack run of issue 19 answered with a 500 now gets a 4xx naming the problem
(or, in a signed HubSpot batch, a 200 that reports the bad items and publishes the good ones)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from schemas import DealStageChanged, decode_as
from schemas.topics import DEAL_STAGES
from streams.core.naming import topic_name
from streams.core.settings import Settings
from streams.ingest.settings import IngestSettings
from streams.lab.sandbox.hubspot_signing import signature_headers
from streams.lab.sandbox.hubspot_webhooks import deal_stage_event
from tests.helpers import read_records
from tests.ingest.conftest import SECRET, WEBHOOK_URL, ingress

PORTAL = 62515
LANDING = "https://shop.acme.test/offer"


@pytest.fixture
async def tenant(db_pool: asyncpg.Pool[Any]) -> None:
    await db_pool.execute("INSERT INTO tenants (tenant_id, landing_hosts) VALUES ('acme', ARRAY['shop.acme.test'])")
    await db_pool.execute("INSERT INTO hubspot_portals (portal_id, tenant_id) VALUES ($1, 'acme')", PORTAL)


def change(deal: int, **fields: Any) -> dict[str, Any]:
    event = deal_stage_event(deal_id=str(deal), stage_id="appointmentscheduled", portal_id=PORTAL, app_id=1,
                             subscription_id=2, occurred_at=datetime(2026, 5, 1, 9, tzinfo=UTC))
    return event | fields


def signed(body: bytes, **headers: str) -> dict[str, str]:
    return signature_headers(SECRET, "POST", WEBHOOK_URL, body, int(time.time() * 1000), versions=("v3",)) | headers


async def test_a_forged_timestamp_header_is_401_before_anything_is_parsed(settings: Settings, tenant: None) -> None:
    body = json.dumps([change(1)]).encode()
    async with ingress(settings) as ing:
        answers = [await ing.client.post("/webhooks/hubspot", content=body, headers=[
            ("X-HubSpot-Signature-v3", "AAAA"), ("X-HubSpot-Request-Timestamp", stamp)])
            for stamp in (b"\xb2", b"9" * 400, "١٢٣".encode(), b"")]
    assert [a.status_code for a in answers] == [401] * 4
    assert all("milliseconds" in a.json()["error"] for a in answers)


async def test_one_bad_item_in_a_signed_batch_is_reported_and_dead_lettered_while_the_good_ones_publish(
        settings: Settings, tenant: None) -> None:
    items = [change(1), change(2, objectId="not a deal/id"), change(3, propertyValue="s" * 201),
             change(4, occurredAt=10**17), change(5, portalId=2**63), "not an object", change(6)]
    body = json.dumps(items).encode()
    async with ingress(settings) as ing:
        answer = await ing.client.post("/webhooks/hubspot", content=body, headers=signed(body))
    assert answer.status_code == 200
    report = answer.json()
    assert (report["received"], report["published"], report["rejected"]) == (7, 2, 5)
    assert [e["index"] for e in report["errors"]] == [1, 2, 3, 4, 5]
    assert "deal_id" in report["errors"][0]["error"] and "stage_id" in report["errors"][1]["error"]
    assert "occurredAt" in report["errors"][2]["error"] and "portalId" in report["errors"][3]["error"]
    published = [decode_as(r.value, DealStageChanged).deal_id
                 for r in await read_records(settings, DEAL_STAGES, min_count=2)]
    assert sorted(published) == ["1", "6"]
    letters = await read_records(settings, topic_name(settings, DEAL_STAGES.dlq), min_count=5)
    assert sorted(int(dict(r.headers)["x-dlq-batch-index"]) for r in letters) == [1, 2, 3, 4, 5]


async def test_a_large_signed_batch_publishes_concurrently_within_its_budget(settings: Settings, tenant: None) -> None:
    items = [change(10_000 + n) for n in range(3000)]
    body = json.dumps(items).encode()
    config = IngestSettings(publish_timeout_seconds=8, webhook_max_body_bytes=2 * 1024 * 1024)
    async with ingress(settings, config) as ing:
        answer = await ing.client.post("/webhooks/hubspot", content=body, headers=signed(body))
    assert answer.status_code == 200 and answer.json()["published"] == 3000


async def test_json_nested_past_the_parsers_recursion_limit_is_400(settings: Settings, tenant: None) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    async with ingress(settings) as ing:
        webhook = await ing.client.post("/webhooks/hubspot", content=deep, headers=signed(deep))
    assert webhook.status_code in (400, 413)
    nested = b"[" * 10_000 + b"]" * 10_000
    async with ingress(settings, IngestSettings(webhook_max_body_bytes=1024 * 1024)) as ing:
        webhook = await ing.client.post("/webhooks/hubspot", content=nested, headers=signed(nested))
    assert webhook.status_code == 400


@pytest.mark.parametrize(("path", "params", "status"), [
    ("/c/acme/ad7", {"url": "http://[evil.com/"}, 400),
    ("/c/acme/ad7", {"url": "https://shop.acme.test:99999/"}, 400),
    ("/c/acme/ad7", {"url": "https://shop.acme.test/\x00"}, 400),
    ("/c/ac%00me/ad7", {"url": LANDING}, 404),
    ("/c/ACME/ad7", {"url": LANDING}, 404),
    ("/c/acme/ad 7", {"url": LANDING}, 400),
    ("/c/acme/" + "a" * 65, {"url": LANDING}, 400),
])
async def test_malformed_clicks_get_4xx(settings: Settings, tenant: None, path: str, params: dict[str, str],
                                        status: int) -> None:
    async with ingress(settings) as ing:
        answer = await ing.client.get(path, params=params)
    assert answer.status_code == status, answer.text


async def test_a_click_drops_parameters_with_control_characters_and_still_lands(
        settings: Settings, tenant: None) -> None:
    async with ingress(settings) as ing:
        answer = await ing.client.get("/c/acme/ad7", params={"url": LANDING, "fbclid": "a\x00b", "utm_source": "fb"})
    assert answer.status_code == 302
    [record] = await read_records(settings, "clicks.v1", min_count=1)
    assert b"\\u0000" not in record.value and b'"source":"fb"' in record.value


async def test_a_body_that_never_finishes_is_cut_off_with_408(settings: Settings, tenant: None) -> None:
    async def trickle() -> AsyncIterator[bytes]:
        yield b"["
        await asyncio.sleep(30)
        yield b"]"

    async with ingress(settings, IngestSettings(body_timeout_seconds=0.5)) as ing:
        started = time.monotonic()
        answer = await ing.client.post("/webhooks/hubspot", content=trickle())
    assert answer.status_code == 408 and time.monotonic() - started < 5


async def test_click_batches_refuse_deep_json_and_control_characters_per_item(
        settings: Settings, tenant: None, db_pool: asyncpg.Pool[Any]) -> None:
    from streams.ingest import api_keys

    async with db_pool.acquire() as conn:
        key = await api_keys.issue(conn, "acme")
    headers = {"X-Api-Key": key}
    good = {"ad_id": "ad7", "occurred_at": "2026-05-01T09:00:00Z"}
    async with ingress(settings) as ing:
        deep = await ing.client.post("/v1/clicks", content=b"[" * 10_000 + b"]" * 10_000, headers=headers)
        mixed = await ing.client.post("/v1/clicks", json=[good, good | {"device_id": "d\x00"},
                                                          good | {"utm": {"term": "\x07"}}], headers=headers)
    assert deep.status_code == 400
    assert mixed.status_code == 207 and [r["index"] for r in mixed.json()["rejected"]] == [1, 2]
    assert "device_id" in mixed.json()["rejected"][0]["error"]


async def test_a_database_outage_is_503_with_retry_after(settings: Settings, tenant: None) -> None:
    async with ingress(settings) as ing:
        await ing.runner.resources.pool.close()
        answers = [await ing.client.get("/c/acme/ad9", params={"url": LANDING}),
                   await ing.client.post("/v1/clicks", json=[], headers={"X-Api-Key": "rlk_x"})]
    assert [(a.status_code, a.headers.get("retry-after")) for a in answers] == [(503, "5"), (503, "5")]
