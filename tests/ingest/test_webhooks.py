"""POST /webhooks/hubspot on the real broker and database: every status code, dedupe, outage."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest
from pydantic import SecretStr

from schemas import DealStageChanged, decode_as
from schemas.topics import DEAL_STAGES
from streams.core.hashing import keyed_hash
from streams.core.settings import Settings
from streams.ingest.context import Transports
from streams.ingest.settings import IngestSettings
from streams.lab.sandbox.hubspot import HubSpotState, create_hubspot_app
from streams.lab.sandbox.hubspot_webhooks import WebhookSender, deal_stage_event, signed_request
from tests.helpers import read_records, wait_until
from tests.ingest.conftest import SECRET, WEBHOOK_URL, ingress, stop_producer

PORTAL = 62515


def stage_change(deal: str = "901", stage: str = "appointmentscheduled", **kw: Any) -> dict[str, Any]:
    return deal_stage_event(deal_id=deal, stage_id=stage, occurred_at=datetime(2026, 5, 1, 9, tzinfo=UTC),
                            portal_id=kw.get("portal", PORTAL), app_id=777, subscription_id=55)


def contact_created() -> dict[str, Any]:
    return {"eventId": 3, "subscriptionId": 9, "portalId": PORTAL, "occurredAt": 1777626000000,
            "subscriptionType": "contact.creation", "attemptNumber": 0, "objectId": 5, "appId": 777}


async def post(client: httpx.AsyncClient, events: list[dict[str, Any]], *, attempt: int = 0,
               versions: tuple[str, ...] = ("v1", "v3"), url: str = WEBHOOK_URL) -> httpx.Response:
    body, headers = signed_request(events, url=url, client_secret=SECRET, attempt=attempt, versions=versions)
    return await client.post("/webhooks/hubspot", content=body, headers=headers)


async def post_raw(client: httpx.AsyncClient, body: bytes) -> httpx.Response:
    """A correctly signed request with an arbitrary body."""
    from streams.lab.sandbox.hubspot_signing import signature_headers

    headers = signature_headers(SECRET, "POST", WEBHOOK_URL, body, int(time.time() * 1000), versions=("v3",))
    return await client.post("/webhooks/hubspot", content=body, headers=headers)


@pytest.fixture
async def portal(db_pool: asyncpg.Pool[Any]) -> AsyncIterator[None]:
    await db_pool.execute("INSERT INTO hubspot_portals (portal_id, tenant_id) VALUES ($1, 'acme')", PORTAL)
    yield


async def deal_events(settings: Settings, min_count: int = 0) -> list[DealStageChanged]:
    records = await read_records(settings, DEAL_STAGES, min_count=min_count, timeout=5)
    return [decode_as(r.value, DealStageChanged) for r in records]


async def test_signed_deal_stage_change_is_published_and_other_types_are_acknowledged(
        settings: Settings, portal: None) -> None:
    async with ingress(settings) as ing:
        response = await post(ing.client, [stage_change(), contact_created()])
    assert response.status_code == 200
    assert response.json() == {"received": 2, "ignored": 1, "published": 1}
    [event] = await deal_events(settings, 1)
    assert (event.tenant_id, event.deal_id, event.stage_id, event.source) == ("acme", "901", "appointmentscheduled",
                                                                             "hubspot")
    assert event.occurred_at == datetime(2026, 5, 1, 9, tzinfo=UTC)
    assert event.event_id.startswith("hubspot-")


async def test_a_retried_delivery_publishes_nothing_new(settings: Settings, portal: None,
                                                        db_pool: asyncpg.Pool[Any]) -> None:
    async with ingress(settings) as ing:
        first = await post(ing.client, [stage_change()])
        retry = await post(ing.client, [stage_change()], attempt=3)  # new signature, same notification
        other = await post(ing.client, [stage_change(stage="closedwon")])
    assert [r.status_code for r in (first, retry, other)] == [200, 200, 200]
    assert retry.json()["duplicate"] == 1 and retry.json()["published"] == 0
    events = await deal_events(settings, 2)
    assert [e.stage_id for e in events if e.stage_id] .count("appointmentscheduled") == 1
    assert len(events) == 2 and len({e.event_id for e in events}) == 2
    assert await db_pool.fetchval("SELECT count(*) FROM hubspot_deliveries") == 2


async def test_duplicates_within_one_batch_publish_once(settings: Settings, portal: None) -> None:
    async with ingress(settings) as ing:
        response = await post(ing.client, [stage_change(), stage_change()])
    assert response.json()["published"] == 1 and response.json()["duplicate"] == 1
    assert len(await deal_events(settings, 1)) == 1


@pytest.mark.parametrize("versions", [("v1",), ("v2",), ("v3",)])
async def test_each_signature_version_is_accepted(settings: Settings, portal: None,
                                                  versions: tuple[str, ...]) -> None:
    async with ingress(settings) as ing:
        assert (await post(ing.client, [stage_change()], versions=versions)).status_code == 200


async def test_signature_over_the_internal_url_is_refused_behind_a_proxy(settings: Settings, portal: None) -> None:
    async with ingress(settings) as ing:
        response = await post(ing.client, [stage_change()], versions=("v3",),
                              url="http://ingress.internal/webhooks/hubspot")
    assert response.status_code == 401


async def test_missing_invalid_and_stale_signatures_get_401_and_publish_nothing(
        settings: Settings, portal: None) -> None:
    body, headers = signed_request([stage_change()], url=WEBHOOK_URL, client_secret=SECRET, versions=("v3",))
    stale, stale_headers = signed_request([stage_change()], url=WEBHOOK_URL, client_secret=SECRET,
                                          versions=("v3",), timestamp_ms=int(time.time() * 1000) - 301_000)
    async with ingress(settings) as ing:
        missing = await ing.client.post("/webhooks/hubspot", content=body)
        wrong = await ing.client.post("/webhooks/hubspot", content=body,
                                      headers=headers | {"X-HubSpot-Signature-v3": "AAAA"})
        old = await ing.client.post("/webhooks/hubspot", content=stale, headers=stale_headers)
        forged = await ing.client.post("/webhooks/hubspot", content=body.replace(b"901", b"902"), headers=headers)
    assert [r.status_code for r in (missing, wrong, old, forged)] == [401, 401, 401, 401]
    assert "old" in old.json()["error"]
    assert await deal_events(settings) == []


async def test_malformed_json_and_non_arrays_get_400(settings: Settings, portal: None) -> None:
    async with ingress(settings) as ing:
        broken = await post_raw(ing.client, b'[{"eventId": 1,')
        obj = await post_raw(ing.client, b'{"eventId": 1}')
    assert (broken.status_code, obj.status_code) == (400, 400)
    assert await deal_events(settings) == []


async def test_oversized_body_gets_413_even_without_content_length(settings: Settings, portal: None) -> None:
    config = IngestSettings(webhook_max_body_bytes=4096)
    big = b"[" + b" " * 5000 + b"]"

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(big), 1000):
            yield big[i:i + 1000]

    async with ingress(settings, config) as ing:
        declared = await post_raw(ing.client, big)
        streamed = await ing.client.post("/webhooks/hubspot", content=chunks())
    assert (declared.status_code, streamed.status_code) == (413, 413)


async def test_a_tenant_over_its_rate_gets_429_with_retry_after(settings: Settings, portal: None) -> None:
    config = IngestSettings(rate_limit_per_second=0.01, rate_limit_burst=1)
    async with ingress(settings, config) as ing:
        ok = await post(ing.client, [stage_change("1")])
        limited = await post(ing.client, [stage_change("2")])
    assert (ok.status_code, limited.status_code) == (200, 429)
    assert int(limited.headers["retry-after"]) >= 1
    assert len(await deal_events(settings, 1)) == 1


async def test_broker_outage_answers_503_and_hubspots_retry_loses_nothing(
        settings: Settings, portal: None, db_pool: asyncpg.Pool[Any]) -> None:
    async with ingress(settings, IngestSettings(publish_timeout_seconds=2)) as down:
        await stop_producer(down.runner)
        sender = WebhookSender(WEBHOOK_URL, SECRET, down.client, versions=("v3",), max_attempts=2,
                               backoff_seconds=0.01)
        failed = await sender.deliver([stage_change()])
    assert failed.statuses == [503, 503] and not failed.delivered
    assert await db_pool.fetchval("SELECT count(*) FROM hubspot_deliveries") == 0  # not recorded as delivered
    async with ingress(settings) as up:  # the broker is reachable again (a restarted replica)
        sender = WebhookSender(WEBHOOK_URL, SECRET, up.client, versions=("v3",), backoff_seconds=0.01)
        assert (await sender.deliver([stage_change()])).statuses == [200]
    [event] = await deal_events(settings, 1)
    assert event.deal_id == "901"


async def test_keys_that_could_not_be_written_stay_pending_and_are_written_when_the_database_is_back(
        settings: Settings, portal: None, db_pool: asyncpg.Pool[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    async with ingress(settings) as ing:
        log = ing.stage.running().deliveries
        log.retry_s = 0.05
        real = log.flush
        failures = iter([ConnectionError("database gone after the broker ack")] * 3)

        async def flaky() -> None:
            if (failure := next(failures, None)) is not None:
                raise failure
            await real()

        monkeypatch.setattr(log, "flush", flaky)
        first = await post(ing.client, [stage_change()])
        retry = await post(ing.client, [stage_change()], attempt=1)  # the key is pending: still caught
        await wait_until(lambda: not log.pending, timeout=5)
    assert (first.json()["published"], retry.json()["duplicate"]) == (1, 1)
    assert await db_pool.fetchval("SELECT count(*) FROM hubspot_deliveries") == 1
    assert len(await deal_events(settings, 1)) == 1


async def test_a_crash_before_the_keys_are_written_duplicates_with_the_same_event_id(
        settings: Settings, portal: None) -> None:
    async with ingress(settings) as ing:
        assert (await post(ing.client, [stage_change()])).status_code == 200
        ing.stage.running().deliveries.pending.clear()  # the process died before its writer ran
    async with ingress(settings) as again:
        assert (await post(again.client, [stage_change()], attempt=1)).status_code == 200
    events = await deal_events(settings, 2)
    assert len(events) == 2 and events[0].event_id == events[1].event_id  # downstream inboxes drop one


async def test_unmapped_portal_uses_the_default_tenant_or_is_skipped(settings: Settings) -> None:
    async with ingress(settings) as ing:
        skipped = await post(ing.client, [stage_change(portal=1)])
    async with ingress(settings, IngestSettings(hubspot_default_tenant="solo")) as ing:
        mapped = await post(ing.client, [stage_change(portal=1)])
    assert skipped.json()["unmapped_portal"] == 1 and mapped.json()["published"] == 1
    [event] = await deal_events(settings, 1)
    assert event.tenant_id == "solo"


async def test_stage_changes_carry_the_crm_contacts_hashed_signals(settings: Settings, portal: None) -> None:
    crm = HubSpotState()
    crm.upsert_contact("c1", {"email": "Buyer@Example.com", "roasloop_click_id": "cid42",
                              "roasloop_ip_address": "192.0.2.55"}, datetime(2026, 5, 1, tzinfo=UTC))
    crm.set_deal_stage("901", "appointmentscheduled", datetime(2026, 5, 1, 9, tzinfo=UTC), contact_id="c1",
                       amount_minor=990_000)
    transports = Transports(hubspot=httpx.ASGITransport(app=create_hubspot_app(crm)))
    async with ingress(settings, IngestSettings(http_backoff_seconds=0.01), transports,
                       hubspot_access_token=SecretStr(crm.access_token)) as ing:
        crm.fail_next(429)
        assert (await post(ing.client, [stage_change()])).status_code == 200
    [record] = await read_records(settings, DEAL_STAGES, min_count=1)
    event = decode_as(record.value, DealStageChanged)
    assert (event.contact.click_id, event.amount.amount_minor if event.amount else None) == ("cid42", 990_000)
    assert event.contact.email_hash == keyed_hash(settings.hash_key, "buyer@example.com")
    assert b"Buyer@Example.com".lower() not in record.value.lower() and b"192.0.2.55" not in record.value


async def test_a_crm_outage_answers_503_and_publishes_nothing(settings: Settings, portal: None) -> None:
    crm = HubSpotState()
    crm.fail_next(502, count=10)
    transports = Transports(hubspot=httpx.ASGITransport(app=create_hubspot_app(crm)))
    async with ingress(settings, IngestSettings(http_backoff_seconds=0.01, http_max_attempts=2), transports,
                       hubspot_access_token=SecretStr(crm.access_token)) as ing:
        assert (await post(ing.client, [stage_change()])).status_code == 503
    assert await deal_events(settings) == []
