"""A small live run of the sampler over a synthetic market, producing the topics a backtest replays.

The "live" side is the sampler's own code. For ``thompson`` it is :func:`streams.sampler.decide.decide`
itself - the function the live stage calls - on a :class:`GroupState` fed with every fact before the
decision's time; for the other policies it is the policy asked the way ``decide`` asks it (same
minimums, seed and planning of the moves). Spend reports carry the daily budget in force, as Meta's insights do,
so hysteresis sees the same current budgets live and in the replay.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import numpy as np

from schemas.envelope import Envelope
from schemas.events import AllocationDecided, EntityAllocation, RevenueRecognized, SpendReported
from schemas.money import Money
from streams.lab.policies import make_policy
from streams.sampler.decide import gate_rng, planned_targets
from streams.sampler.policy import AllocationRequest
from streams.sampler.settings import load_sampler_settings
from streams.sampler.state import GroupState
from streams.sampler.store import deal_credit
from tests.lab.backtest.factories import T0, revenue, spend

TRUE_ROAS = {"a": 0.5, "b": 1.5, "c": 3.0}
DEAL_MINOR = 50_000


def seed_of(decision_id: str) -> int:
    return int(hashlib.sha256(decision_id.encode()).hexdigest()[:8], 16)


def _facts(rng: np.random.Generator, now: datetime, hours: int, budgets: dict[str, int], group: str,
           day_spend: dict[tuple[str, object], int], j: int) -> list[SpendReported | RevenueRecognized]:
    facts: list[SpendReported | RevenueRecognized] = []
    start = now - timedelta(hours=hours)
    for e, budget in budgets.items():
        spent = budget * hours // 24
        key = (e, start.date())
        day_spend[key] = day_spend.get(key, 0) + spent
        report = spend(e, now - timedelta(seconds=1), day_spend[key], group=group)
        facts.append(report.model_copy(update={"day": start.date(), "daily_budget_minor": budget}))
        for n in range(int(rng.poisson(spent * TRUE_ROAS[e] / DEAL_MINOR))):
            click = start + timedelta(minutes=int(rng.integers(0, hours * 60 - 30)))
            credit = revenue(e, click + timedelta(minutes=20), DEAL_MINOR, group=group, deal=f"{e}{j}n{n}")
            facts.append(credit.model_copy(update={"click_occurred_at": click}))
    facts.sort(key=lambda f: (f.occurred_at, f.event_type != "SpendReported"))
    return facts


def _feed(state: GroupState, f: SpendReported | RevenueRecognized) -> None:
    if isinstance(f, SpendReported):
        state.record_spend(f.entity_id, f.campaign_id, f.day, f.spend.amount_minor, f.clicks, f.impressions, 0,
                           f.daily_budget_minor)
    else:
        state.record_revenue(f.adset_id, f.campaign_id, f.amount.amount_minor, f.occurred_at, f.click_occurred_at,
                             new_deal=True, deal=deal_credit(f))


def synthetic_run(seed: int, *, periods: int = 8, hours: int = 12, total_minor: int = 300_000,
                  group: str = "g1", policy: str = "thompson") -> list[Envelope]:
    rng = np.random.default_rng(seed)
    state = GroupState(tenant_id="acme", group_id=group, total_budget_minor=total_minor)
    budgets = {e: total_minor // len(TRUE_ROAS) for e in TRUE_ROAS}
    day_spend: dict[tuple[str, object], int] = {}
    out: list[Envelope] = []
    for j in range(1, periods + 1):  # the first period runs on the initial equal split
        now = T0 + timedelta(hours=hours * j)
        facts = _facts(rng, now, hours, budgets, group, day_spend, j)
        for f in facts:
            _feed(state, f)
        out.extend(facts)
        decision = _live_decide(state, now, total_minor) if policy == "thompson" else \
            _policy_decide(policy, state, now, total_minor, seed)
        out.append(decision)
        budgets = {a.entity_id: a.budget_minor for a in decision.allocations}
    return out


def _live_decide(state: GroupState, now: datetime, total: int) -> AllocationDecided:
    from streams.sampler.decide import decide
    from streams.sampler.store import GroupRow

    row = GroupRow(tenant_id=state.tenant_id, group_id=state.group_id, campaign_id=state.group_id,
                   currency="USD", total_budget_minor=total, events_since_decision=1, last_decided_at=None)
    outcome = decide(state, row, now, load_sampler_settings(), paused=False)
    assert outcome is not None
    return outcome.decision


def _policy_decide(name: str, state: GroupState, now: datetime, total: int, seed: int) -> AllocationDecided:
    settings = load_sampler_settings()
    ids = tuple(state.active_entities(now.date(), settings.entity_ttl_days))
    current = np.array([state.entities[e].daily_budget_minor or 0 for e in ids], dtype=np.int64)
    mins = np.full(len(ids), settings.platform_min_budget_minor, dtype=np.int64)
    decision_id = f"{state.group_id}-{now:%Y%m%d%H}"
    logged_seed = seed_of(f"{seed}:{decision_id}")
    policy = make_policy(name, settings.model())
    allocation = policy.allocate(AllocationRequest(state, now, ids, mins, total), np.random.default_rng(logged_seed))
    draws = allocation.posterior.draw(gate_rng(logged_seed), 500) if allocation.posterior is not None else None
    targets = planned_targets(allocation.budgets, current, mins, total, settings, draws)
    shares = allocation.shares / allocation.shares.sum()
    return AllocationDecided(
        event_id=f"dc-{decision_id}", tenant_id=state.tenant_id, occurred_at=now, decision_id=decision_id,
        group_id=state.group_id, campaign_id=state.group_id, policy=name, seed=logged_seed,
        total_budget=Money(amount_minor=total, currency="USD"),
        allocations=[EntityAllocation(entity_id=e, share=float(shares[i]), budget_minor=int(targets[i]),
                                      previous_budget_minor=int(current[i]) or None)
                     for i, e in enumerate(ids)],
    )
