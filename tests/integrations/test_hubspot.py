"""CRM enrichment: deal -> associated contact -> hashed signals, with retries on 429/5xx."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from schemas.money import Money
from streams.core.clock import ManualClock
from streams.core.errors import TransientError
from streams.core.hashing import keyed_hash
from streams.integrations.hubspot import HubSpotClient, HubSpotError
from streams.lab.sandbox.hubspot import HubSpotState, create_hubspot_app

KEY = SecretStr("hash-key")
AT = datetime(2026, 5, 1, tzinfo=UTC)


def client(transport: httpx.AsyncBaseTransport, clock: ManualClock | None = None, token: str = "sandbox-hubspot-token"
           ) -> HubSpotClient:
    return HubSpotClient(base_url="https://api.hubapi.test", token=SecretStr(token), hash_key=KEY,
                         default_currency="USD", attempts=4, backoff_s=0.5, clock=clock or ManualClock(),
                         transport=transport)


@pytest.fixture
def crm() -> HubSpotState:
    state = HubSpotState()
    state.upsert_contact("c9", {"email": " Lead@Example.com", "roasloop_click_id": "abc123", "fbclid": "IwAR9",
                                "roasloop_ip_address": "198.51.100.20", "roasloop_user_agent": "UA/2"}, AT)
    state.set_deal_stage("77", "qualifiedtobuy", AT, contact_id="c9", amount_minor=150_050)
    return state


async def test_deal_details_come_from_the_sandbox_crm_with_identifiers_hashed(crm: HubSpotState) -> None:
    hs = client(httpx.ASGITransport(app=create_hubspot_app(crm)))
    details = await hs.deal_details("77")
    assert details.amount == Money(amount_minor=150_050, currency="USD")
    assert details.pipeline_id == "default"
    contact = details.contact
    assert (contact.contact_id, contact.click_id, contact.fbclid) == ("c9", "abc123", "IwAR9")
    assert contact.email_hash == keyed_hash(KEY, "lead@example.com")
    assert contact.ip_hash == keyed_hash(KEY, "198.51.100.20")
    assert contact.user_agent_hash == keyed_hash(KEY, "UA/2")
    assert "198.51.100.20" not in contact.model_dump_json() and "Example" not in contact.model_dump_json()


async def test_throttling_is_retried_with_backoff(crm: HubSpotState) -> None:
    crm.fail_next(429, count=2)
    clock = ManualClock(AT)
    details = await client(httpx.ASGITransport(app=create_hubspot_app(crm)), clock).deal_details("77")
    assert details.contact.click_id == "abc123"
    assert (clock.now() - AT).total_seconds() >= 1.5  # 0.5 s + 1 s of backoff, on the injected clock


def scripted(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.MockTransport:
    return httpx.MockTransport(handler)


async def test_retry_after_is_honoured_and_exhausted_retries_are_transient() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return httpx.Response(503, headers={"Retry-After": "7"})

    clock = ManualClock(AT)
    with pytest.raises(TransientError):
        await client(scripted(handler), clock).deal_details("1")
    assert len(calls) == 4 and (clock.now() - AT).total_seconds() == 21  # 3 waits of Retry-After


async def test_a_refused_token_is_not_retried_and_a_missing_deal_is_empty(crm: HubSpotState) -> None:
    app = create_hubspot_app(crm)
    with pytest.raises(HubSpotError):
        await client(httpx.ASGITransport(app=app), token="wrong").deal_details("77")
    assert (await client(httpx.ASGITransport(app=app)).deal_details("404404")).contact.contact_id is None


async def test_without_inline_associations_the_v4_endpoint_is_asked() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body: dict[str, Any]
        if request.url.path == "/crm/v3/objects/deals/5":
            body = {"id": "5", "properties": {"amount": "", "pipeline": "p2"}}
        elif request.url.path == "/crm/v4/objects/deals/5/associations/contacts":
            body = {"results": [{"toObjectId": 31, "associationTypes": []}]}
        else:
            assert request.url.path == "/crm/v3/objects/contacts/31"
            assert request.headers["authorization"] == "Bearer sandbox-hubspot-token"
            body = {"id": "31", "properties": {"email": "x@y.z"}}
        return httpx.Response(200, json=body)

    details = await client(scripted(handler)).deal_details("5")
    assert (details.pipeline_id, details.amount, details.contact.contact_id) == ("p2", None, "31")
    assert details.contact.email_hash == keyed_hash(KEY, "x@y.z")
