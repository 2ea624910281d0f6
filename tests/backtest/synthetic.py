"""A small live run of the sampler over a synthetic market, producing the topics a backtest replays.

The "live" side here is the sampler's own code - :class:`GroupState` fed with every fact before a
decision's time, then the policy with a generator seeded as ``streams.sampler.decide`` seeds it - logged
as ``AllocationDecided`` with its seed, exactly as ``decisions.v1`` carries it.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import numpy as np

from schemas.envelope import Envelope
from schemas.events import AllocationDecided, EntityAllocation, RevenueRecognized, SpendReported
from schemas.money import Money
from streams.backtest.policies import DEFAULT_MIN_BUDGET_MINOR
from streams.sampler.policies import AllocationRequest, make_policy
from streams.sampler.state import GroupState
from tests.backtest.factories import T0, revenue, spend


def seed_of(decision_id: str) -> int:
    """As ``streams.sampler.decide.seed_of`` (not imported: that module pulls in the database layer)."""
    return int(hashlib.sha256(decision_id.encode()).hexdigest()[:8], 16)


TRUE_ROAS = {"a": 0.5, "b": 1.5, "c": 3.0}
DEAL_MINOR = 50_000


def synthetic_run(seed: int, *, periods: int = 8, hours: int = 12, total_minor: int = 300_000,
                  group: str = "g1", policy: str = "thompson") -> list[Envelope]:
    rng = np.random.default_rng(seed)
    live = make_policy(policy)
    state = GroupState(tenant_id="acme", group_id=group, total_budget_minor=total_minor)
    ids = tuple(TRUE_ROAS)
    budgets = {e: total_minor // len(ids) for e in ids}
    day_spend: dict[tuple[str, object], int] = {}
    out: list[Envelope] = []
    for j in range(1, periods + 1):  # the first period runs on the initial equal split
        now = T0 + timedelta(hours=hours * j)
        if j:
            facts: list[SpendReported | RevenueRecognized] = []
            start = now - timedelta(hours=hours)
            for e in ids:
                spent = budgets[e] * hours // 24
                key = (e, start.date())
                day_spend[key] = day_spend.get(key, 0) + spent
                facts.append(spend(e, now - timedelta(seconds=1), day_spend[key], group=group))
                facts[-1] = facts[-1].model_copy(update={"day": start.date()})
                for n in range(int(rng.poisson(spent * TRUE_ROAS[e] / DEAL_MINOR))):
                    click = start + timedelta(minutes=int(rng.integers(0, hours * 60 - 30)))
                    credit = revenue(e, click + timedelta(minutes=20), DEAL_MINOR, group=group, deal=f"{e}{j}n{n}")
                    facts.append(credit.model_copy(update={"click_occurred_at": click}))
            facts.sort(key=lambda f: (f.occurred_at, f.event_type != "SpendReported"))
            for f in facts:
                if isinstance(f, SpendReported):
                    state.record_spend(f.entity_id, f.campaign_id, f.day, f.spend.amount_minor, 0, 0, 0, None)
                else:
                    state.record_revenue(f.adset_id, f.campaign_id, f.amount.amount_minor, f.occurred_at,
                                         f.click_occurred_at, new_deal=True)
            out.extend(facts)
        out.append(_decide(live, state, now, ids, total_minor, seed, budgets, group))
        budgets = {a.entity_id: a.budget_minor for a in out[-1].allocations}  # type: ignore[attr-defined]
    return out


def _decide(live: object, state: GroupState, now: datetime, ids: tuple[str, ...], total: int, seed: int,
            previous: dict[str, int], group: str) -> AllocationDecided:
    decision_id = f"{group}-{now:%Y%m%d%H}"
    request = AllocationRequest(state=state, now=now, entity_ids=ids,
                                min_minor=np.full(len(ids), DEFAULT_MIN_BUDGET_MINOR, dtype=np.int64),
                                total_minor=total)
    seed = seed_of(f"{seed}:{decision_id}")  # as streams.sampler.decide seeds a live decision
    allocation = live.allocate(request, np.random.default_rng(seed))  # type: ignore[attr-defined]
    return AllocationDecided(
        event_id=f"dc-{decision_id}", tenant_id="acme", occurred_at=now, decision_id=decision_id,
        group_id=group, campaign_id=group, policy=live.name, seed=seed,  # type: ignore[attr-defined]
        total_budget=Money(amount_minor=total, currency="USD"),
        allocations=[EntityAllocation(entity_id=e, share=float(s), budget_minor=int(b),
                                      previous_budget_minor=previous[e])
                     for e, s, b in zip(ids, allocation.shares, allocation.budgets, strict=True)],
    )
