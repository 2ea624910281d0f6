"""How much a person wants in the loop: autopilot, approval, or shadow, per tenant and campaign.

- ``autopilot``: today's behaviour - every change the guardrails allow is sent to Meta;
- ``approval``: a change that moves a budget by more than ``approval_threshold_pct`` percent waits
  for a person (``awaiting_approval``); approved, it passes the guardrails as if just requested;
  rejected, it is never sent; unanswered for ``approval_ttl_hours``, it expires; a newer request for
  the same entity supersedes it. Changes a person requested (the operator API) never wait;
- ``shadow``: decisions and proposed changes are recorded and shown, nothing is sent to Meta.

A campaign's row wins over its tenant's; no row at all is autopilot. The executor asks
:func:`automation_for` before every change; the console writes through :func:`save_automation`
(validated, audited, versioned: :mod:`streams.core.controls.versioned`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any, Literal, get_args

from streams.core.controls.audit import record_operator_action
from streams.core.controls.versioned import save_row
from streams.core.db import Conn

Mode = Literal["autopilot", "approval", "shadow"]
MODES: tuple[Mode, ...] = get_args(Mode)
TENANT_WIDE = ""
MAX_THRESHOLD_PCT = 1000
MAX_TTL_HOURS = 720


@dataclass(frozen=True)
class Automation:
    mode: Mode = "autopilot"
    approval_threshold_pct: Decimal = Decimal(10)
    approval_ttl: timedelta = timedelta(hours=24)
    scope: Literal["default", "tenant", "campaign"] = "default"
    """Which row set it (``default``: none did)."""
    version: int = 0

    def as_dict(self) -> dict[str, object]:
        return {"mode": self.mode, "scope": self.scope, "approval_threshold_pct": float(self.approval_threshold_pct),
                "approval_ttl_hours": self.approval_ttl.total_seconds() / 3600, "version": self.version}

    def needs_approval(self, current_minor: int | None, target_minor: int) -> bool:
        """Whether a move from ``current_minor`` to ``target_minor`` must wait for a person."""
        if self.mode != "approval":
            return False
        if not current_minor:
            return True  # no known budget: the size of the move is unknown, so a person looks
        moved = Decimal(abs(target_minor - current_minor)) * 100 / Decimal(current_minor)
        return moved > self.approval_threshold_pct


async def automation_for(conn: Conn, tenant_id: str, campaign_id: str) -> Automation:
    """The mode in force for a campaign: its own row, else its tenant's, else autopilot."""
    row = await conn.fetchrow(
        "SELECT * FROM automation_modes WHERE tenant_id = $1 AND campaign_id IN ('', $2)"
        " ORDER BY campaign_id DESC LIMIT 1", tenant_id, campaign_id)
    return automation_of(row)


def automation_of(row: Mapping[str, Any] | None) -> Automation:
    """The mode an ``automation_modes`` row sets (None: no row, autopilot); batch readers share it."""
    if row is None:
        return Automation()
    return Automation(row["mode"], Decimal(row["approval_threshold_pct"]),
                      timedelta(hours=float(row["approval_ttl_hours"])),
                      "campaign" if row["campaign_id"] else "tenant", int(row["version"]))


async def save_automation(conn: Conn, tenant_id: str, campaign_id: str, mode: str, actor: str, *,
                          approval_threshold_pct: float | Decimal | None = None,
                          approval_ttl_hours: float | Decimal | None = None,
                          expected_version: int | None = None) -> int:
    """Set a tenant's (``campaign_id`` ``""``) or a campaign's mode; returns the row's new version.

    Raises ValueError naming the field for an unknown mode or an out-of-range threshold or TTL."""
    if mode not in MODES:
        raise ValueError(f"mode: {mode!r} is not one of {', '.join(MODES)}")
    changes: dict[str, object] = {"mode": mode}
    if approval_threshold_pct is not None:
        if not 0 <= approval_threshold_pct <= MAX_THRESHOLD_PCT:
            raise ValueError(f"approval_threshold_pct: must be between 0 and {MAX_THRESHOLD_PCT}")
        changes["approval_threshold_pct"] = Decimal(str(approval_threshold_pct))
    if approval_ttl_hours is not None:
        if not 0 < approval_ttl_hours <= MAX_TTL_HOURS:
            raise ValueError(f"approval_ttl_hours: must be above 0 and at most {MAX_TTL_HOURS}")
        changes["approval_ttl_hours"] = Decimal(str(approval_ttl_hours))
    key = {"tenant_id": tenant_id, "campaign_id": campaign_id or TENANT_WIDE}
    return await save_row(conn, "automation_modes", key, changes, actor,
                          ("automation_mode.set", key["campaign_id"]), expected_version)


async def clear_campaign_automation(conn: Conn, tenant_id: str, campaign_id: str, actor: str) -> bool:
    """Drop a campaign's own mode (its tenant's applies again); False when it had none."""
    async with conn.transaction():
        status = await conn.execute("DELETE FROM automation_modes WHERE tenant_id = $1 AND campaign_id = $2",
                                    tenant_id, campaign_id)
        removed = status.endswith(" 1")
        if removed:
            await record_operator_action(conn, tenant_id, actor, "automation_mode.clear", campaign_id, {})
    return removed
