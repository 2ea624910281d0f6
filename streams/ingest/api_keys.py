"""Per-tenant producer API keys for ``POST /v1/clicks``: issue, resolve, revoke.

Only ``sha256(key)`` is stored (``click_api_keys``); the key itself is shown once, at issue.
"""

from __future__ import annotations

import hashlib
import secrets

from streams.core.db import Conn

KEY_PREFIX = "rlk_"


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def issue(conn: Conn, tenant_id: str, label: str = "") -> str:
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    await conn.execute("INSERT INTO click_api_keys (key_hash, tenant_id, label) VALUES ($1, $2, $3)",
                       key_hash(key), tenant_id, label)
    return key


async def tenant_for(conn: Conn, key: str) -> str | None:
    """The tenant a presented key belongs to, or None (unknown or revoked)."""
    if not key or len(key) > 200:
        return None
    tenant: str | None = await conn.fetchval(
        "SELECT tenant_id FROM click_api_keys WHERE key_hash = $1 AND revoked_at IS NULL", key_hash(key)
    )
    return tenant


async def revoke(conn: Conn, key: str) -> bool:
    status = await conn.execute(
        "UPDATE click_api_keys SET revoked_at = now() WHERE key_hash = $1 AND revoked_at IS NULL",
        key_hash(key),
    )
    return status.endswith(" 1")
