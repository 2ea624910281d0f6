"""A test Firebase: RSA keys, a JWKS served over real HTTP, and ID tokens good and bad.

A pytest plugin too (``tests/conftest.py`` lists it): the ``issuer`` and ``jwks_url`` fixtures.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from streams.lab.dev.issuer import firebase_claims
from streams.lab.sandbox.serve import BackgroundServer

PROJECT = "roasloop-test"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Issuer:
    def __init__(self) -> None:
        self.keys: dict[str, rsa.RSAPrivateKey] = {}
        self.served: list[str] = []  # kids in the JWKS
        self.fetches = 0
        self.jwks_status = 200  # what the JWKS answers: 500 for an outage
        self.jwks_delay = 0.0  # seconds before it answers: a stalled JWKS
        self.add_key("k1")

    def add_key(self, kid: str, serve: bool = True) -> None:
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if serve:
            self.served.append(kid)

    def jwks(self) -> dict[str, Any]:
        out = []
        for kid in self.served:
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.keys[kid].public_key()))
            out.append(jwk | {"kid": kid, "alg": "RS256", "use": "sig"})
        return {"keys": out}

    def claims(self, **overrides: Any) -> dict[str, Any]:
        """A valid Firebase ID token's claims (VIEWER of every tenant), with ``overrides``; None drops one."""
        base = firebase_claims(PROJECT, "user-1", "VIEWER")
        return {k: v for k, v in (base | overrides).items() if v is not None}

    def token(self, kid: str | None = "k1", signing_kid: str | None = None, headers: dict[str, Any] | None = None,
              **overrides: Any) -> str:
        key = self.keys[signing_kid or (kid if kid in self.keys else None) or "k1"]
        header = ({"kid": kid} if kid else {}) | (headers or {})
        return jwt.encode(self.claims(**overrides), key, algorithm="RS256", headers=header)

    def alg_none(self, **overrides: Any) -> str:
        header = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": "k1"}).encode())
        return f"{header}.{_b64(json.dumps(self.claims(**overrides)).encode())}."

    def hs256_with_public_key(self, **overrides: Any) -> str:
        """The classic confusion attack: HMAC keyed with the (public) RSA key's PEM."""
        pem = self.keys["k1"].public_key().public_bytes(serialization.Encoding.PEM,
                                                        serialization.PublicFormat.SubjectPublicKeyInfo)
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "k1"}).encode())
        payload = _b64(json.dumps(self.claims(**overrides)).encode())
        signature = hmac.new(pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        return f"{header}.{payload}.{_b64(signature)}"


@contextmanager
def served_jwks(issuer: Issuer) -> Iterator[str]:
    async def jwks(_: Request) -> JSONResponse:
        issuer.fetches += 1
        if issuer.jwks_delay:
            await asyncio.sleep(issuer.jwks_delay)
        if issuer.jwks_status != 200:
            return JSONResponse({"error": "unavailable"}, status_code=issuer.jwks_status)
        return JSONResponse(issuer.jwks())

    with BackgroundServer(Starlette(routes=[Route("/jwks", jwks)])) as base_url:
        yield f"{base_url}/jwks"


@pytest.fixture(scope="module")
def issuer() -> Issuer:
    return Issuer()


@pytest.fixture(scope="module")
def jwks_url(issuer: Issuer) -> Iterator[str]:
    with served_jwks(issuer) as url:
        yield url
