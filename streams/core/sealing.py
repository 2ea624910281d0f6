"""Secrets at rest: seal (encrypt and authenticate) what must be stored, such as an ad account's token.

Why Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``): it authenticates as well as
encrypts, so a tampered or truncated row fails to open instead of yielding garbage, and
``MultiFernet`` gives key rotation for free: the first key seals, every listed key opens, and
:meth:`Sealer.reseal` moves a value to the first key. Keys come from
``ROASLOOP_CREDENTIALS_KEYS`` (comma separated, newest first); an operator writes any long random
string (``openssl rand -hex 32``), from which the Fernet key is derived, so no base64 ceremony.
A sealed value names its key by a short fingerprint (``key_id``) so an operator can see which rows
still need rotating; the fingerprint reveals nothing about the key.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr

from streams.core.errors import ConfigError, RoasloopError
from streams.core.redaction import register_secret


class SealingUnavailable(RoasloopError):
    """No ``ROASLOOP_CREDENTIALS_KEYS``: nothing secret can be stored or read back."""


class CannotOpen(RoasloopError):
    """A sealed value none of the configured keys opens (a key was dropped too early, or tampering)."""


def _fernet(key: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(b"roasloop-seal:" + key.encode()).digest()))


def key_id(key: str) -> str:
    return hashlib.sha256(b"roasloop-seal-id:" + key.encode()).hexdigest()[:12]


class Sealer:
    def __init__(self, keys: list[str]) -> None:
        keys = [k.strip() for k in keys if k.strip()]
        if not keys:
            raise ConfigError("ROASLOOP_CREDENTIALS_KEYS: no key given")
        if any(len(k) < 16 for k in keys):
            raise ConfigError("ROASLOOP_CREDENTIALS_KEYS: every key must be at least 16 characters")
        for k in keys:
            register_secret(k)
        self._multi = MultiFernet([_fernet(k) for k in keys])
        self.key_id = key_id(keys[0])

    @classmethod
    def from_setting(cls, value: SecretStr | None) -> Sealer | None:
        return None if value is None else cls(value.get_secret_value().split(","))

    def seal(self, secret: SecretStr) -> bytes:
        return self._multi.encrypt(secret.get_secret_value().encode())

    def open(self, sealed: bytes) -> SecretStr:
        try:
            value = self._multi.decrypt(bytes(sealed)).decode()
        except InvalidToken:
            raise CannotOpen("a sealed credential opens with none of ROASLOOP_CREDENTIALS_KEYS") from None
        register_secret(value)
        return SecretStr(value)

    def reseal(self, sealed: bytes) -> bytes:
        """The same secret sealed with the newest key (rotation)."""
        try:
            return self._multi.rotate(bytes(sealed))
        except InvalidToken:
            raise CannotOpen("a sealed credential opens with none of ROASLOOP_CREDENTIALS_KEYS") from None
