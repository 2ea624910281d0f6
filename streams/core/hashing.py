"""Keyed hashes of personal identifiers, the only form in which they travel.

Emails, IPs and user agents are matched across stages (a click's IP hash against a contact's),
so everyone must hash them the same way: HMAC-SHA256 keyed by ``settings.hash_key``, hex. A
keyed hash (not a plain SHA-256) because the space of emails and IPv4 addresses is small
enough to brute-force an unkeyed hash.
"""

from __future__ import annotations

import hashlib
import hmac

from pydantic import SecretStr


def keyed_hash(key: SecretStr | str | bytes, value: str) -> str:
    """HMAC-SHA256 hex of ``value`` under ``key`` (pass ``settings.hash_key``)."""
    if isinstance(key, SecretStr):
        key = key.get_secret_value()
    raw_key = key.encode() if isinstance(key, str) else key
    return hmac.new(raw_key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def normalize_email(email: str) -> str:
    """Trim and lowercase: the same mailbox typed twice must hash the same."""
    return email.strip().lower()


def email_hash(key: SecretStr, email: str | None) -> str | None:
    return keyed_hash(key, normalize_email(email)) if email and email.strip() else None


def ip_hash(key: SecretStr, ip: str | None) -> str | None:
    return keyed_hash(key, ip.strip().lower()) if ip and ip.strip() else None


def user_agent_hash(key: SecretStr, user_agent: str | None) -> str | None:
    return keyed_hash(key, user_agent.strip()) if user_agent and user_agent.strip() else None
