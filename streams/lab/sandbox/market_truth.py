"""Ground truth of the simulated market: expected pipeline ROAS and the oracle allocation.

Pipeline ROAS here is what roasloop's revenue stage would *eventually* credit per unit of spend
under a stage valuation (defaults: lead 500, appointment 1,500, closed-won 5,000 major units,
with a closed-won amount replacing the estimate and closed-lost reversing the credit), once every
delay has played out. A deal that stalls keeps the credit of the stage it stalled at.
The oracle allocation is the budget split that maximises expected pipeline value for a group
total, knowing all of this: ``roasloop simulate`` measures a policy's regret against it.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping
from dataclasses import dataclass

from schemas.money import MINOR_UNIT_EXPONENT
from schemas.pipeline import DEFAULT_VALUES_MAJOR
from streams.lab.sandbox.market_scenario import AdSetSpec, DriftPoint


@dataclass(frozen=True)
class Multipliers:
    lead_rate: float = 1.0
    win_rate: float = 1.0
    cpc: float = 1.0


def drift_at(points: tuple[DriftPoint, ...], day: float) -> Multipliers:
    """Piecewise-linear drift multipliers on ``day`` (1.0 before the first point)."""
    if not points:
        return Multipliers()
    prev_day, prev = 0.0, Multipliers()
    for p in points:
        cur = Multipliers(p.lead_rate_multiplier, p.win_rate_multiplier, p.cpc_multiplier)
        if day <= p.day:
            span = p.day - prev_day
            w = 1.0 if span <= 0 else (day - prev_day) / span
            return Multipliers(
                prev.lead_rate + w * (cur.lead_rate - prev.lead_rate),
                prev.win_rate + w * (cur.win_rate - prev.win_rate),
                prev.cpc + w * (cur.cpc - prev.cpc),
            )
        prev_day, prev = float(p.day), cur
    return prev


def stage_values_minor(currency: str, major: Mapping[str, int] | None = None) -> dict[str, int]:
    """Stage-category values (``lead``/``appointment``/``won``) in minor units of ``currency``."""
    scale = 10 ** MINOR_UNIT_EXPONENT[currency]
    return {k: v * scale for k, v in (major or DEFAULT_VALUES_MAJOR).items()}


def value_per_deal_minor(spec: AdSetSpec, values_minor: Mapping[str, int], win_mult: float = 1.0) -> float:
    """Expected eventual credited value of one new deal (entering at ``appointmentscheduled``)."""
    f = spec.funnel
    stall = 1.0 - f.lost_report_rate
    lead, appt = values_minor["lead"], values_minor["appointment"]
    win = min(1.0, f.win_rate * win_mult)
    v = win * spec.deal_amount_minor + (1 - win) * stall * appt  # at contractsent
    v = f.contract_rate * v + (1 - f.contract_rate) * stall * appt  # decisionmakerboughtin
    v = f.decision_rate * v + (1 - f.decision_rate) * stall * appt  # presentationscheduled
    v = f.appointment_rate * v + (1 - f.appointment_rate) * stall * lead  # qualifiedtobuy
    return f.qualify_rate * v + (1 - f.qualify_rate) * stall * lead  # appointmentscheduled


def win_probability(spec: AdSetSpec, win_mult: float = 1.0) -> float:
    f = spec.funnel
    return f.qualify_rate * f.appointment_rate * f.decision_rate * f.contract_rate * min(1.0, f.win_rate * win_mult)


def expected_clicks(spec: AdSetSpec, spend_minor: float, cpc_mult: float = 1.0) -> float:
    """Clicks bought by a day's spend: linear, or concave when the ad set saturates."""
    linear = spend_minor / (spec.cpc_minor * cpc_mult)
    if spec.saturation_minor is None:
        return linear
    return linear / (1.0 + spend_minor / spec.saturation_minor)


@dataclass(frozen=True)
class AdSetTruth:
    adset_id: str
    group_id: str
    active: bool
    lead_rate: float
    win_probability: float
    value_per_click_minor: float
    value_per_deal_minor: float
    pipeline_roas: float  # expected eventual pipeline value / spend at the ad set's current budget
    won_roas: float  # expected closed-won amount / spend at the current budget
    marginal_roas: float  # d(value)/d(spend) at the current budget
    budget_minor: int


def _value_per_click(spec: AdSetSpec, values: Mapping[str, int], m: Multipliers) -> float:
    lead_rate = min(1.0, spec.funnel.lead_rate * m.lead_rate)
    return lead_rate * value_per_deal_minor(spec, values, m.win_rate)


def adset_truth(
    spec: AdSetSpec, adset_id: str, group_id: str, day: int, budget_minor: int, values: Mapping[str, int]
) -> AdSetTruth:
    m = drift_at(spec.drift, day)
    vpc = _value_per_click(spec, values, m)
    lead_rate = min(1.0, spec.funnel.lead_rate * m.lead_rate)
    won_per_click = lead_rate * win_probability(spec, m.win_rate) * spec.deal_amount_minor
    spend = max(float(budget_minor), 1.0)
    clicks_per_minor = expected_clicks(spec, spend, m.cpc) / spend
    return AdSetTruth(
        adset_id=adset_id,
        group_id=group_id,
        active=day >= spec.launch_day,
        lead_rate=lead_rate,
        win_probability=win_probability(spec, m.win_rate),
        value_per_click_minor=vpc,
        value_per_deal_minor=value_per_deal_minor(spec, values, m.win_rate),
        pipeline_roas=vpc * clicks_per_minor,
        won_roas=won_per_click * clicks_per_minor,
        marginal_roas=_marginal(spec, vpc, m.cpc, spend),
        budget_minor=budget_minor,
    )


def _marginal(spec: AdSetSpec, vpc: float, cpc_mult: float, spend: float) -> float:
    base = vpc / (spec.cpc_minor * cpc_mult)
    if spec.saturation_minor is None:
        return base
    return base / (1.0 + spend / spec.saturation_minor) ** 2


def oracle_allocation(
    specs: Mapping[str, AdSetSpec], total_minor: int, day: int, values: Mapping[str, int],
    lower: Mapping[str, int] | None = None, upper: Mapping[str, int] | None = None,
) -> dict[str, int]:
    """Budget split of ``total_minor`` over the ad sets active on ``day`` maximising expected value.

    Every active ad set gets its minimum (or ``lower``, when the guardrails keep it higher); the
    rest goes, in small increments, to whichever ad set has the highest marginal pipeline ROAS and
    is still under ``upper`` (exact for concave value curves: the best split inside the box the
    guardrails leave today). Inactive ad sets get 0. When the boxes cannot hold the total, every
    ad set ends at its ``upper``: less than the total is what the guardrails allow.
    """
    active = {i: s for i, s in specs.items() if day >= s.launch_day}
    out = {i: 0 for i in specs}
    if not active:
        return out
    low = {i: max(s.min_budget_minor, (lower or {}).get(i, 0)) for i, s in active.items()}
    high = {i: max(low[i], (upper or {}).get(i, total_minor)) for i in active}
    floor = sum(low.values())
    if floor > total_minor and lower is None:
        raise ValueError(f"total {total_minor} is below the sum of minimum budgets {floor}")
    out.update(low)
    remaining = total_minor - floor
    step = max(1, math.ceil(remaining / 2000))
    mult = {i: drift_at(s.drift, day) for i, s in active.items()}
    vpc = {i: _value_per_click(s, values, mult[i]) for i, s in active.items()}

    def gain(i: str) -> float:
        return _marginal(active[i], vpc[i], mult[i].cpc, out[i] + step / 2)

    heap = [(-gain(i), i) for i in sorted(active) if out[i] < high[i]]
    heapq.heapify(heap)
    while remaining > 0 and heap:
        _, best = heapq.heappop(heap)
        add = min(step, remaining, high[best] - out[best])
        out[best] += add
        remaining -= add
        if out[best] < high[best]:
            heapq.heappush(heap, (-gain(best), best))
    return out


def expected_group_value(
    specs: Mapping[str, AdSetSpec], budgets: Mapping[str, int], day: int, values: Mapping[str, int]
) -> float:
    """Expected eventual pipeline value (minor units) of one day under ``budgets`` (for regret)."""
    total = 0.0
    for i, s in specs.items():
        if day < s.launch_day:
            continue
        m = drift_at(s.drift, day)
        total += expected_clicks(s, budgets.get(i, 0), m.cpc) * _value_per_click(s, values, m)
    return total
