"""A tenant's Meta ad accounts and their credentials: the one way they are stored, listed and used.

Why here (``core/controls``): an admin sets them through the operator API (the console stage), the
insights poller (ingest) and the launcher read them, and no stage may import another. The token
and app secret are sealed (:mod:`streams.core.sealing`) before they reach the row and opened only
by :func:`credentials_for`, which returns ``SecretStr``; :func:`list_accounts` returns no secret,
not even a prefix. Every write leaves an ``operator_audit`` row naming the account, never the
secret. A refused token (Meta code 190, or 200 for an account it may not use) marks the account
``refused`` with Meta's reason, already scrubbed by the caller; the alerts stage raises on it, and
saving new credentials clears it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeAlias

import asyncpg
from pydantic import SecretStr

from streams.core.controls.audit import record_operator_action
from streams.core.db import Conn
from streams.core.sealing import Sealer

Db: TypeAlias = "Conn | asyncpg.Pool[Any]"
"""A connection, or the pool for a one-statement read or write outside any transaction."""
ACCOUNT_ID = re.compile(r"^act_[0-9]{1,20}$")


class AccountTaken(ValueError):
    """The ad account is registered to another tenant."""


@dataclass(frozen=True)
class Credentials:
    tenant_id: str
    account_id: str
    access_token: SecretStr
    app_secret: SecretStr


def normalise(account_id: str) -> str:
    account = account_id if account_id.startswith("act_") else f"act_{account_id}"
    if not ACCOUNT_ID.match(account):
        raise ValueError(f"account_id: {account_id!r} is not act_<digits>")
    return account


async def save_account(conn: Conn, sealer: Sealer, tenant_id: str, account_id: str, *, access_token: SecretStr,
                       app_secret: SecretStr, name: str, actor: str, now: datetime) -> int:
    """Store (or replace) an account's credentials, sealed; returns the row's version."""
    account = normalise(account_id)
    if not access_token.get_secret_value().strip():
        raise ValueError("access_token: empty")
    if not app_secret.get_secret_value().strip():
        raise ValueError("app_secret: empty")
    async with conn.transaction():
        owner = await conn.fetchval("SELECT tenant_id FROM meta_ad_accounts WHERE account_id = $1", account)
        if owner is not None and owner != tenant_id:
            raise AccountTaken(f"account_id: {account} belongs to another tenant")
        version = await conn.fetchval(
            "INSERT INTO meta_ad_accounts (tenant_id, account_id, name, sealed_access_token, sealed_app_secret,"
            " key_id, updated_by, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            " ON CONFLICT (tenant_id, account_id) DO UPDATE SET name = $3, sealed_access_token = $4,"
            " sealed_app_secret = $5, key_id = $6, updated_by = $7, updated_at = $8, status = 'ok',"
            " refused_at = NULL, refused_reason = NULL, version = meta_ad_accounts.version + 1 RETURNING version",
            tenant_id, account, name, sealer.seal(access_token), sealer.seal(app_secret), sealer.key_id, actor, now)
        await record_operator_action(conn, tenant_id, actor, "ad_account_saved", account,
                                     {"name": name, "key_id": sealer.key_id, "version": version})
    return int(version)


async def delete_account(conn: Conn, tenant_id: str, account_id: str, actor: str) -> bool:
    account = normalise(account_id)
    async with conn.transaction():
        status = await conn.execute("DELETE FROM meta_ad_accounts WHERE tenant_id = $1 AND account_id = $2",
                                    tenant_id, account)
        if status.endswith(" 1"):
            await record_operator_action(conn, tenant_id, actor, "ad_account_deleted", account, {})
            return True
    return False


async def list_accounts(conn: Db, tenant_id: str) -> list[dict[str, Any]]:
    """The tenant's accounts as the API shows them: no secret in any form."""
    rows = await conn.fetch(
        "SELECT account_id, name, status, refused_at, refused_reason, key_id, version, updated_by, updated_at"
        " FROM meta_ad_accounts WHERE tenant_id = $1 ORDER BY account_id", tenant_id)
    return [dict(r) for r in rows]


async def polled_accounts(conn: Db) -> list[tuple[str, str]]:
    """Every (tenant, account) with stored credentials, refused ones included (a re-issued token may work)."""
    rows = await conn.fetch("SELECT tenant_id, account_id FROM meta_ad_accounts ORDER BY tenant_id, account_id")
    return [(r["tenant_id"], r["account_id"]) for r in rows]


async def credentials_for(conn: Conn, sealer: Sealer | None, tenant_id: str, account_id: str) -> Credentials | None:
    """The account's opened credentials when this tenant owns it and a key opens them; else None."""
    if sealer is None:
        return None
    row = await conn.fetchrow(
        "SELECT sealed_access_token, sealed_app_secret FROM meta_ad_accounts WHERE tenant_id = $1"
        " AND account_id = $2", tenant_id, normalise(account_id))
    if row is None:
        return None
    return Credentials(tenant_id, normalise(account_id), sealer.open(row["sealed_access_token"]),
                       sealer.open(row["sealed_app_secret"]))


async def mark_refused(conn: Db, tenant_id: str, account_id: str, reason: str, now: datetime) -> None:
    """Meta refused the account's token; ``reason`` must already be scrubbed of secrets."""
    await conn.execute(
        "UPDATE meta_ad_accounts SET status = 'refused', refused_at = coalesce(refused_at, $3), refused_reason = $4"
        " WHERE tenant_id = $1 AND account_id = $2", tenant_id, account_id, now, reason[:500])


async def mark_ok(conn: Db, tenant_id: str, account_id: str) -> None:
    await conn.execute(
        "UPDATE meta_ad_accounts SET status = 'ok', refused_at = NULL, refused_reason = NULL"
        " WHERE tenant_id = $1 AND account_id = $2 AND status <> 'ok'", tenant_id, account_id)


async def reseal_all(conn: Conn, sealer: Sealer) -> int:
    """Rotation: move every credential not sealed with the newest key to it; returns how many rows moved."""
    moved = 0
    async with conn.transaction():
        rows = await conn.fetch("SELECT tenant_id, account_id, sealed_access_token, sealed_app_secret"
                                " FROM meta_ad_accounts WHERE key_id <> $1 FOR UPDATE", sealer.key_id)
        for r in rows:
            await conn.execute(
                "UPDATE meta_ad_accounts SET sealed_access_token = $3, sealed_app_secret = $4, key_id = $5"
                " WHERE tenant_id = $1 AND account_id = $2", r["tenant_id"], r["account_id"],
                sealer.reseal(r["sealed_access_token"]), sealer.reseal(r["sealed_app_secret"]), sealer.key_id)
            moved += 1
    return moved
