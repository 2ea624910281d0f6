"""The facts the money rules read, kept from the topics the stage consumes.

The stage keeps its own small tables rather than reading the revenue, sampler and executor stages'
ones: it judges exactly the events it consumed (no race with another stage's writes), and a stage's
schema can change without breaking alerts. Every write is idempotent by itself (a spend snapshot
replaces an older one; an outcome is keyed by its event id) or runs under the inbox (revenue sums).
"""

from __future__ import annotations

from typing import Any

from schemas.events import AllocationDecided, BudgetChangeSettled, RevenueRecognized, SpendReported
from streams.core.db import Conn
from streams.integrations.meta import THROTTLE_CODES


def meta_code(response: dict[str, Any] | None) -> int | None:
    """The Graph API error code in a platform response, if there is one."""
    error = (response or {}).get("error")
    if isinstance(error, dict):
        try:
            return int(error.get("code") or 0) or None
        except (TypeError, ValueError):
            return None
    return None


def classify(event: BudgetChangeSettled) -> tuple[bool, bool, bool]:
    """(meta_trouble, meta_clean, throttled) of a settled change.

    Trouble: Meta failed the change, or answered errors before it took (more than one attempt).
    Clean: Meta took it at the first attempt. Guardrail blocks, no-ops and dry runs are neither:
    they say nothing about Meta.
    """
    applied = event.outcome in ("completed", "clamped") and event.attempts >= 1
    trouble = event.outcome == "failed" or (applied and event.attempts > 1)
    clean = applied and event.attempts == 1
    throttled = meta_code(event.platform_response) in THROTTLE_CODES
    return trouble, clean, throttled


async def record_outcome(conn: Conn, event: BudgetChangeSettled) -> None:
    trouble, clean, throttled = classify(event)
    await conn.execute(
        "INSERT INTO alert_outcomes (event_id, tenant_id, group_id, campaign_id, entity_id, outcome, meta_trouble,"
        " meta_clean, throttled, occurred_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
        event.event_id, event.tenant_id, event.group_id, event.campaign_id, event.entity_id, event.outcome,
        trouble, clean, throttled, event.occurred_at)


async def record_spend(conn: Conn, event: SpendReported) -> None:
    """A day's snapshot for one entity; an older report never replaces a newer one."""
    await conn.execute(
        "INSERT INTO alert_spend (tenant_id, group_id, entity_id, day, spend_minor, currency, reported_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (tenant_id, group_id, entity_id, day) DO UPDATE"
        " SET spend_minor = $5, currency = $6, reported_at = $7 WHERE alert_spend.reported_at <= $7",
        event.tenant_id, event.group_id, event.entity_id, event.day, event.spend.amount_minor,
        event.spend.currency, event.occurred_at)


async def record_revenue(conn: Conn, event: RevenueRecognized) -> None:
    """Credited pipeline value per group and (UTC) day; reversals are not "no revenue" evidence either way."""
    amount = max(0, event.amount.amount_minor)
    await conn.execute(
        "INSERT INTO alert_revenue (tenant_id, group_id, day, credited_minor, credits) VALUES ($1, $2, $3, $4, 1)"
        " ON CONFLICT (tenant_id, group_id, day) DO UPDATE SET credited_minor = alert_revenue.credited_minor + $4,"
        " credits = alert_revenue.credits + 1",
        event.tenant_id, event.group_id, event.occurred_at.date(), amount)


async def record_total(conn: Conn, event: AllocationDecided) -> bool:
    """The group's total budget as of this decision; False when a newer decision is already known."""
    status = await conn.execute(
        "INSERT INTO alert_groups (tenant_id, group_id, campaign_id, total_budget_minor, currency, decided_at)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, group_id) DO UPDATE"
        " SET campaign_id = $3, total_budget_minor = $4, currency = $5, decided_at = $6"
        " WHERE alert_groups.decided_at <= $6",
        event.tenant_id, event.group_id, event.campaign_id, event.total_budget.amount_minor,
        event.total_budget.currency, event.occurred_at)
    return bool(status.endswith(" 1"))
