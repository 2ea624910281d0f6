"""The two pieces of other stages that ``roasloop simulate`` runs offline: valuation and guardrails.

Simulation must value stage changes the way the revenue stage does and limit budget moves the
way the executor does, or thompson and the oracle would be compared in a world the live system
never sees. Both are the other stages' own pure functions: the revenue stage's
:func:`streams.revenue.valuation.apply` (attribution is the market's truth, so confidence 1) and
the executor's ``guardrails.evaluate`` under the limits ``effective_limits`` builds from the
executor's settings. This module only keeps the per-deal state between calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from schemas.pipeline import StageValues, canonical_stage
from streams.core.controls.limits import GuardrailSettings, Override, effective_limits
from streams.executor.guardrails import Proposal, evaluate
from streams.revenue.valuation import Credit, DealState, apply


@dataclass
class DealLedger:
    """Every deal's valuation state, as the revenue stage keeps it; credits come from ``apply``."""

    values: StageValues
    deals: dict[str, DealState] = field(default_factory=dict)

    def credited(self, deal_id: str) -> int:
        state = self.deals.get(deal_id)
        return state.credited_minor if state else 0

    def credit(self, deal_id: str, stage_id: str, amount_minor: int | None, at: datetime) -> int:
        """The signed change to the deal's credited total that this stage change makes."""
        credit = self.change(deal_id, stage_id, amount_minor, at)
        return credit.amount_minor if credit else 0

    def change(self, deal_id: str, stage_id: str, amount_minor: int | None, at: datetime) -> Credit | None:
        """The credit (kind, signed change, new total) this stage change makes, as the revenue stage
        would publish it; None when it credits nothing."""
        stage = canonical_stage(stage_id)
        if stage is None:
            return None
        state, credit = apply(self.deals.get(deal_id, DealState()), stage, self.values, 1.0, amount_minor, at)
        self.deals[deal_id] = state
        return credit


def guarded_budget(entity_id: str, campaign_id: str, currency: str, target: int, current: int,
                   min_budget_minor: int, now: datetime, *, settings: GuardrailSettings) -> int:
    """The budget the executor would apply for ``target`` under ``settings`` (``ROASLOOP_EXECUTOR_*``).

    The market knows each ad set's own minimum budget, which stands in for the platform minimum.
    A scenario has no tenant or campaign overrides. The simulator moves each budget once a day at
    the day's start with an empty history: the limits on one change (the fraction, the policy, the
    minimum) apply; the hourly counts and a change window longer than a day, which only earlier
    changes could fill, do not.
    """
    limits = effective_limits(settings, Override(platform_min_budget_minor=min_budget_minor))
    decision = evaluate(Proposal(entity_id, campaign_id, currency, target, current), [], limits, now, paused=False)
    if decision.action == "apply" and decision.target_minor is not None:
        return decision.target_minor
    return current
