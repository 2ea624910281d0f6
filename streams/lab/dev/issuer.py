"""A local stand-in for Firebase Auth: one RSA key, its JWKS, and ID tokens with roasloop's role claims.

``roasloop dev`` serves the JWKS and signs people in to the console with it; ``roasloop token``
signs tokens for scripts against the same dev stack. The key is kept in ``.roasloop/dev/issuer.json``
(readable by its owner only) in the directory ``roasloop dev`` runs in, so both commands - and a
restarted stack - agree on it. The tokens carry exactly the claims Firebase puts in an ID token,
so the console verifies them with the production code path, not a shortcut.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

DEFAULT_PATH = Path(".roasloop") / "dev" / "issuer.json"
PROJECT = "roasloop-dev"


def firebase_claims(project: str, sub: str, role: str | None, tenants: list[str] | str | None = None,
                    ttl_seconds: int = 3600, now: float | None = None) -> dict[str, Any]:
    """The claims of a Firebase ID token for ``project``, with roasloop's ``role`` and ``tenants``."""
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {"iss": f"https://securetoken.google.com/{project}", "aud": project, "sub": sub,
                              "iat": issued - 5, "auth_time": issued - 5, "exp": issued + ttl_seconds}
    if role is not None:
        claims["role"] = role
    if tenants is not None:
        claims["tenants"] = tenants
    return claims


@dataclass(frozen=True)
class LocalIssuer:
    key: rsa.RSAPrivateKey
    kid: str
    project: str = PROJECT

    @classmethod
    def create(cls, project: str = PROJECT) -> LocalIssuer:
        return cls(rsa.generate_private_key(public_exponent=65537, key_size=2048), uuid.uuid4().hex[:12], project)

    @classmethod
    def load_or_create(cls, path: Path = DEFAULT_PATH) -> LocalIssuer:
        if path.exists():
            return cls.load(path)
        issuer = cls.create()
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = issuer.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()).decode()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump({"kid": issuer.kid, "project": issuer.project, "private_key_pem": pem}, out)
        return issuer

    @classmethod
    def load(cls, path: Path = DEFAULT_PATH) -> LocalIssuer:
        stored = json.loads(path.read_text())
        key = serialization.load_pem_private_key(stored["private_key_pem"].encode(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        return cls(key, stored["kid"], stored["project"])

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [jwk | {"kid": self.kid, "alg": "RS256", "use": "sig"}]}

    def token(self, role: str, tenants: list[str] | None = None, sub: str = "dev-user",
              ttl_seconds: int = 3600) -> str:
        claims = firebase_claims(self.project, sub, role, tenants, ttl_seconds)
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})
