"""Everything a batch of budget requests is decided from, read at once in the batch's transaction.

Why: deciding one request read its change row, the newer requests of its entity, its current
budget, its limits, the kill switch, its campaign's history and its automation mode - seven
round trips per request, each of them a key lookup. Here each is one query over the whole
batch's keys (``unnest`` of arrays joined to the same indexes), so a batch of hundreds costs
what one request did. The rows read are exactly those the per-request readers in :mod:`.store`,
:mod:`streams.core.controls.limits`, ``killswitch`` and ``automation`` read, and the history is
kept per campaign so :mod:`.batch` can append each decision before deciding the next request
of the same campaign.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from schemas.events import BudgetChangeRequested
from streams.core.controls.automation import TENANT_WIDE, Automation, automation_of
from streams.core.controls.limits import LimitsBook
from streams.core.db import Conn
from streams.executor.guardrails import HOUR, PastChange
from streams.executor.settings import ExecutorSettings

Key = tuple[str, str]
"""``(tenant_id, campaign_id)`` or ``(tenant_id, entity_id)``."""


@dataclass
class BatchState:
    existing: dict[str, asyncpg.Record] = field(default_factory=dict)
    """change_id -> its row, for the batch's changes already recorded (redeliveries, retakes)."""
    newer: dict[str, str] = field(default_factory=dict)
    """change_id -> a newer, acted-on change of the same entity (the request is superseded)."""
    budgets: dict[Key, tuple[int, str, str]] = field(default_factory=dict)
    """(tenant, entity) -> (daily budget, currency, source) as ``entity_budgets`` has it."""
    paused: set[Key] = field(default_factory=set)
    """(tenant, campaign) pairs with automation paused; campaign ``""`` pauses the tenant."""
    modes: dict[Key, Automation] = field(default_factory=dict)
    history: dict[Key, list[PastChange]] = field(default_factory=dict)
    """(tenant, campaign) -> changes counting toward its limits, appended to as the batch decides."""
    limits: LimitsBook = field(default_factory=LimitsBook)

    def current_budget(self, tenant_id: str, entity_id: str, *, dry_run: bool) -> tuple[int, str] | None:
        """As :func:`.store.current_budget`: a live executor ignores dry-run values."""
        known = self.budgets.get((tenant_id, entity_id))
        if known is None or (not dry_run and known[2] == "dry_run"):
            return None
        return known[0], known[1]

    def is_paused(self, tenant_id: str, campaign_id: str) -> bool:
        return (tenant_id, TENANT_WIDE) in self.paused or (tenant_id, campaign_id) in self.paused

    def automation(self, tenant_id: str, campaign_id: str) -> Automation:
        """A campaign's own mode, else its tenant's, else autopilot (as ``automation_for``)."""
        return self.modes.get((tenant_id, campaign_id)) or self.modes.get((tenant_id, TENANT_WIDE)) or Automation()


def _pairs(keys: Sequence[Key]) -> tuple[list[str], list[str]]:
    unique = sorted(set(keys))
    return [a for a, _ in unique], [b for _, b in unique]


async def load_state(conn: Conn, requests: Sequence[BudgetChangeRequested], settings: ExecutorSettings,
                     now: datetime, *, dry_run: bool) -> BatchState:
    """Read the batch's state in one pass; ``now`` bounds the history as :func:`.store.load_history` does."""
    state = BatchState()
    ids = [r.change_id for r in requests]
    for row in await conn.fetch("SELECT * FROM ad_change_history WHERE change_id = ANY($1::text[])", ids):
        state.existing[row["change_id"]] = row
    for row in await conn.fetch(
            "SELECT DISTINCT ON (q.change_id) q.change_id, h.change_id AS newer FROM unnest($1::text[], $2::text[],"
            " $3::text[], $4::timestamptz[]) AS q(change_id, tenant_id, entity_id, requested_at)"
            " JOIN ad_change_history h ON h.tenant_id = q.tenant_id AND h.entity_id = q.entity_id"
            " AND h.requested_at > q.requested_at AND h.status <> 'superseded'"
            " ORDER BY q.change_id, h.requested_at DESC",
            ids, [r.tenant_id for r in requests], [r.entity_id for r in requests],
            [r.occurred_at for r in requests]):
        state.newer[row["change_id"]] = str(row["newer"])
    tenants, entities = _pairs([(r.tenant_id, r.entity_id) for r in requests])
    for row in await conn.fetch(
            "SELECT b.tenant_id, b.entity_id, b.daily_budget_minor, b.currency, b.source FROM entity_budgets b"
            " JOIN unnest($1::text[], $2::text[]) AS k(tenant_id, entity_id)"
            " ON b.tenant_id = k.tenant_id AND b.entity_id = k.entity_id", tenants, entities):
        state.budgets[(row["tenant_id"], row["entity_id"])] = (
            int(row["daily_budget_minor"]), str(row["currency"]), str(row["source"]))
    campaigns = [(r.tenant_id, r.campaign_id) for r in requests]
    scopes = campaigns + [(r.tenant_id, TENANT_WIDE) for r in requests]
    tenants, scoped = _pairs(scopes)
    for row in await conn.fetch(
            "SELECT p.tenant_id, p.campaign_id FROM automation_pauses p JOIN unnest($1::text[], $2::text[])"
            " AS k(tenant_id, campaign_id) ON p.tenant_id = k.tenant_id AND p.campaign_id = k.campaign_id",
            tenants, scoped):
        state.paused.add((row["tenant_id"], row["campaign_id"]))
    for row in await conn.fetch(
            "SELECT m.* FROM automation_modes m JOIN unnest($1::text[], $2::text[]) AS k(tenant_id, campaign_id)"
            " ON m.tenant_id = k.tenant_id AND m.campaign_id = k.campaign_id", tenants, scoped):
        state.modes[(row["tenant_id"], row["campaign_id"])] = automation_of(row)
    state.limits = await LimitsBook.load_for(conn, settings, [(r.tenant_id, r.campaign_id, r.entity_id)
                                                              for r in requests])
    window = max([HOUR] + [state.limits.limits_for(r.tenant_id, r.campaign_id, r.entity_id).change_window
                           for r in requests])
    await _load_history(conn, state, campaigns, now - window, dry_run)
    return state


async def _load_history(conn: Conn, state: BatchState, campaigns: Sequence[Key], since: datetime,
                        dry_run: bool) -> None:
    """As :func:`.store.load_history` for every campaign at once (a wider window is harmless: the
    guardrails filter each check's own window)."""
    tenants, ids = _pairs(campaigns)
    for key in zip(tenants, ids, strict=True):
        state.history[key] = []
    rows: Any = await conn.fetch(
        "SELECT h.tenant_id, h.entity_id, h.campaign_id, h.applied_at, h.previous_budget_minor,"
        " h.target_budget_minor FROM ad_change_history h JOIN unnest($1::text[], $2::text[]) AS k(tenant_id,"
        " campaign_id) ON h.tenant_id = k.tenant_id AND h.campaign_id = k.campaign_id"
        " WHERE h.counts_as_change AND h.dry_run = $3 AND h.applied_at > $4",
        tenants, ids, dry_run, since)
    for r in rows:
        state.history[(r["tenant_id"], r["campaign_id"])].append(
            PastChange(r["entity_id"], r["campaign_id"], r["applied_at"], r["previous_budget_minor"],
                       r["target_budget_minor"]))
