"""The executor's tables: the audit trail the guardrails read, and the budgets it knows (asyncpg).

``ad_change_history`` is both the audit record and the guardrails' state: the history a check
needs is a range query on it, so whoever owns a campaign's partition after a rebalance sees
exactly what the previous owner wrote - there is no other copy to rebuild or to go stale.
All times stored here are the executor clock's (event time), never the database's ``now()``.
Functions that run one statement outside any transaction also take the pool (asyncpg borrows a
connection for that statement); those that take part in a transaction take a connection.
Writes return the row as written (``RETURNING``), so no caller reads it back.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import asyncpg

from schemas.events import BudgetChangeRequested, BudgetChangeSettled, GuardrailResult
from schemas.money import Money
from streams.core.db import Conn
from streams.core.redaction import scrub_text, scrub_value
from streams.executor.guardrails import HOUR, PastChange


async def get_change(conn: Conn | asyncpg.Pool[Any], change_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM ad_change_history WHERE change_id = $1", change_id)


async def newer_request_settled(conn: Conn | asyncpg.Pool[Any], request: BudgetChangeRequested) -> str | None:
    """A change for the same entity requested later than this one and already acted on."""
    value = await conn.fetchval(
        "SELECT change_id FROM ad_change_history WHERE tenant_id = $1 AND entity_id = $2 AND requested_at > $3 "
        "AND status <> 'superseded' ORDER BY requested_at DESC LIMIT 1",
        request.tenant_id, request.entity_id, request.occurred_at,
    )
    return str(value) if value is not None else None


async def load_history(conn: Conn, tenant_id: str, campaign_id: str, now: datetime, window: timedelta,
                       *, dry_run: bool, exclude: str | None = None) -> list[PastChange]:
    """Changes of the campaign (all its entities) that count toward the limits, newest window.

    Open intents (``executing``) count: Meta may already have applied them. Dry-run rows count
    only for a dry-run executor, so a simulation obeys the same limits a live run would. An
    unsent intent decided again leaves itself out (``exclude``): it must not block itself.
    """
    rows = await conn.fetch(
        "SELECT entity_id, campaign_id, applied_at, previous_budget_minor, target_budget_minor "
        "FROM ad_change_history WHERE tenant_id = $1 AND campaign_id = $2 AND counts_as_change "
        "AND dry_run = $3 AND applied_at > $4 AND change_id IS DISTINCT FROM $5",
        tenant_id, campaign_id, dry_run, now - max(window, HOUR), exclude,
    )
    return [
        PastChange(r["entity_id"], r["campaign_id"], r["applied_at"], r["previous_budget_minor"],
                   r["target_budget_minor"])
        for r in rows
    ]


async def current_budget(conn: Conn | asyncpg.Pool[Any], tenant_id: str, entity_id: str, *,
                         dry_run: bool) -> tuple[int, str] | None:
    """The last budget the executor set or read; a live executor ignores dry-run values."""
    row = await conn.fetchrow(
        "SELECT daily_budget_minor, currency, source FROM entity_budgets WHERE tenant_id = $1 AND entity_id = $2",
        tenant_id, entity_id,
    )
    if row is None or (not dry_run and row["source"] == "dry_run"):
        return None
    return int(row["daily_budget_minor"]), str(row["currency"])


_UPSERT_BUDGET = (
    "INSERT INTO entity_budgets (tenant_id, entity_id, entity_level, campaign_id, group_id, currency, "
    "daily_budget_minor, source, change_id, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) "
    "ON CONFLICT (tenant_id, entity_id) DO UPDATE SET daily_budget_minor = $7, currency = $6, source = $8, "
    "change_id = $9, updated_at = $10")


async def upsert_budget(conn: Conn, request: BudgetChangeRequested, budget_minor: int, source: str,
                        change_id: str | None, at: datetime) -> None:
    await conn.execute(
        _UPSERT_BUDGET, request.tenant_id, request.entity_id, request.entity_level, request.campaign_id,
        request.group_id, request.requested_budget.currency, budget_minor, source, change_id, at,
    )


def guardrails_json(checks: tuple[GuardrailResult, ...] | list[GuardrailResult]) -> list[dict[str, Any]]:
    return [c.model_dump(mode="json") for c in checks]


def _scrubbed(fields: dict[str, Any]) -> dict[str, Any]:
    """The error and platform response as they may be kept: what Meta echoed (a token, an email) is
    published and read by viewers from here, so it is scrubbed once more whoever produced it."""
    if isinstance(fields.get("error"), str):
        fields["error"] = scrub_text(fields["error"])
    if fields.get("platform_response") is not None:
        fields["platform_response"] = scrub_value(fields["platform_response"])
    return fields


def _insert_values(request: BudgetChangeRequested, status: str, dry_run: bool, decided_at: datetime,
                   received_at: datetime | None, fields: dict[str, Any]) -> dict[str, Any]:
    return {
        "change_id": request.change_id, "event_id": request.event_id, "tenant_id": request.tenant_id,
        "group_id": request.group_id, "campaign_id": request.campaign_id, "entity_id": request.entity_id,
        "entity_level": request.entity_level, "source": request.source, "requested_by": request.requested_by,
        "decision_id": request.decision_id, "reason": request.reason, "status": status, "dry_run": dry_run,
        "currency": request.requested_budget.currency,
        "requested_budget_minor": request.requested_budget.amount_minor,
        "requested_at": request.occurred_at, "received_at": received_at, "decided_at": decided_at,
        **_scrubbed(fields),
    }


def _insert_sql(columns: list[str]) -> str:
    params = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    return (f"INSERT INTO ad_change_history ({', '.join(columns)}) VALUES ({params}) "
            "ON CONFLICT (change_id) DO NOTHING RETURNING *")


async def insert_change(conn: Conn | asyncpg.Pool[Any], request: BudgetChangeRequested, *, status: str,
                        dry_run: bool, decided_at: datetime, received_at: datetime | None,
                        **fields: Any) -> asyncpg.Record | None:
    """Insert the change's row and return it; None when it exists already (someone else owns it)."""
    values = _insert_values(request, status, dry_run, decided_at, received_at, fields)
    return await conn.fetchrow(_insert_sql(list(values)), *values.values())


async def insert_changes(conn: Conn, rows: list[tuple[BudgetChangeRequested, datetime | None, dict[str, Any]]]
                         ) -> dict[str, asyncpg.Record]:
    """:func:`insert_change` for a batch of ``(request, received_at, fields)``, pipelined per column set;
    the rows inserted by change_id (one taken already is absent, as ``insert_change`` returns None)."""
    by_columns: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
    for request, received_at, fields in rows:
        rest = dict(fields)
        values = _insert_values(request, rest.pop("status"), rest.pop("dry_run"), rest.pop("decided_at"),
                                received_at, rest)
        by_columns.setdefault(tuple(values), []).append(tuple(values.values()))
    inserted: dict[str, asyncpg.Record] = {}
    for columns, args in by_columns.items():
        for row in await conn.fetchmany(_insert_sql(list(columns)), args):
            inserted[row["change_id"]] = row
    return inserted


async def settle_change(conn: Conn, change_id: str, **fields: Any) -> asyncpg.Record | None:
    """Move an ``executing`` row to its final outcome and return it (only once: the WHERE keeps it so);
    None when it was no longer executing (someone else settled it)."""
    fields = _scrubbed(fields)
    sets = ", ".join(f"{name} = ${i}" for i, name in enumerate(fields, start=2))
    return await conn.fetchrow(
        f"UPDATE ad_change_history SET {sets} WHERE change_id = $1 AND status = 'executing' RETURNING *",
        change_id, *fields.values(),
    )


async def retake_intent(conn: Conn, change_id: str, **fields: Any) -> asyncpg.Record | None:
    """Give a never-sent intent a new decision (its owner lost the partition before sending) and
    return it; None when it was sent or settled meanwhile."""
    fields = _scrubbed(fields)
    sets = ", ".join(f"{name} = ${i}" for i, name in enumerate(fields, start=2))
    return await conn.fetchrow(
        f"UPDATE ad_change_history SET {sets} WHERE change_id = $1 AND status = 'executing' AND sent_at IS NULL "
        "RETURNING *", change_id, *fields.values())


async def resolve_awaiting(conn: Conn, change_id: str, **fields: Any) -> asyncpg.Record | None:
    """Move an ``awaiting_approval`` row on (approved: to its guardrail decision; or rejected,
    expired, superseded) and return it; None when it no longer waited (someone acted first)."""
    sets = ", ".join(f"{name} = ${i}" for i, name in enumerate(fields, start=2))
    return await conn.fetchrow(
        f"UPDATE ad_change_history SET {sets} WHERE change_id = $1 AND status = 'awaiting_approval' RETURNING *",
        change_id, *fields.values(),
    )


async def supersede_awaiting(conn: Conn, tenant_id: str, entity_id: str, by: str, at: datetime
                             ) -> list[asyncpg.Record]:
    """A newer request for an entity supersedes its changes still waiting for a person."""
    return await conn.fetch(
        "UPDATE ad_change_history SET status = 'superseded', superseded_by = $3, settled_at = $4,"
        " error = 'superseded by ' || $3 WHERE tenant_id = $1 AND entity_id = $2 AND status = 'awaiting_approval'"
        " AND change_id <> $3 RETURNING *", tenant_id, entity_id, by, at)


async def supersede_awaiting_many(conn: Conn, newer: list[tuple[str, str, str]], at: datetime
                                  ) -> dict[str, list[asyncpg.Record]]:
    """:func:`supersede_awaiting` for a batch of ``(tenant_id, entity_id, by)``: the rows each ``by`` superseded."""
    superseded: dict[str, list[asyncpg.Record]] = {by: [] for _, _, by in newer}
    if newer:
        for row in await conn.fetchmany(
                "UPDATE ad_change_history SET status = 'superseded', superseded_by = $3, settled_at = $4,"
                " error = 'superseded by ' || $3 WHERE tenant_id = $1 AND entity_id = $2"
                " AND status = 'awaiting_approval' AND change_id <> $3 RETURNING *",
                [(tenant, entity, by, at) for tenant, entity, by in newer]):
            superseded[row["superseded_by"]].append(row)
    return superseded


async def upsert_budgets(conn: Conn, budgets: list[tuple[BudgetChangeRequested, int]], source: str,
                         at: datetime) -> None:
    """:func:`upsert_budget` for a batch of ``(request, budget)``, each set by its own change."""
    if budgets:
        await conn.executemany(
            _UPSERT_BUDGET, [(r.tenant_id, r.entity_id, r.entity_level, r.campaign_id, r.group_id,
                              r.requested_budget.currency, budget, source, r.change_id, at) for r, budget in budgets])


async def due_awaiting(conn: Conn | asyncpg.Pool[Any], now: datetime, limit: int = 500) -> list[asyncpg.Record]:
    """Changes that waited for a person past their expiry."""
    return await conn.fetch(
        "SELECT * FROM ad_change_history WHERE status = 'awaiting_approval' AND expires_at <= $1"
        " ORDER BY expires_at LIMIT $2", now, limit)


def request_of(row: asyncpg.Record) -> BudgetChangeRequested:
    """The request a stored change came from (an approved change is then decided like a new one)."""
    return BudgetChangeRequested(
        event_id=row["event_id"], tenant_id=row["tenant_id"], occurred_at=row["requested_at"],
        change_id=row["change_id"], group_id=row["group_id"], campaign_id=row["campaign_id"],
        entity_id=row["entity_id"], entity_level=row["entity_level"],
        requested_budget=Money(amount_minor=int(row["requested_budget_minor"]), currency=str(row["currency"])),
        previous_budget_minor=row["previous_budget_minor"], source=row["source"], requested_by=row["requested_by"],
        decision_id=row["decision_id"], reason=row["reason"],
    )


async def executing_changes(conn: Conn | asyncpg.Pool[Any]) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM ad_change_history WHERE status = 'executing' ORDER BY decided_at")


def outcome_of(row: asyncpg.Record | dict[str, Any]) -> BudgetChangeSettled:
    """The ``budget.outcomes.v1`` event for a row; the same event_id every time (consumers dedupe).

    A change waiting for a person is announced as ``awaiting:<change_id>``, its final outcome as
    ``settled:<change_id>``: two events, each published exactly once downstream."""
    guardrails = [GuardrailResult.model_validate(g) for g in (row["guardrails"] or [])]
    prefix = "awaiting" if row["status"] == "awaiting_approval" else "settled"
    return BudgetChangeSettled(
        event_id=f"{prefix}:{row['change_id']}",
        tenant_id=row["tenant_id"],
        occurred_at=row["settled_at"] or row["decided_at"],
        change_id=row["change_id"],
        group_id=row["group_id"],
        campaign_id=row["campaign_id"],
        entity_id=row["entity_id"],
        entity_level=row["entity_level"],
        outcome=row["status"],
        currency=str(row["currency"]),
        requested_budget_minor=int(row["requested_budget_minor"]),
        previous_budget_minor=row["previous_budget_minor"],
        applied_budget_minor=row["applied_budget_minor"],
        guardrails=guardrails,
        attempts=int(row["attempts"]),
        error=row["error"],
        platform_response=row["platform_response"],
        reviewed_by=row["reviewed_by"],
    )
