"""An allocation group's total daily budget: what a person gives the sampler to split.

Without a row, the sampler splits what the group's entities are budgeted on the platform today
(their reported daily budgets). With one, it splits this total, in the group's currency. The
console writes it (ADMIN; validated, audited, versioned); the sampler reads it at every decision.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.money import MAX_BUDGET_MINOR
from streams.core.controls.versioned import save_row
from streams.core.db import Conn

MAX_TOTAL_MINOR = MAX_BUDGET_MINOR
"""A group's total has the ceiling of any budget (:data:`schemas.money.MAX_BUDGET_MINOR`)."""


@dataclass(frozen=True)
class GroupBudget:
    tenant_id: str
    group_id: str
    total_daily_budget_minor: int
    currency: str
    version: int


async def group_budget(conn: Conn, tenant_id: str, group_id: str) -> GroupBudget | None:
    row = await conn.fetchrow("SELECT * FROM group_budgets WHERE tenant_id = $1 AND group_id = $2",
                              tenant_id, group_id)
    if row is None:
        return None
    return GroupBudget(row["tenant_id"], row["group_id"], int(row["total_daily_budget_minor"]),
                       str(row["currency"]).strip(), int(row["version"]))


async def save_group_budget(conn: Conn, tenant_id: str, group_id: str, total_minor: int, currency: str, actor: str,
                            *, minimum_total_minor: int = 0, expected_version: int | None = None) -> int:
    """Set a group's total; returns the row's new version.

    ``minimum_total_minor`` is what the group's entities need at least (their platform minimums and
    floors): a total below it cannot be split, and is refused naming the field."""
    if isinstance(total_minor, bool) or not isinstance(total_minor, int) or total_minor < 0:
        raise ValueError(f"total_daily_budget_minor: must be a non-negative integer of minor units, "
                         f"got {total_minor!r}")
    if total_minor > MAX_TOTAL_MINOR:
        raise ValueError(f"total_daily_budget_minor: above the ceiling of {MAX_TOTAL_MINOR}")
    if total_minor < minimum_total_minor:
        raise ValueError(f"total_daily_budget_minor: {total_minor} is below {minimum_total_minor}, what the group's "
                         "ad sets need at least (platform minimums and floors)")
    key = {"tenant_id": tenant_id, "group_id": group_id}
    return await save_row(conn, "group_budgets", key, {"total_daily_budget_minor": total_minor,
                                                        "currency": currency}, actor,
                          ("group_budget.set", group_id), expected_version)
