"""The two pieces of other stages that ``roasloop simulate`` runs offline: valuation and guardrails.

Simulation must value stage changes the way the revenue stage does and limit budget moves the
way the executor does, or thompson and the oracle would be compared in a world the live system
never sees. Guardrails are the executor's own pure ``evaluate``. The revenue stage's pure
valuation had not landed when this was written, so :class:`DealCredit` is a thin stand-in with
the same rules (credit the increase over the highest stage value credited, a closed-won amount
replaces the estimate, closed-lost reverses everything; attribution is the market's truth, so
confidence 1); swap it for ``streams.revenue.valuation`` once that exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from streams.executor.guardrails import Limits, Proposal, evaluate
from streams.sandbox.market_types import STAGE_CATEGORY


@dataclass
class DealCredit:
    values_minor: Mapping[str, int]
    credited: dict[str, int] = field(default_factory=dict)
    highest: dict[str, int] = field(default_factory=dict)

    def credit(self, deal_id: str, stage_id: str, amount_minor: int | None) -> int:
        """The signed change to the deal's credited total that this stage change makes."""
        before = self.credited.get(deal_id, 0)
        category = STAGE_CATEGORY.get(stage_id)
        if category == "lost":
            after = 0
        elif category == "won" and amount_minor is not None:
            after = amount_minor
        else:
            value = self.values_minor.get(category or "", 0)
            after = max(before, value) if value > self.highest.get(deal_id, 0) else before
            self.highest[deal_id] = max(self.highest.get(deal_id, 0), value)
        self.credited[deal_id] = after
        return after - before


def guarded_budget(entity_id: str, campaign_id: str, currency: str, target: int, current: int,
                   min_budget_minor: int, now: datetime) -> int:
    """The budget the executor would apply for ``target`` (one change a day: a fresh 6-hour window)."""
    limits = Limits(platform_min_budget_minor=min_budget_minor)
    decision = evaluate(Proposal(entity_id, campaign_id, currency, target, current), [], limits, now, paused=False)
    if decision.action == "apply" and decision.target_minor is not None:
        return decision.target_minor
    return current
