"""HubSpot stand-in: signatures validated by the official client, webhook retries, CRM reads."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from hubspot.utils.signature import Signature
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from streams.lab.sandbox.hubspot import CLICK_ID_PROPERTY, HubSpotState, create_hubspot_app
from streams.lab.sandbox.hubspot_signing import decode_uri_v3, sign_v1, sign_v2, sign_v3
from streams.lab.sandbox.hubspot_webhooks import WebhookSender, deal_stage_event, signed_request
from streams.lab.sandbox.market import Market
from streams.lab.sandbox.market_events import webhook_events

SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
URL = "https://roasloop.example.com/webhooks/hubspot?tenant=acme"
BODY = '[{"eventId":1,"objectId":123,"propertyName":"dealstage","propertyValue":"closedwon"}]'


def test_signatures_match_hubspots_published_examples() -> None:
    assert sign_v2(SECRET, "POST", "https://www.example.com/webhook_uri", '{"example_field":"example_value"}') == (
        "9569219f8ba981ffa6f6f16aa0f48637d35d728c7e4d93d0d52efaa512af7900"
    )
    assert sign_v2(SECRET, "GET", "https://www.example.com/webhook_uri", "") == (
        "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e"
    )


def test_v1_v2_v3_validate_with_the_official_hubspot_client() -> None:
    assert Signature.is_valid(sign_v1(SECRET, BODY), SECRET, BODY, signature_version="v1")
    assert Signature.is_valid(sign_v2(SECRET, "POST", URL, BODY), SECRET, BODY, http_uri=URL, signature_version="v2")
    ts = str(int(time.time() * 1000))
    v3 = sign_v3(SECRET, "POST", URL, BODY, ts)
    assert Signature.is_valid(v3, SECRET, BODY, http_uri=URL, signature_version="v3", timestamp=ts)
    assert not Signature.is_valid(v3, SECRET, BODY + " ", http_uri=URL, signature_version="v3", timestamp=ts)
    assert not Signature.is_valid(sign_v1("other", BODY), SECRET, BODY, signature_version="v1")


def test_v3_decodes_the_uri_escapes_hubspot_decodes() -> None:
    encoded = "https://x.example.com/hook%3Fa%3Db%2Fc%40d%21%24%27%28%29%2A%2C%3B?q=%20%3a"
    assert decode_uri_v3(encoded) == "https://x.example.com/hook?a%3Db/c@d!$'()*,;?q=%20:"
    ts = str(int(time.time() * 1000))
    v3 = sign_v3(SECRET, "POST", encoded, BODY, ts)
    assert Signature.is_valid(v3, SECRET, BODY, http_uri=decode_uri_v3(encoded), signature_version="v3", timestamp=ts)


def test_signed_request_headers_validate_with_the_official_client() -> None:
    event = deal_stage_event(
        deal_id="1000", stage_id="closedwon", occurred_at=_now(), portal_id=1, app_id=2, subscription_id=3
    )
    for versions in (("v1", "v3"), ("v2", "v3")):
        body, headers = signed_request([event], url=URL, client_secret=SECRET, attempt=2, versions=versions)
        text = body.decode()
        assert json.loads(text)[0]["attemptNumber"] == 2
        legacy = headers["X-HubSpot-Signature-Version"]
        assert Signature.is_valid(headers["X-HubSpot-Signature"], SECRET, text, http_uri=URL, signature_version=legacy)
        assert Signature.is_valid(
            headers["X-HubSpot-Signature-v3"],
            SECRET,
            text,
            http_uri=URL,
            signature_version="v3",
            timestamp=headers["X-HubSpot-Request-Timestamp"],
        )


def _now() -> datetime:
    return datetime(2025, 1, 6, 12, tzinfo=UTC)


def _receiver(statuses: list[int], seen: list[tuple[int, bool]]) -> Starlette:
    async def hook(request: Request) -> Response:
        body = (await request.body()).decode()
        ok = Signature.is_valid(
            request.headers["X-HubSpot-Signature-v3"],
            SECRET,
            body,
            http_uri=URL,
            signature_version="v3",
            timestamp=request.headers["X-HubSpot-Request-Timestamp"],
        )
        seen.append((json.loads(body)[0]["attemptNumber"], ok))
        return Response(status_code=statuses.pop(0) if statuses else 204)

    return Starlette(routes=[Route("/webhooks/hubspot", hook, methods=["POST"])])


@pytest.mark.parametrize(
    ("statuses", "delivered", "attempts"),
    [([500, 429, 503], True, 4), ([400], False, 1), ([401, 500], False, 1), ([500] * 10, False, 10)],
)
async def test_sender_retries_5xx_and_429_but_not_4xx(statuses: list[int], delivered: bool, attempts: int) -> None:
    seen: list[tuple[int, bool]] = []
    transport = httpx.ASGITransport(app=_receiver(list(statuses), seen))
    async with httpx.AsyncClient(transport=transport) as client:
        sender = WebhookSender(
            "http://ingress.test/webhooks/hubspot", SECRET, client, backoff_seconds=0.0, sign_url=URL
        )
        result = await sender.deliver(
            [
                deal_stage_event(
                    deal_id="7", stage_id="qualifiedtobuy", occurred_at=_now(), portal_id=1, app_id=2, subscription_id=3
                )
            ]
        )
    assert (result.delivered, result.attempts) == (delivered, attempts)
    assert seen == [(i, True) for i in range(attempts)]  # attemptNumber rises, each attempt re-signed


@pytest.fixture
def hubspot_state() -> HubSpotState:
    state = HubSpotState(access_token="pat-na1-123")
    market = Market.from_scenario("fast_small", seed=3)
    for _ in range(3):
        state.apply(market.step())
    return state


@pytest.fixture
async def crm(hubspot_state: HubSpotState) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_hubspot_app(hubspot_state))
    headers = {"Authorization": "Bearer pat-na1-123"}
    async with httpx.AsyncClient(transport=transport, base_url="https://api.hubapi.test", headers=headers) as c:
        yield c


async def test_deal_contact_chain_is_readable_through_the_crm_api(
    crm: httpx.AsyncClient, hubspot_state: HubSpotState
) -> None:
    won = next(d for d in hubspot_state.deals.values() if d.properties["dealstage"] == "closedwon")
    r = await crm.get(
        f"/crm/v3/objects/deals/{won.object_id}",
        params={"properties": "amount,dealstage,pipeline", "associations": "contacts"},
    )
    assert r.status_code == 200
    deal = r.json()
    assert deal["properties"]["dealstage"] == "closedwon" and deal["properties"]["pipeline"] == "default"
    assert float(deal["properties"]["amount"]) > 0
    contact_id = deal["associations"]["contacts"]["results"][0]["id"]
    r4 = await crm.get(f"/crm/v4/objects/deals/{won.object_id}/associations/contacts")
    assert r4.json()["results"][0]["toObjectId"] == int(contact_id)
    assert r4.json()["results"][0]["associationTypes"][0]["typeId"] == 3
    rc = await crm.get(f"/crm/v3/objects/contacts/{contact_id}", params={"properties": f"email,{CLICK_ID_PROPERTY}"})
    props = rc.json()["properties"]
    assert props["email"].endswith("@example.com") and CLICK_ID_PROPERTY in props


async def test_batch_read_and_pipeline(crm: httpx.AsyncClient, hubspot_state: HubSpotState) -> None:
    ids = list(hubspot_state.deals)[:3]
    r = await crm.post(
        "/crm/v3/objects/deals/batch/read",
        json={"properties": ["dealstage"], "inputs": [{"id": i} for i in [*ids, "404"]]},
    )
    assert r.status_code == 207
    assert sorted(x["id"] for x in r.json()["results"]) == sorted(ids)
    stages = (await crm.get("/crm/v3/pipelines/deals")).json()["results"][0]["stages"]
    assert [s["id"] for s in stages][-2:] == ["closedwon", "closedlost"]


async def test_crm_refuses_bad_tokens_unknown_objects_and_can_throttle(
    crm: httpx.AsyncClient, hubspot_state: HubSpotState
) -> None:
    r = await crm.get("/crm/v3/objects/deals/1", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401 and r.json()["category"] == "INVALID_AUTHENTICATION"
    r = await crm.get("/crm/v3/objects/deals/1")
    assert r.status_code == 404 and r.json()["category"] == "OBJECT_NOT_FOUND"
    hubspot_state.fail_next(429)
    r = await crm.get(f"/crm/v3/objects/deals/{next(iter(hubspot_state.deals))}")
    assert r.status_code == 429 and r.json()["policyName"] == "SECONDLY"


def test_market_webhooks_name_deals_the_crm_knows(hubspot_state: HubSpotState) -> None:
    market = Market.from_scenario("fast_small", seed=3)
    events = [e for _ in range(3) for e in webhook_events(market.step(), portal_id=hubspot_state.portal_id)]
    assert events and all(str(e["objectId"]) in hubspot_state.deals for e in events)
