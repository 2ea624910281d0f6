"""The replay loop: events in time order drive the facts, the clock and, at each logged decision, every policy.

Facts (spend, revenue) are shared by all policies: a backtest asks what a policy *would have
decided* given what was observed, not how the market would have answered it (that needs a
simulator: ``roasloop simulate``). At each ``AllocationDecided`` the replay clock stands at the
decision's event time, each policy chooses from the sampler state as it was then, and its requested
budgets pass the executor's guardrails against that policy's own audit trail.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from schemas.events import AllocationDecided, RevenueRecognized, SpendReported
from streams.backtest.facts import GroupKey, Ledger
from streams.backtest.guardrails import GuardedBudgets, Intervention
from streams.backtest.policies import Choice, ReplayPolicy
from streams.backtest.records import ReplayRecord
from streams.core.clock import EventClock
from streams.sampler.state import GroupState
from streams.sampler.store import platform_leads


def first_credit(event: RevenueRecognized) -> bool:
    """The deal's total was zero before this credit: it counts as a new conversion."""
    return event.amount.amount_minor > 0 and event.credited_total_minor == event.amount.amount_minor


@dataclass(frozen=True)
class LoggedDecision:
    event: AllocationDecided
    reward_model: tuple[float | None, ...]  # each entity's observed ROAS as of the decision (causal)

    @property
    def group(self) -> GroupKey:
        return (self.event.tenant_id, self.event.group_id)

    @property
    def entity_ids(self) -> tuple[str, ...]:
        return tuple(a.entity_id for a in self.event.allocations)


@dataclass(frozen=True)
class PolicyDecision:
    decision_id: str
    at: datetime
    group: GroupKey
    choice: Choice
    applied: tuple[int, ...]


@dataclass
class PolicyRun:
    name: str
    decisions: list[PolicyDecision] = field(default_factory=list)
    guard: GuardedBudgets = field(default_factory=GuardedBudgets)

    @property
    def interventions(self) -> list[Intervention]:
        return self.guard.interventions


@dataclass
class ReplayResult:
    logged: list[LoggedDecision]
    runs: list[PolicyRun]
    ledger: Ledger
    events: int
    first_at: datetime | None
    last_at: datetime | None


class Replay:
    def __init__(self, policies: Sequence[ReplayPolicy]) -> None:
        self.runs = [PolicyRun(p.name) for p in policies]
        self.policies = list(policies)
        self.clock = EventClock()
        self.ledger = Ledger()
        self.states: dict[GroupKey, GroupState] = {}
        self.levels: dict[GroupKey, str] = {}
        self.logged: list[LoggedDecision] = []
        self.events = 0
        self.first_at: datetime | None = None

    def state(self, tenant: str, group: str, currency: str) -> GroupState:
        key = (tenant, group)
        if key not in self.states:
            self.states[key] = GroupState(tenant_id=tenant, group_id=group, currency=currency)
        return self.states[key]

    def feed(self, record: ReplayRecord) -> None:
        event = record.event
        self.events += 1
        if self.first_at is None:
            self.first_at = event.occurred_at
            self.clock.set(event.occurred_at)
        self.clock.observe(event.occurred_at)
        if isinstance(event, SpendReported):
            self.levels[(event.tenant_id, event.group_id)] = event.entity_level
            self.ledger.add_spend(event)
            self.state(event.tenant_id, event.group_id, event.spend.currency).record_spend(
                event.entity_id, event.campaign_id, event.day, event.spend.amount_minor, event.clicks,
                event.impressions, platform_leads(event.platform_results), event.daily_budget_minor)
        elif isinstance(event, RevenueRecognized):
            level = self.levels.get((event.tenant_id, event.group_id), "adset")
            entity = event.adset_id if level == "adset" else event.campaign_id
            self.ledger.add_revenue(event, entity)
            self.state(event.tenant_id, event.group_id, event.amount.currency).record_revenue(
                entity, event.campaign_id, event.amount.amount_minor, event.occurred_at, event.click_occurred_at,
                new_deal=first_credit(event))
        elif isinstance(event, AllocationDecided):
            self.decide(event)

    def decide(self, event: AllocationDecided) -> None:
        key = (event.tenant_id, event.group_id)
        self.levels.setdefault(key, event.entity_level)
        state = self.state(event.tenant_id, event.group_id, event.total_budget.currency)
        state.total_budget_minor = event.total_budget.amount_minor
        now = self.clock.now()
        ids = tuple(a.entity_id for a in event.allocations)
        self.logged.append(LoggedDecision(event, tuple(self.ledger.roas_so_far(key, e) for e in ids)))
        initial = {a.entity_id: a.previous_budget_minor for a in event.allocations}
        for policy, run in zip(self.policies, self.runs, strict=True):
            choice = policy.choose(event, state)
            applied = run.guard.apply(
                tenant=event.tenant_id, group_id=event.group_id, campaign_id=event.campaign_id,
                currency=event.total_budget.currency, now=now, targets=dict(zip(ids, choice.budgets, strict=True)),
                initial=initial, paused=event.paused)
            run.decisions.append(PolicyDecision(event.decision_id, now, key, choice,
                                                tuple(applied[e] for e in ids)))

    def result(self) -> ReplayResult:
        return ReplayResult(self.logged, self.runs, self.ledger, self.events, self.first_at,
                            self.clock.now() if self.first_at else None)


async def replay_async(records: AsyncIterable[ReplayRecord], policies: Sequence[ReplayPolicy]) -> ReplayResult:
    run = Replay(policies)
    async for record in records:
        run.feed(record)
    return run.result()


def replay_records(records: Iterable[ReplayRecord], policies: Sequence[ReplayPolicy]) -> ReplayResult:
    run = Replay(policies)
    for record in records:
        run.feed(record)
    return run.result()
