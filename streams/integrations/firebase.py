"""Firebase ID tokens for the operator API: who is calling, and with which role.

Verification follows Firebase's rules for ID tokens: RS256 only (the header's ``alg`` is
checked *before* any key is chosen, so ``none`` and HS256-with-the-public-key confusion fail
early), a ``kid`` naming a key from Google's JWKS (``jku``/``x5u``/``jwk`` headers are never
followed), ``iss`` = ``https://securetoken.google.com/<project>``, ``aud`` *equal to* ``<project>``
(a list that merely contains it is refused), ``exp`` in the future, ``iat`` and ``auth_time``
numbers in the past, and a ``sub`` of 1-128 characters. The role is a custom claim (``role``:
VIEWER < EDITOR < ADMIN; anything else is no role); an optional ``tenants`` claim limits which
tenants the caller may touch and must be ``"*"`` or a list of tenant ids - a string is not split
into characters, a dict does not grant its keys: a claim of another shape refuses the token.

The JWKS is cached and re-fetched when a token names an unknown ``kid`` (Google rotates keys).
Auth failures must stay cheap whatever the JWKS does, so (:class:`JwksCache`): fetches are
single-flight (concurrent unknown kids share one), at most one per ``min_refresh_s`` after a
success and with exponential backoff after failures (a JWKS answering 500 is not asked again for
every forged kid), and a token whose ``kid`` is cached never waits for a fetch - keys past their
age are used while a refresh runs in the background, so a stalled JWKS does not stall valid users.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import structlog
from pydantic import TypeAdapter, ValidationError

from schemas.envelope import TenantId

ROLES = ("VIEWER", "EDITOR", "ADMIN")
ISSUER_PREFIX = "https://securetoken.google.com/"
SKEW_S = 5  # tolerated clock difference for iat/auth_time "in the past"
log = structlog.get_logger("roasloop.firebase")


class AuthError(Exception):
    """Not authenticated: answer 401."""


class Forbidden(Exception):
    """Authenticated, but the role or tenant does not allow it: answer 403."""


@dataclass(frozen=True)
class Principal:
    sub: str
    role: str | None
    tenants: frozenset[str] | None = None  # None: every tenant
    claims: dict[str, Any] = field(default_factory=dict, compare=False)

    def require(self, role: str, tenant_id: str | None = None) -> None:
        if self.role not in ROLES or ROLES.index(self.role) < ROLES.index(role):
            raise Forbidden(f"role {role} required")
        if tenant_id is not None and self.tenants is not None and tenant_id not in self.tenants:
            raise Forbidden(f"no access to tenant {tenant_id}")


class KeysUnavailable(AuthError):
    """No signing keys could be fetched yet: nobody can be authenticated until the JWKS answers."""


class JwksCache:
    def __init__(self, url: str, http: httpx.AsyncClient, *, max_age_s: float = 3600,
                 min_refresh_s: float = 10, max_backoff_s: float = 300,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.url = url
        self._http = http
        self._max_age_s = max_age_s
        self._min_refresh_s = min_refresh_s
        self._max_backoff_s = max_backoff_s
        self._now = monotonic
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._next_fetch_at = float("-inf")
        self._failures = 0
        self._inflight: asyncio.Task[None] | None = None
        self.fetches = 0
        """Fetch attempts, failed ones included."""

    async def _fetch(self) -> None:
        self.fetches += 1
        try:
            response = await self._http.get(self.url)
            response.raise_for_status()
            document = response.json()
            entries = document.get("keys", []) if isinstance(document, dict) else []
            keys: dict[str, jwt.PyJWK] = {}
            for jwk in entries if isinstance(entries, list) else []:
                if isinstance(jwk, dict) and isinstance(jwk.get("kid"), str) and jwk.get("kty") == "RSA":
                    try:
                        keys[jwk["kid"]] = jwt.PyJWK(jwk, algorithm="RS256")
                    except jwt.PyJWTError:
                        continue
            if not keys:
                raise ValueError("no usable RS256 key in the JWKS")
        except (httpx.HTTPError, ValueError) as exc:
            self._failures += 1
            backoff = max(self._min_refresh_s, 1.0) * 2 ** (self._failures - 1)
            self._next_fetch_at = self._now() + min(self._max_backoff_s, backoff)
            log.warning("jwks_fetch_failed", error_type=type(exc).__name__, failures=self._failures)
            return
        self._keys, self._fetched_at, self._failures = keys, self._now(), 0
        self._next_fetch_at = self._fetched_at + self._min_refresh_s

    def _refresh(self) -> asyncio.Task[None] | None:
        """The running fetch, or a new one if the rate limit allows; None when it does not."""
        if self._inflight is None or self._inflight.done():
            if self._now() < self._next_fetch_at:
                return None
            self._inflight = asyncio.get_running_loop().create_task(self._fetch(), name="jwks-fetch")
        return self._inflight

    async def key(self, kid: str) -> jwt.PyJWK | None:
        known = self._keys.get(kid)
        if known is not None:
            if self._fetched_at is not None and self._now() - self._fetched_at > self._max_age_s:
                self._refresh()  # in the background: this caller goes on with the key it has
            return known
        fetch = self._refresh()
        if fetch is not None:
            await asyncio.shield(fetch)  # a cancelled caller does not cancel everyone's fetch
        if not self._keys:
            raise KeysUnavailable("signing keys unavailable, retry later")
        return self._keys.get(kid)

    async def aclose(self) -> None:
        if self._inflight is not None and not self._inflight.done():
            self._inflight.cancel()


MAX_TOKEN = 8192
MAX_SUB = 128
TENANT_IDS: TypeAdapter[list[str]] = TypeAdapter(list[TenantId])


def _tenants(claim: Any) -> frozenset[str] | None:
    """The ``tenants`` claim: None (every tenant) for absent or ``"*"``, else a list of tenant ids."""
    if claim is None or claim == "*":
        return None
    try:
        return frozenset(TENANT_IDS.validate_python(claim, strict=True))
    except ValidationError:
        raise AuthError('tenants claim must be "*" or a list of tenant ids') from None


def _time_claim(claims: dict[str, Any], name: str, now: float) -> None:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or value > now + SKEW_S:
        raise AuthError(f"{name} must be a time in the past")


class FirebaseVerifier:
    def __init__(self, project_id: str, jwks: JwksCache, now: Callable[[], float] = time.time) -> None:
        self.project_id = project_id
        self.issuer = ISSUER_PREFIX + project_id
        self.jwks = jwks
        self._now = now

    async def verify(self, token: str) -> Principal:
        if len(token) > MAX_TOKEN:
            raise AuthError("malformed token")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthError("malformed token") from None
        if header.get("alg") != "RS256":
            raise AuthError("token must be signed with RS256")
        kid = header.get("kid")
        if not isinstance(kid, str) or not 0 < len(kid) <= 128:
            raise AuthError("token has no kid")
        key = await self.jwks.key(kid)
        if key is None:
            raise AuthError("token signed with an unknown key")
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key.key, algorithms=["RS256"], audience=self.project_id, issuer=self.issuer,
                options={"require": ["exp", "iat", "iss", "aud", "sub", "auth_time"]},
            )
        except jwt.PyJWTError as exc:
            raise AuthError(f"invalid token: {type(exc).__name__}") from None
        if claims.get("aud") != self.project_id:
            raise AuthError("aud must be the project id")
        now = self._now()
        for claim in ("iat", "auth_time"):
            _time_claim(claims, claim, now)
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub.strip() or len(sub) > MAX_SUB:
            raise AuthError(f"sub must be 1-{MAX_SUB} characters")
        role = claims.get("role")
        return Principal(sub=sub, role=role if isinstance(role, str) and role in ROLES else None,
                         tenants=_tenants(claims.get("tenants")), claims=claims)


def bearer(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("missing bearer token")
    return token.strip()
