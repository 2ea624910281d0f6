"""Firebase ID tokens for the operator API: who is calling, and with which role.

Verification follows Firebase's rules for ID tokens: RS256 only (the header's ``alg`` is
checked *before* any key is chosen, so ``none`` and HS256-with-the-public-key confusion fail
early), a ``kid`` naming a key from Google's JWKS, ``iss`` = ``https://securetoken.google.com/
<project>``, ``aud`` = ``<project>``, ``exp`` in the future, ``iat`` and ``auth_time`` in the past,
and a non-empty ``sub``. The role is a custom claim (``role``: VIEWER < EDITOR < ADMIN); an
optional ``tenants`` claim (list, or ``"*"``) limits which tenants the caller may touch.

The JWKS is cached and re-fetched when a token names an unknown ``kid`` (Google rotates keys),
but at most once per ``min_refresh_s`` so a stream of forged kids cannot hammer Google.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt

ROLES = ("VIEWER", "EDITOR", "ADMIN")
ISSUER_PREFIX = "https://securetoken.google.com/"
SKEW_S = 5  # tolerated clock difference for iat/auth_time "in the past"


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


class JwksCache:
    def __init__(self, url: str, http: httpx.AsyncClient, *, max_age_s: float = 3600,
                 min_refresh_s: float = 10, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.url = url
        self._http = http
        self._max_age_s = max_age_s
        self._min_refresh_s = min_refresh_s
        self._now = monotonic
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()
        self.fetches = 0

    async def _refresh(self) -> None:
        response = await self._http.get(self.url)
        response.raise_for_status()
        keys: dict[str, jwt.PyJWK] = {}
        for jwk in response.json().get("keys", []):
            if isinstance(jwk, dict) and jwk.get("kid") and jwk.get("kty") == "RSA":
                try:
                    keys[str(jwk["kid"])] = jwt.PyJWK(jwk, algorithm="RS256")
                except jwt.PyJWTError:
                    continue
        self._keys = keys
        self._fetched_at = self._now()
        self.fetches += 1

    async def key(self, kid: str) -> jwt.PyJWK | None:
        async with self._lock:
            now = self._now()
            stale = self._fetched_at is None or now - self._fetched_at > self._max_age_s
            may_refresh = self._fetched_at is None or now - self._fetched_at >= self._min_refresh_s
            if stale or (kid not in self._keys and may_refresh):
                try:
                    await self._refresh()
                except (httpx.HTTPError, ValueError) as exc:
                    if not self._keys:
                        raise AuthError(f"signing keys unavailable ({type(exc).__name__})") from exc
            return self._keys.get(kid)


class FirebaseVerifier:
    def __init__(self, project_id: str, jwks: JwksCache, now: Callable[[], float] = time.time) -> None:
        self.project_id = project_id
        self.issuer = ISSUER_PREFIX + project_id
        self.jwks = jwks
        self._now = now

    async def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthError("malformed token") from None
        if header.get("alg") != "RS256":
            raise AuthError("token must be signed with RS256")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
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
        now = self._now()
        for claim in ("iat", "auth_time"):
            value = claims.get(claim)
            if not isinstance(value, int | float) or value > now + SKEW_S:
                raise AuthError(f"{claim} must be in the past")
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub.strip():
            raise AuthError("token has an empty subject")
        role = claims.get("role")
        tenants = claims.get("tenants")
        scope = None if tenants in (None, "*") else frozenset(str(t) for t in tenants or [])
        return Principal(sub=sub, role=role if role in ROLES else None, tenants=scope, claims=claims)


def bearer(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("missing bearer token")
    return token.strip()
