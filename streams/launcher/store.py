"""The launcher's rows: the intent before Meta is called, the outcome after, the catalog entries.

Why an intent row committed *before* the first Graph call: a creation is not idempotent on Meta's
side, so a request must never reach Meta twice. The row, keyed by (tenant, request_id), is claimed
with ``INSERT ... ON CONFLICT DO NOTHING``; whoever finds it already there does not call Meta. A
row left ``executing`` means a process died mid-call: it is settled ``failed`` (saying what may
exist in Meta), not retried. New ads join ``ad_catalog`` (so clicks on them carry their ad set
and campaign at once) and new ad sets and campaigns ``entity_groups`` (their allocation group), in
the transaction that settles the request.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from schemas.launch import LaunchRequested
from streams.core.db import Conn

FINAL = ("created", "applied", "blocked", "dry_run", "failed")


async def claim(conn: Conn, request: LaunchRequested, now: datetime) -> str | None:
    """Write the intent; None when claimed now, else the status the row already has."""
    inserted = await conn.fetchval(
        "INSERT INTO launch_requests (tenant_id, request_id, account_id, kind, status, requested_by, spec,"
        " requested_at, started_at) VALUES ($1, $2, $3, $4, 'executing', $5, $6, $7, $8)"
        " ON CONFLICT DO NOTHING RETURNING true",
        request.tenant_id, request.request_id, request.account_id, request.spec.kind, request.requested_by,
        request.spec.model_dump(mode="json"), request.occurred_at, now)
    if inserted:
        return None
    status = await conn.fetchval("SELECT status FROM launch_requests WHERE tenant_id = $1 AND request_id = $2",
                                 request.tenant_id, request.request_id)
    return str(status)


async def note_progress(conn: Conn, tenant_id: str, request_id: str, created: dict[str, str],
                        sent: list[dict[str, Any]]) -> None:
    """What exists in Meta so far (an ad is several calls): a failure later still reports it."""
    await conn.execute("UPDATE launch_requests SET created = $3, sent = $4 WHERE tenant_id = $1 AND request_id = $2",
                       tenant_id, request_id, created, sent)


async def settle(conn: Conn, tenant_id: str, request_id: str, status: str, created: dict[str, str],
                 sent: list[dict[str, Any]], error: str | None, now: datetime) -> bool:
    """The final outcome, once: False when the row was settled already."""
    done = await conn.fetchval(
        "UPDATE launch_requests SET status = $3, created = $4, sent = $5, error = $6, settled_at = $7"
        " WHERE tenant_id = $1 AND request_id = $2 AND status = 'executing' RETURNING true",
        tenant_id, request_id, status, created, sent, error, now)
    return bool(done)


async def created_id(conn: Conn, tenant_id: str, request_id: str, key: str) -> tuple[str | None, str | None]:
    """The Meta id another launch created (``key``: campaign_id, adset_id), and its group; or why not."""
    row = await conn.fetchrow("SELECT status, created FROM launch_requests WHERE tenant_id = $1 AND request_id = $2",
                              tenant_id, request_id)
    if row is None:
        return None, f"no launch request {request_id!r}"
    if row["status"] != "created" or key not in row["created"]:
        return None, f"launch request {request_id!r} is {row['status']}, it created no {key}"
    return str(row["created"][key]), None


async def group_of(conn: Conn, tenant_id: str, entity_id: str) -> str | None:
    value = await conn.fetchval("SELECT group_id FROM entity_groups WHERE tenant_id = $1 AND entity_id = $2",
                                tenant_id, entity_id)
    return str(value) if value is not None else None


async def campaign_of_adset(conn: Conn, tenant_id: str, adset_id: str) -> str | None:
    value = await conn.fetchval("SELECT campaign_id FROM entity_groups WHERE tenant_id = $1 AND entity_id = $2",
                                tenant_id, adset_id)
    return str(value) if value is not None else None


async def join_group(conn: Conn, tenant_id: str, entity_id: str, group_id: str, campaign_id: str) -> None:
    await conn.execute(
        "INSERT INTO entity_groups (tenant_id, entity_id, group_id, campaign_id) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (tenant_id, entity_id) DO NOTHING", tenant_id, entity_id, group_id, campaign_id)


async def catalog_ad(conn: Conn, tenant_id: str, ad_id: str, adset_id: str, campaign_id: str, now: datetime) -> None:
    await conn.execute(
        "INSERT INTO ad_catalog (tenant_id, ad_id, adset_id, campaign_id, learned_at) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (tenant_id, ad_id) DO NOTHING", tenant_id, ad_id, adset_id, campaign_id, now)


async def changes_since(conn: Conn, tenant_id: str, kind: str, entity_id: str, since: datetime) -> int:
    """Status or bid changes of one entity that reached Meta since ``since`` (the per-type guardrail)."""
    return int(await conn.fetchval(
        "SELECT count(*) FROM launch_requests WHERE tenant_id = $1 AND kind = $2 AND spec ->> 'entity_id' = $3"
        " AND status = 'applied' AND settled_at > $4", tenant_id, kind, entity_id, since))


async def campaign_of_entity(conn: Conn, tenant_id: str, entity_id: str) -> str | None:
    """An ad set's campaign (its group row) or an ad's (the catalog); None when roasloop does not know it."""
    value = await conn.fetchval(
        "SELECT campaign_id FROM entity_groups WHERE tenant_id = $1 AND entity_id = $2 UNION ALL"
        " SELECT campaign_id FROM ad_catalog WHERE tenant_id = $1 AND ad_id = $2 LIMIT 1", tenant_id, entity_id)
    return str(value) if value is not None else None
