"""Firebase ID token verification against a JWKS served over HTTP, with every forgery refused."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import jwt
import pytest

from streams.integrations.firebase import AuthError, FirebaseVerifier, Forbidden, JwksCache, Principal, bearer
from tests.jwt_issuer import PROJECT, Issuer, served_jwks


@pytest.fixture
async def verifier(jwks_url: str) -> AsyncIterator[FirebaseVerifier]:
    async with httpx.AsyncClient() as http:
        yield FirebaseVerifier(PROJECT, JwksCache(jwks_url, http, min_refresh_s=0))


async def test_a_valid_token_yields_its_subject_and_role(verifier: FirebaseVerifier, issuer: Issuer) -> None:
    principal = await verifier.verify(issuer.token(role="EDITOR", sub="alice"))
    assert (principal.sub, principal.role, principal.tenants) == ("alice", "EDITOR", None)


@pytest.mark.parametrize("forgery", [
    "expired", "wrong_issuer", "wrong_audience", "alg_none", "hs256_public_key", "unknown_kid", "empty_sub",
    "no_kid", "future_iat", "future_auth_time", "missing_auth_time", "other_key_same_kid", "garbage",
])
async def test_forged_or_invalid_tokens_are_refused(verifier: FirebaseVerifier, issuer: Issuer, forgery: str) -> None:
    now = int(time.time())
    if "rogue" not in issuer.keys:
        issuer.add_key("rogue", serve=False)
    makers: dict[str, Callable[[], str]] = {
        "expired": lambda: issuer.token(exp=now - 5, iat=now - 3600),
        "wrong_issuer": lambda: issuer.token(iss="https://securetoken.google.com/someone-else"),
        "wrong_audience": lambda: issuer.token(aud="someone-else"),
        "alg_none": issuer.alg_none,
        "hs256_public_key": issuer.hs256_with_public_key,
        "unknown_kid": lambda: issuer.token(kid="rogue"),
        "empty_sub": lambda: issuer.token(sub=""),
        "no_kid": lambda: issuer.token(kid=None),
        "future_iat": lambda: issuer.token(iat=now + 600),
        "future_auth_time": lambda: issuer.token(auth_time=now + 600),
        "missing_auth_time": lambda: issuer.token(auth_time=None),
        "other_key_same_kid": lambda: issuer.token(kid="k1", signing_kid="rogue"),
        "garbage": lambda: "not.a.token",
    }
    token = makers[forgery]()
    with pytest.raises(AuthError):
        await verifier.verify(token)


async def test_jwks_is_cached_and_refetched_when_a_new_kid_appears(jwks_url: str, issuer: Issuer) -> None:
    async with httpx.AsyncClient() as http:
        cache = JwksCache(jwks_url, http, min_refresh_s=0)
        verifier = FirebaseVerifier(PROJECT, cache)
        await verifier.verify(issuer.token())
        await verifier.verify(issuer.token())
        assert cache.fetches == 1
        issuer.add_key("k2")  # Google rotated its keys
        assert (await verifier.verify(issuer.token(kid="k2"))).sub == "user-1"
        assert cache.fetches == 2


async def test_unknown_kids_cannot_make_us_hammer_the_jwks(jwks_url: str, issuer: Issuer) -> None:
    async with httpx.AsyncClient() as http:
        cache = JwksCache(jwks_url, http, min_refresh_s=60)
        verifier = FirebaseVerifier(PROJECT, cache)
        await verifier.verify(issuer.token())
        for _ in range(5):
            with pytest.raises(AuthError):
                await verifier.verify(issuer.token(kid="nope", signing_kid="k1"))
        assert cache.fetches == 1


def test_roles_are_ordered_and_tenants_scoped() -> None:
    editor = Principal(sub="a", role="EDITOR", tenants=frozenset({"acme"}))
    editor.require("VIEWER", "acme")
    editor.require("EDITOR", "acme")
    with pytest.raises(Forbidden):
        editor.require("ADMIN", "acme")
    with pytest.raises(Forbidden):
        editor.require("VIEWER", "globex")
    with pytest.raises(Forbidden):
        Principal(sub="a", role=None).require("VIEWER")


def test_bearer_header_is_required() -> None:
    assert bearer("Bearer abc") == "abc"
    for bad in (None, "", "Basic abc", "Bearer "):
        with pytest.raises(AuthError):
            bearer(bad)


@pytest.mark.parametrize("forgery", [
    "tenants_string", "tenants_dict", "tenants_int", "tenants_bool", "tenants_bad_id", "aud_list", "aud_list_only",
    "sub_129", "sub_int", "iat_bool", "auth_time_string", "jku_foreign_key", "x5u_foreign_key", "jwk_embedded",
    "kid_traversal", "kid_huge", "huge_token", "exp_string",
])
async def test_loose_claims_and_header_tricks_are_refused(verifier: FirebaseVerifier, issuer: Issuer,
                                                          forgery: str) -> None:
    if "rogue" not in issuer.keys:
        issuer.add_key("rogue", serve=False)
    rogue_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(issuer.keys["rogue"].public_key()))
    makers: dict[str, Callable[[], str]] = {
        "tenants_string": lambda: issuer.token(tenants="acme"),  # once split into characters
        "tenants_dict": lambda: issuer.token(tenants={"acme": True}),  # once granted its keys
        "tenants_int": lambda: issuer.token(tenants=7),  # once a 500
        "tenants_bool": lambda: issuer.token(tenants=True),
        "tenants_bad_id": lambda: issuer.token(tenants=["acme", "../globex"]),
        "aud_list": lambda: issuer.token(aud=[PROJECT, "someone-else"]),
        "aud_list_only": lambda: issuer.token(aud=[PROJECT]),
        "sub_129": lambda: issuer.token(sub="u" * 129),
        "sub_int": lambda: issuer.token(sub=12345),
        "iat_bool": lambda: issuer.token(iat=True),
        "auth_time_string": lambda: issuer.token(auth_time="yesterday"),
        "jku_foreign_key": lambda: issuer.token(kid="rogue", headers={"jku": "https://evil.test/jwks"}),
        "x5u_foreign_key": lambda: issuer.token(kid="rogue", headers={"x5u": "https://evil.test/cert"}),
        "jwk_embedded": lambda: issuer.token(kid="rogue", headers={"jwk": rogue_jwk}),
        "kid_traversal": lambda: issuer.token(kid="../../k1", signing_kid="k1"),
        "kid_huge": lambda: issuer.token(kid="k" * 5000, signing_kid="k1"),
        "huge_token": lambda: issuer.token(padding="x" * 10_000),
        "exp_string": lambda: issuer.token(exp="tomorrow"),
    }
    with pytest.raises(AuthError):
        await verifier.verify(makers[forgery]())


async def test_a_role_claim_that_is_not_a_known_string_is_no_role(verifier: FirebaseVerifier, issuer: Issuer) -> None:
    for role in (["ADMIN"], {"ADMIN": 1}, 3, "admin", "OWNER"):
        assert (await verifier.verify(issuer.token(role=role))).role is None
    assert (await verifier.verify(issuer.token(tenants=["acme", "globex"]))).tenants == {"acme", "globex"}


@pytest.fixture
def outage() -> Iterator[tuple[Issuer, str]]:
    own = Issuer()  # its own JWKS server: these tests break it on purpose
    with served_jwks(own) as url:
        yield own, url


async def test_a_failing_jwks_is_not_asked_again_for_every_forged_kid(outage: tuple[Issuer, str]) -> None:
    issuer, url = outage
    async with httpx.AsyncClient() as http:
        cache = JwksCache(url, http, min_refresh_s=10)
        verifier = FirebaseVerifier(PROJECT, cache)
        await verifier.verify(issuer.token())
        issuer.jwks_status = 500
        clock = [time.monotonic()]
        cache._now = lambda: clock[0]  # no real waiting: the cache's own clock moves
        clock[0] += 11  # the refetch limit after the last success has passed
        forged = [verifier.verify(issuer.token(kid=f"forged-{n}", signing_kid="k1")) for n in range(200)]
        results = await asyncio.gather(*forged, return_exceptions=True)
        assert all(isinstance(r, AuthError) for r in results)
        assert issuer.fetches == 2  # the first success, then one failed refetch shared by all 200
        clock[0] += 5  # backoff after a failure is at least min_refresh_s: still nothing
        await asyncio.gather(*(verifier.verify(issuer.token(kid=f"again-{n}", signing_kid="k1")) for n in range(50)),
                             return_exceptions=True)
        assert issuer.fetches == 2
        clock[0] += 10
        with pytest.raises(AuthError):
            await verifier.verify(issuer.token(kid="later", signing_kid="k1"))
        assert issuer.fetches == 3
        clock[0] += 15  # backoff doubled to 20 s after the second failure
        with pytest.raises(AuthError):
            await verifier.verify(issuer.token(kid="later-still", signing_kid="k1"))
        assert issuer.fetches == 3
        assert (await verifier.verify(issuer.token())).sub == "user-1"  # a known kid is never refused for it


async def test_a_stalled_jwks_does_not_hold_a_valid_token_behind_forged_ones(outage: tuple[Issuer, str]) -> None:
    issuer, url = outage
    async with httpx.AsyncClient(timeout=10) as http:
        cache = JwksCache(url, http, min_refresh_s=0, max_age_s=3600)
        verifier = FirebaseVerifier(PROJECT, cache)
        await verifier.verify(issuer.token())
        issuer.jwks_delay = 2.0
        forged = [asyncio.ensure_future(verifier.verify(issuer.token(kid=f"forged-{n}", signing_kid="k1")))
                  for n in range(10)]
        await asyncio.sleep(0.05)  # the forged requests are waiting on the (one) stalled fetch
        started = time.monotonic()
        viewer = await verifier.verify(issuer.token(role="VIEWER"))
        waited = time.monotonic() - started
        results = await asyncio.gather(*forged, return_exceptions=True)
    assert viewer.role == "VIEWER" and waited < 0.5
    assert all(isinstance(r, AuthError) for r in results) and issuer.fetches == 2


async def test_keys_past_their_age_are_used_while_a_refresh_runs_in_the_background(
        outage: tuple[Issuer, str]) -> None:
    issuer, url = outage
    async with httpx.AsyncClient(timeout=10) as http:
        cache = JwksCache(url, http, min_refresh_s=0, max_age_s=60)
        verifier = FirebaseVerifier(PROJECT, cache)
        await verifier.verify(issuer.token())
        clock = [time.monotonic() + 61]
        cache._now = lambda: clock[0]
        issuer.jwks_delay = 2.0
        started = time.monotonic()
        assert (await verifier.verify(issuer.token())).sub == "user-1"
        assert time.monotonic() - started < 0.5
        await asyncio.sleep(2.3)
    assert issuer.fetches == 2  # the background refresh happened, once
