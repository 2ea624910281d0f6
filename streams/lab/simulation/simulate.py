"""``roasloop simulate``: a policy against the sandbox market, offline, with known ground truth.

Each simulated day: every group's policy splits the group total over the ad sets that reported
spend (through the same :class:`~streams.sampler.state.GroupState` the live stage keeps, the
same hysteresis, and the executor's guardrails under its settings, ``ROASLOOP_EXECUTOR_*`` - at
one change a day the default 20%-per-6-hours rule caps each day's move at 20%), the market runs
the day, and its outcome is fed back as the live system would see it: spend snapshots with
platform results, and stage changes valued into signed revenue credits on the cohort of their click.

After the last day the market runs on at zero budget until the deals in flight have settled, so
``pipeline_revenue_minor`` is all the pipeline value the horizon's spend earned, not only what
happened to close in time. The same seed drives the oracle's run: the market draws each (day, ad
set) from its own random stream, so both runs see the same luck for the same spend and the
regret is sharp.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from schemas.pipeline import StageValues
from streams.core.controls.limits import GuardrailSettings, guardrail_settings
from streams.lab.policies import Oracle, make_policy
from streams.lab.sandbox.market import Market
from streams.lab.sandbox.market_scenario import Scenario
from streams.lab.sandbox.market_types import DayOutcome
from streams.lab.simulation.adapters import DealLedger, guarded_budget
from streams.priors.features import EntityFeatures
from streams.priors.source import PriorSource
from streams.sampler.allocation import change_pays, guardrail_box, plan_budgets
from streams.sampler.coldstart import external_priors
from streams.sampler.inflight import DealCredit
from streams.sampler.policy import Allocation, AllocationRequest, Policy
from streams.sampler.state import GroupState, ModelConfig

HYSTERESIS = 0.05
FeaturesFn = Callable[[GroupState, tuple[str, ...]], Mapping[str, EntityFeatures]]
ObserveFn = Callable[[int, AllocationRequest, Allocation], None]
DRAIN_DAYS = 150


@dataclass
class RunResult:
    policy: str
    scenario: str
    seed: int
    days: int
    pipeline_revenue_minor: int = 0
    spend_minor: int = 0
    expected_pipeline_value_minor: int = 0
    revenue_by_entity: dict[str, int] = field(default_factory=dict)
    spend_by_entity: dict[str, int] = field(default_factory=dict)
    allocations: list[dict[str, Any]] = field(default_factory=list)
    budget_changes: int = 0
    total_budget_minor: int = 0
    """Sum over days of each delivering group's total: what the horizon was given to spend."""
    min_budget_share: float = 1.0
    """Lowest (day, group) ratio of the budgets in force to the group's total."""
    max_budget_share: float = 0.0
    """Highest such ratio (above 1: the group ran over its total)."""


def _count_budget(outcome: DayOutcome, totals: Mapping[str, int], result: RunResult) -> None:
    in_force: dict[str, int] = {}
    for d in outcome.delivery:
        in_force[d.group_id] = in_force.get(d.group_id, 0) + d.daily_budget_minor
    for group_id, budget in in_force.items():
        result.total_budget_minor += totals[group_id]
        if totals[group_id] > 0:
            result.min_budget_share = min(result.min_budget_share, budget / totals[group_id])
            result.max_budget_share = max(result.max_budget_share, budget / totals[group_id])


def _oracle_for(market: Market, limits: GuardrailSettings, min_budget: Mapping[str, int]) -> Oracle:
    """The oracle: each day, the best split of the total the guardrails allow from today's budgets.

    It knows the truth of that day (drift included) and moves under the same velocity limit as every
    policy, so no policy can beat it in expectation by moving faster than it may. Ad sets the group
    does not allocate over today (launched, no spend reported yet) keep their budget.
    """
    start = market.scenario.start_date
    members = {g.group_id: [a.adset_id for a in g.adsets] for g in market.entities().groups}

    def truth(request: AllocationRequest) -> dict[str, int]:
        day = (request.now.date() - start).days
        everyone = [e for e in members[request.state.group_id] if market.spec(e).launch_day <= day]
        current = np.array([market.budget_of(e) for e in everyone], dtype=np.int64)
        mins = np.array([min_budget[e] for e in everyone], dtype=np.int64)
        low, high = guardrail_box(current, mins, limits.max_change_fraction)
        deciding = set(request.entity_ids)
        lower = {e: int(lo) if e in deciding else int(c)
                 for e, lo, c in zip(everyone, low.tolist(), current.tolist(), strict=True)}
        upper = {e: int(hi) if e in deciding else int(c)
                 for e, hi, c in zip(everyone, high.tolist(), current.tolist(), strict=True)}
        total = request.total_minor + sum(int(c) for e, c in zip(everyone, current.tolist(), strict=True)
                                          if e not in deciding)
        split = market.oracle_allocation(request.state.group_id, total, day, lower=lower, upper=upper)
        return {e: split[e] for e in request.entity_ids}

    return Oracle(truth)


def _feed(outcome: DayOutcome, states: dict[str, GroupState], credit: DealLedger,
          click_times: dict[str, datetime], in_horizon: bool, by_entity: dict[str, int]) -> int:
    """Hand one day's outcome to the group states; return the pipeline value credited that day."""
    if in_horizon:
        for c in outcome.clicks:
            click_times[c.click_id] = c.occurred_at
        for d in outcome.delivery:
            states[d.group_id].record_spend(d.adset_id, d.campaign_id, d.day, d.spend_minor, d.clicks,
                                            d.impressions, d.leads, d.daily_budget_minor)
    credited = 0
    for change in outcome.stage_changes:
        before = credit.credited(change.deal_id)
        made = credit.change(change.deal_id, change.stage_id, change.amount_minor, change.occurred_at)
        delta = made.amount_minor if made else 0
        credited += delta
        by_entity[change.adset_id] = by_entity.get(change.adset_id, 0) + delta
        if made and in_horizon:
            deal = DealCredit(change.deal_id, made.kind, change.stage_id, made.credited_total_minor)
            states[change.group_id].record_revenue(change.adset_id, change.campaign_id, delta, change.occurred_at,
                                                   click_times.get(change.click_id), new_deal=before == 0 < delta,
                                                   deal=deal)
    return credited


def run(scenario: Scenario | str | Path, policy_name: str, seed: int = 0, days: int | None = None,
        model: ModelConfig | None = None, drain_days: int = DRAIN_DAYS, prior_source: PriorSource | None = None,
        features: FeaturesFn | None = None, keep_states: dict[str, GroupState] | None = None,
        guardrails: GuardrailSettings | None = None, observe: ObserveFn | None = None) -> RunResult:
    """One policy over the horizon, then the drain. ``prior_source`` (with ``features`` describing
    each entity from what the group state has seen) feeds the cold-start prior, as live.
    ``guardrails`` default to the executor's settings (``ROASLOOP_EXECUTOR_*``), as live.
    ``observe`` sees each day's request and allocation (the stop-loss evaluation judges its posterior)."""
    limits = guardrails if guardrails is not None else guardrail_settings()
    market = Market.from_scenario(scenario, seed)
    horizon = days or market.scenario.days
    ents = market.entities()
    min_budget = {a.adset_id: a.min_budget_minor for a in ents.adsets()}
    policy: Policy = (_oracle_for(market, limits, min_budget) if policy_name == "oracle"
                      else make_policy(policy_name, model))
    config = model or ModelConfig()
    states = {g.group_id: GroupState.for_model(ents.tenant_id, g.group_id, config, ents.currency,
                                               g.total_budget_minor)
              for g in ents.groups}
    credit = DealLedger(StageValues.defaults(ents.currency))
    click_times: dict[str, datetime] = {}
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x5A3]))
    result = RunResult(policy_name, market.scenario.name, seed, horizon)
    totals = {g.group_id: g.total_budget_minor for g in ents.groups}
    for day in range(horizon):
        now = market.day_start()
        today = now.date()
        for group in ents.groups:
            state = states[group.group_id]
            ids = tuple(state.active_entities(today, ttl_days=1))
            if not ids:
                continue
            current = np.array([market.budget_of(e) for e in ids], dtype=np.int64)
            mins = np.array([min_budget[e] for e in ids], dtype=np.int64)
            external = None
            if prior_source is not None:
                known = features(state, ids) if features is not None else None
                external = external_priors(prior_source, ids, known)
            request = AllocationRequest(state, now, ids, mins, group.total_budget_minor, external)
            allocation = policy.allocate(request, rng)
            if observe is not None:
                observe(day, request, allocation)
            targets = allocation.budgets if policy_name == "oracle" else plan_budgets(
                allocation.budgets, current, mins, group.total_budget_minor,
                max_change_fraction=limits.max_change_fraction, hysteresis=HYSTERESIS)
            if allocation.posterior is not None and not change_pays(
                    allocation.posterior.draw(rng, 500), current, targets, cost_days=config.change_cost_days,
                    horizon_days=config.change_horizon_days, confidence=config.change_confidence):
                targets = current
            applied = {}
            for e, target, cur in zip(ids, targets.tolist(), current.tolist(), strict=True):
                applied[e] = guarded_budget(e, group.group_id, ents.currency, int(target), int(cur), min_budget[e], now,
                                            settings=limits)
                result.budget_changes += applied[e] != cur
                market.set_budget(e, applied[e])
            result.allocations.append({
                "day": day, "group_id": group.group_id, "budgets": applied,
                "shares": {e: round(float(s), 4) for e, s in zip(ids, allocation.shares, strict=True)},
            })
        for group in ents.groups:
            budgets = {a.adset_id: market.budget_of(a.adset_id) for a in group.adsets}
            result.expected_pipeline_value_minor += round(market.expected_value(group.group_id, budgets))
        outcome = market.step()
        result.spend_minor += outcome.total_spend_minor()
        _count_budget(outcome, totals, result)
        for d in outcome.delivery:
            result.spend_by_entity[d.adset_id] = result.spend_by_entity.get(d.adset_id, 0) + d.spend_minor
        result.pipeline_revenue_minor += _feed(outcome, states, credit, click_times, True, result.revenue_by_entity)
    for a in ents.adsets():
        market.set_budget(a.adset_id, 0)
    if keep_states is not None:
        keep_states.update(states)
    for _ in range(drain_days):
        result.pipeline_revenue_minor += _feed(market.step(), states, credit, click_times, False,
                                               result.revenue_by_entity)
    return result


def simulate(scenario: str | Path, policy_name: str, seed: int = 0, days: int | None = None,
             model: ModelConfig | None = None, guardrails: GuardrailSettings | None = None) -> dict[str, Any]:
    """One policy run plus the oracle's on the same seed, as the JSON object the CLI prints."""
    loaded = Scenario.load(scenario)
    limits = guardrails if guardrails is not None else guardrail_settings()
    mine = run(loaded, policy_name, seed, days, model, guardrails=limits)
    best = mine if policy_name == "oracle" else run(loaded, "oracle", seed, days, model, guardrails=limits)
    roas = mine.pipeline_revenue_minor / mine.spend_minor if mine.spend_minor else 0.0
    return {
        "policy": mine.policy,
        "scenario": mine.scenario,
        "seed": seed,
        "days": mine.days,
        "pipeline_revenue_minor": mine.pipeline_revenue_minor,
        "spend_minor": mine.spend_minor,
        "pipeline_roas": round(roas, 4),
        "oracle_pipeline_revenue_minor": best.pipeline_revenue_minor,
        "regret_minor": best.pipeline_revenue_minor - mine.pipeline_revenue_minor,
        "share_of_oracle": round(mine.pipeline_revenue_minor / best.pipeline_revenue_minor, 4)
        if best.pipeline_revenue_minor else None,
        "expected_pipeline_value_minor": mine.expected_pipeline_value_minor,
        "oracle_expected_pipeline_value_minor": best.expected_pipeline_value_minor,
        "expected_share_of_oracle": round(mine.expected_pipeline_value_minor / best.expected_pipeline_value_minor, 4)
        if best.expected_pipeline_value_minor else None,
        "budget_changes": mine.budget_changes,
        "spend_share": round(mine.spend_minor / mine.total_budget_minor, 4) if mine.total_budget_minor else None,
        "min_budget_share": round(mine.min_budget_share, 4),
        "max_budget_share": round(mine.max_budget_share, 4),
        "allocations": mine.allocations,
    }
