"""The process's HTTP face under fuzzing: no input gets a 5xx, and the process is fine afterwards.

The ingest and console stages are served together by uvicorn on a real socket, with the real broker
and database, exactly as ``roasloop run ingest console`` serves them. Then:

- the served ``/openapi.json`` must be a valid OpenAPI 3.1 document whose every ``$ref`` resolves;
- ``schemathesis`` generates requests from that document - valid and invalid ones, with the path's
  tenant generated or fixed to a real one - for every operation and every caller: nobody, a
  VIEWER, an EDITOR, an ADMIN (Firebase tokens from a local JWKS) and a producer's API key;
- ``hypothesis`` throws bytes, Unicode, huge numbers, deep JSON and odd headers at the endpoints
  that need no token: the HubSpot webhook (unsigned, and correctly signed with hostile items), the
  click redirect, the producer click batch;

and every answer must be below 500, ``/healthz`` must answer afterwards, and the process's memory
and task count must not have grown beyond a bound. Examples are bounded so the suite stays fast;
``ROASLOOP_FUZZ_EXAMPLES`` raises the count for a longer hunt.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import asyncpg
import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate as validate_openapi

from streams.core.settings import Settings
from streams.ingest.hubspot_signature import expected_v3
from tests.http_stack import PORTAL, Stack, rss_mb, served
from tests.ingest.conftest import SECRET
from tests.jwt_issuer import Issuer

EXAMPLES = int(os.environ.get("ROASLOOP_FUZZ_EXAMPLES", "6"))
"""Examples per operation, caller and generation mode (schemathesis); 10x that per raw property."""
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
RAW = settings(FUZZ, max_examples=10 * EXAMPLES)


async def unharmed(stack: Stack, tasks_before: int, rss_before: float) -> None:
    async with httpx.AsyncClient(base_url=stack.base) as client:
        assert (await client.get("/healthz")).status_code == 200
    await asyncio.sleep(0.5)  # connections of the fuzzing client wind down
    assert len(asyncio.all_tasks()) <= tasks_before + 5, "requests left tasks behind"
    assert rss_mb() - rss_before < 300, f"memory grew by {rss_mb() - rss_before:.0f} MiB"


def refs_resolve(document: dict[str, Any]) -> list[str]:
    """Every ``$ref`` in ``document`` that does not point at something in it."""
    broken: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                target: Any = document
                for part in ref.removeprefix("#/").split("/"):
                    target = target.get(part) if isinstance(target, dict) else None
                if not ref.startswith("#/") or target is None:
                    broken.append(ref)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    return broken


async def test_the_served_openapi_document_is_valid_and_every_ref_resolves(
        settings: Settings, jwks_url: str, issuer: Issuer, db_pool: asyncpg.Pool[Any]) -> None:
    async with served(settings, jwks_url, issuer, db_pool) as stack, httpx.AsyncClient(base_url=stack.base) as c:
        document = (await c.get("/openapi.json")).json()
    validate_openapi(document)
    assert refs_resolve(document) == []
    assert {"/webhooks/hubspot", "/c/{tenant_id}/{ad_id}", "/v1/clicks",
            "/v1/tenants/{tenant_id}/stage-values"} <= set(document["paths"])


@pytest.mark.slow
async def test_schemathesis_finds_no_5xx_for_any_operation_and_any_caller(
        settings: Settings, jwks_url: str, issuer: Issuer, db_pool: asyncpg.Pool[Any]) -> None:
    async with served(settings, jwks_url, issuer, db_pool) as stack:
        tasks_before, rss_before = len(asyncio.all_tasks()), rss_mb()
        async with httpx.AsyncClient(base_url=stack.base) as c:
            schema = schemathesis.openapi.from_dict((await c.get("/openapi.json")).json())
        await asyncio.to_thread(run_schemathesis, schema, stack)
        await unharmed(stack, tasks_before, rss_before)
    assert stack.failures == [], "\n".join(sorted(set(stack.failures))[:40])
    assert stack.answered >= len(stack.callers) * 11 * 2  # every operation, every caller, both modes ran


def run_schemathesis(schema: Any, stack: Stack) -> None:
    for result in schema.get_all_operations():
        operation = result.ok()
        fixed = {"tenant_id": "acme"} if "{tenant_id}" in operation.path else None
        for caller, headers in stack.callers.items():
            for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
                for path_parameters in (None, fixed) if fixed else (None,):
                    fuzz_operation(stack, operation.as_strategy(mode, path_parameters=path_parameters),
                                   f"{caller} {mode.value}", headers)


def fuzz_operation(stack: Stack, strategy: Any, label: str, headers: dict[str, str]) -> None:
    @FUZZ
    @given(case=strategy)
    def call(case: Any) -> None:
        try:
            response = case.call(base_url=stack.base, headers=headers, timeout=15)
        except Exception as exc:  # a request the client could not send; a dead server is a failure
            if "Connection" in type(exc).__name__ or "Timeout" in type(exc).__name__:
                stack.failures.append(f"{type(exc).__name__} {label} {case.method} {case.formatted_path}")
            return
        stack.check(f"{label} {case.method} {case.formatted_path} {str(case.body)[:200]} {case.query}",
                    response.status_code, response.text)

    call()


# --- hypothesis against the endpoints that take no token -----------------------------------

huge_numbers = st.one_of(st.integers(min_value=-(10**400), max_value=10**400), st.floats(allow_nan=False),
                         st.just(10**4000))
leaves = st.one_of(st.none(), st.booleans(), huge_numbers, st.text(max_size=300),
                   st.text(alphabet=st.characters(codec="utf-8"), max_size=50))
json_values = st.recursive(leaves, lambda inner: st.one_of(st.lists(inner, max_size=5),
                                                          st.dictionaries(st.text(max_size=20), inner, max_size=5)),
                           max_leaves=30)
notification_keys = ("eventId", "subscriptionId", "portalId", "occurredAt", "subscriptionType", "objectId",
                     "propertyName", "propertyValue", "attemptNumber")
notifications = st.fixed_dictionaries(
    {"eventId": st.one_of(st.integers(), st.text(max_size=300)), "subscriptionId": st.integers(),
     "portalId": st.one_of(st.just(PORTAL), huge_numbers), "occurredAt": st.one_of(huge_numbers, st.text(max_size=5)),
     "subscriptionType": st.sampled_from(["deal.propertyChange", "contact.creation", ""]),
     "objectId": st.one_of(st.integers(min_value=-(2**70), max_value=2**70), st.text(max_size=80)),
     "propertyName": st.sampled_from(["dealstage", "amount", None]),
     "propertyValue": st.one_of(st.text(max_size=260), st.none())},
    optional={k: json_values for k in ("attemptNumber", "changeSource")})
deep = st.integers(min_value=1, max_value=200_000).map(lambda n: b"[" * n + b"]" * n)
bodies = st.one_of(st.binary(max_size=2000), st.text(max_size=500).map(str.encode), deep,
                   json_values.map(lambda v: json.dumps(v).encode()),
                   st.lists(notifications, max_size=20).map(lambda v: json.dumps(v).encode()))
header_text = st.binary(max_size=200).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"").replace(b"\x00", b""))
odd_headers = st.dictionaries(
    st.sampled_from(["X-HubSpot-Signature", "X-HubSpot-Signature-v3", "X-HubSpot-Request-Timestamp",
                     "X-HubSpot-Signature-Version", "Content-Type", "X-Api-Key", "Authorization", "User-Agent",
                     "Referer", "X-Forwarded-For", "Cookie", "Traceparent", "Content-Encoding", "Host"]),
    st.one_of(header_text, st.sampled_from([b"9" * 400, "\u0662\u0663".encode(), b"-1", b"v9", b"Bearer "])),
    max_size=6)
path_text = st.text(max_size=80).map(lambda t: quote(t, safe=""))
landing_urls = st.one_of(st.text(max_size=200), st.sampled_from([
    "http://[evil.com/", "https://shop.acme.test:99999/", "https://shop.acme.test:-1/", "https://shop.acme.test/\x00",
    "https://user@evil.test@shop.acme.test/", "https://shop.acme.test/?email=a@b.test&ip=203.0.113.9",
    "https://SHOP.acme.test./x", "https://xn--shp-sna.acme.test/", "https://shop.acme.test/" + "a" * 5000]))


def send(client: httpx.Client, stack: Stack, method: str, path: str, **kwargs: Any) -> None:
    try:
        response = client.request(method, path, **kwargs)
    except (httpx.LocalProtocolError, httpx.InvalidURL, UnicodeEncodeError):
        stack.unsent += 1
        return  # the client itself refuses to send this: nothing reached us
    stack.check(f"{method} {path[:120]} {str(kwargs)[:160]}", response.status_code, response.text)


def unauthenticated_properties(stack: Stack) -> list[Callable[[], None]]:
    client = httpx.Client(base_url=stack.base, timeout=15)

    @RAW
    @given(body=bodies, headers=odd_headers)
    def webhook_unsigned(body: bytes, headers: dict[str, bytes]) -> None:
        send(client, stack, "POST", "/webhooks/hubspot", content=body, headers=list(headers.items()))

    @RAW
    @given(body=bodies, attempt=st.integers(0, 10))
    def webhook_signed(body: bytes, attempt: int) -> None:
        stamp = str(int(time.time() * 1000))
        signature = expected_v3(SECRET, "POST", "https://hooks.example.com/webhooks/hubspot", body, stamp)
        headers = {"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": stamp}
        send(client, stack, "POST", "/webhooks/hubspot", content=body, headers=headers)

    @RAW
    @given(tenant=st.one_of(st.just("acme"), path_text), ad=st.one_of(st.just("ad7"), path_text), url=landing_urls,
           params=st.dictionaries(st.text(max_size=20), st.text(max_size=600), max_size=4), headers=odd_headers)
    def click(tenant: str, ad: str, url: str, params: dict[str, str], headers: dict[str, bytes]) -> None:
        send(client, stack, "GET", f"/c/{tenant or 'x'}/{ad or 'y'}", params={"url": url, **params},
             headers=list(headers.items()))

    @RAW
    @given(body=bodies, keyed=st.booleans(), headers=odd_headers)
    def click_batch(body: bytes, keyed: bool, headers: dict[str, bytes]) -> None:
        key = list(stack.callers["producer"].items()) if keyed else []
        send(client, stack, "POST", "/v1/clicks", content=body, headers=[*list(headers.items()), *key])

    @RAW
    @given(method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]),
           path=st.sampled_from(["/healthz", "/readyz", "/openapi.json", "/metrics", "/c/acme", "/webhooks/hubspot",
                                 "/v1/tenants/acme/pause"]), headers=odd_headers)
    def anything(method: str, path: str, headers: dict[str, bytes]) -> None:
        send(client, stack, method, path, headers=list(headers.items()))

    return [webhook_unsigned, webhook_signed, click, click_batch, anything, client.close]


@pytest.mark.slow
async def test_hostile_bytes_unicode_numbers_nesting_and_headers_get_no_5xx_without_a_token(
        settings: Settings, jwks_url: str, issuer: Issuer, db_pool: asyncpg.Pool[Any]) -> None:
    async with served(settings, jwks_url, issuer, db_pool) as stack:
        tasks_before, rss_before = len(asyncio.all_tasks()), rss_mb()
        for run in unauthenticated_properties(stack):
            await asyncio.to_thread(run)
        await unharmed(stack, tasks_before, rss_before)
    assert stack.failures == [], "\n".join(sorted(set(stack.failures))[:40])
    assert stack.answered >= 5 * 10 * EXAMPLES * 0.6, f"{stack.answered} answered, {stack.unsent} not sendable"
