"""The executor's guardrails, replayed: what they would have done to a policy's budget changes.

Each policy keeps its own audit trail (the changes *it* would have made) and its own current
budgets, and every requested budget goes through :func:`streams.executor.guardrails.evaluate` -
the executor's pure function - with the replay clock's ``now`` and the limits the executor would
apply to that entity: :meth:`LimitsBook.limits_for <streams.core.controls.limits.LimitsBook.limits_for>`,
the settings with the tenant's, the campaign's and the entity's overrides. Clamps and blocks are
the interventions the report lists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from streams.core.controls.limits import LimitsBook
from streams.executor.guardrails import HOUR, PastChange, Proposal, evaluate


@dataclass(frozen=True)
class Intervention:
    at: datetime
    group_id: str
    entity_id: str
    requested_minor: int
    applied_minor: int | None
    outcome: str  # "clamped" | "blocked"
    rules: tuple[str, ...]
    detail: str

    def as_dict(self) -> dict[str, object]:
        return {"at": self.at.isoformat(), "group_id": self.group_id, "entity_id": self.entity_id,
                "requested_minor": self.requested_minor, "applied_minor": self.applied_minor,
                "outcome": self.outcome, "rules": list(self.rules), "detail": self.detail}


@dataclass
class GuardedBudgets:
    """One policy's budgets as the executor would have left them."""

    book: LimitsBook = field(default_factory=LimitsBook)
    current: dict[tuple[str, str], int] = field(default_factory=dict)
    history: list[PastChange] = field(default_factory=list)
    interventions: list[Intervention] = field(default_factory=list)
    kept: timedelta = HOUR
    """How much history is kept: the longest change window met so far (at least the hour the
    hourly counts need), since entities under other overrides share the trail."""

    def apply(self, *, tenant: str, group_id: str, campaign_id: str, currency: str, now: datetime,
              targets: dict[str, int], initial: dict[str, int | None], paused: bool) -> dict[str, int]:
        """Run each target through the guardrails; returns the budgets in force afterwards."""
        applied: dict[str, int] = {}
        for entity, target in targets.items():
            key = (tenant, entity)
            current = self.current.get(key, initial.get(entity))
            limits = self.book.limits_for(tenant, campaign_id, entity)
            self.kept = max(self.kept, limits.change_window)
            decision = evaluate(Proposal(entity, campaign_id, currency, target, current), self.history,
                                limits, now, paused=paused)
            if decision.action == "apply" and decision.target_minor is not None:
                self.history.append(PastChange(entity, campaign_id, now, current, decision.target_minor))
                self.current[key] = decision.target_minor
            elif current is not None:
                self.current[key] = current
            if decision.action == "blocked" or decision.clamped:
                self.interventions.append(Intervention(
                    now, group_id, entity, target, decision.target_minor,
                    "blocked" if decision.action == "blocked" else "clamped",
                    tuple(c.name for c in decision.failed), decision.reason))
            applied[entity] = self.current.get(key, 0)
        cutoff = now - self.kept
        self.history = [c for c in self.history if c.at > cutoff]
        return applied
