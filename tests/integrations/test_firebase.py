"""Firebase ID token verification against a JWKS served over HTTP, with every forgery refused."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from streams.integrations.firebase import AuthError, FirebaseVerifier, Forbidden, JwksCache, Principal, bearer
from tests.jwt_issuer import PROJECT, Issuer


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
