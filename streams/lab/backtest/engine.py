"""The replay loop: events in time order drive the facts, the clock and, at each logged decision, every policy.

Facts (spend, revenue) are shared by all policies: a backtest asks what a policy *would have
decided* given what was observed, not how the market would have answered it (that needs a
simulator: ``roasloop simulate``). At each ``AllocationDecided`` the replay clock stands at the
decision's event time, each policy chooses from the sampler state as it was then, and its requested
budgets pass the executor's guardrails against that policy's own audit trail, under the limits a
:class:`~streams.core.controls.limits.LimitsBook` holds (the settings alone, or every override
loaded from PostgreSQL: the limits production applies).
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import AsyncIterable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from schemas.events import AllocationDecided, RevenueRecognized, SpendReported
from streams.core.clock import EventClock
from streams.core.controls.limits import LimitsBook
from streams.lab.backtest.facts import GroupKey, Ledger
from streams.lab.backtest.guardrails import GuardedBudgets, Intervention
from streams.lab.backtest.policies import Choice, ReplayPolicy, proposal_keys
from streams.lab.backtest.records import ReplayRecord
from streams.sampler.settings import SamplerSettings, load_sampler_settings
from streams.sampler.state import GroupState, retention_cutoff
from streams.sampler.store import deal_credit, first_credit


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
    limits: LimitsBook
    """The guardrail limits every policy's budgets passed."""
    incomplete_evidence: int = 0
    """Decisions replayed before every fact they logged as seen had arrived (a range that starts
    mid-stream, or records lost): their policies saw less than the live sampler did."""

    other_settings: int = 0
    """Decisions the live sampler made with other settings than this replay's (by their logged
    ``settings_digest``): the logged policy cannot reproduce them."""

    def same_as_logged(self) -> dict[str, int]:
        """Per policy, how many decisions equal the logged one in every share, budget and stop-loss
        proposal: the logged policy with its logged seeds should match all of them (a replay that
        reproduces the log)."""
        logged = [(tuple(a.share for a in d.event.allocations), tuple(a.budget_minor for a in d.event.allocations),
                   proposal_keys(d.event)) for d in self.logged]
        return {run.name: sum((d.choice.shares, d.choice.budgets, d.choice.proposals) == expected
                              for d, expected in zip(run.decisions, logged, strict=True))
                for run in self.runs}


MAX_WAITING_MS = 5 * 60_000
"""How long (in record time) a decision waits for the facts its evidence names. Those facts were
applied before the decision was published, so their record timestamps are earlier, give or take
the producers' clock skew: once the stream is this far past the decision, the rest are not in it
(before the range, filtered out, or lost) and waiting longer would only hold every later decision."""
MAX_WAITING_DECISIONS = 10_000
"""Decisions held back at once; past this the oldest is decided with what has arrived."""
MAX_PENDING_FACTS = 200_000
"""Facts held per group for its next decision; past this the oldest are applied (never in practice:
the live sampler decides every group at least every ``schedule_seconds``)."""


class Replay:
    """Feeds records in order; decides at each logged decision once the facts it saw have arrived.

    A live decision saw the facts its consumer had applied, which is not "every fact older than the
    decision": the consumer lags, and a fact stamped before the decision may have been applied
    after it. A decision that logs its ``evidence`` (per partition, the offset below which every
    record had been applied) is therefore held until the stream has passed those offsets, and the
    group's state gets exactly the facts below them - the state the live sampler had. Facts past
    the marks wait for the next decision. A decision without evidence (older logs) sees every fact
    of its group that came before it in the stream. Decisions are taken in stream order, and one
    waits at most ``MAX_WAITING_MS`` of record time (then it is counted in ``incomplete``).

    ``limits`` are the guardrail limits; without a book, the settings' defaults
    (``ROASLOOP_EXECUTOR_*``) with no override.
    """

    def __init__(self, policies: Sequence[ReplayPolicy], sampler: SamplerSettings | None = None,
                 limits: LimitsBook | None = None) -> None:
        self.limits = limits if limits is not None else LimitsBook()
        self.runs = [PolicyRun(p.name, guard=GuardedBudgets(self.limits)) for p in policies]
        self.policies = list(policies)
        self.sampler = sampler or load_sampler_settings()
        self.model = self.sampler.model()
        self.clock = EventClock()
        self.ledger = Ledger()
        self.states: dict[GroupKey, GroupState] = {}
        self.levels: dict[GroupKey, str] = {}
        self.pending: dict[GroupKey, list[ReplayRecord]] = defaultdict(list)
        self.waiting: deque[tuple[int, AllocationDecided]] = deque()  # (record timestamp, decision)
        self.seen: dict[tuple[str, int], int] = {}
        self.logged: list[LoggedDecision] = []
        self.events = 0
        self.incomplete = 0
        self.other_settings = 0
        self.digest = self.sampler.decision_digest()
        self.first_at: datetime | None = None

    def state(self, key: GroupKey, currency: str) -> GroupState:
        if key not in self.states:
            self.states[key] = GroupState.for_model(*key, self.model, currency,
                                                    new_entity_min_budget_minor=self.sampler.platform_min_budget_minor)
        return self.states[key]

    def feed(self, record: ReplayRecord) -> None:
        event = record.event
        self.events += 1
        if self.first_at is None:
            self.first_at = event.occurred_at
            self.clock.set(event.occurred_at)
        self.clock.observe(event.occurred_at)
        position = (record.topic, record.partition)
        self.seen[position] = max(self.seen.get(position, -1), record.offset)
        if isinstance(event, SpendReported | RevenueRecognized):
            key = (event.tenant_id, event.group_id)
            if isinstance(event, SpendReported):
                self.levels[key] = event.entity_level
                self.ledger.add_spend(event)
            else:
                self.ledger.add_revenue(event, self._entity_of(event))
            pending = self.pending[key]
            pending.append(record)
            if len(pending) > MAX_PENDING_FACTS:
                self._apply(key, [pending.pop(0)])
        elif isinstance(event, AllocationDecided):
            self.waiting.append((record.timestamp_ms, event))
        while self.waiting and (self._arrived(self.waiting[0][1]) or len(self.waiting) > MAX_WAITING_DECISIONS
                                or record.timestamp_ms > self.waiting[0][0] + MAX_WAITING_MS):
            self._decide(self.waiting.popleft()[1])

    def finish(self) -> ReplayResult:
        """Decide whatever still waits (its evidence is not in the stream) and return the result."""
        while self.waiting:
            self._decide(self.waiting.popleft()[1])
        return ReplayResult(self.logged, self.runs, self.ledger, self.events, self.first_at,
                            self.clock.now() if self.first_at else None, self.limits, self.incomplete,
                            self.other_settings)

    def _entity_of(self, event: RevenueRecognized) -> str:
        level = self.levels.get((event.tenant_id, event.group_id), "adset")
        return event.adset_id if level == "adset" else event.campaign_id

    def _arrived(self, decision: AllocationDecided) -> bool:
        """Has the stream passed every offset the decision's evidence names?"""
        return all(self.seen.get((m.topic, m.partition), -1) >= m.next_offset - 1 for m in decision.evidence)

    def _apply(self, key: GroupKey, facts: Iterable[ReplayRecord]) -> None:
        for record in facts:
            event = record.event
            if isinstance(event, SpendReported):
                self.state(key, event.spend.currency).record_spend(
                    event.entity_id, event.campaign_id, event.day, event.spend.amount_minor, event.clicks,
                    event.impressions, event.leads, event.daily_budget_minor)
            elif isinstance(event, RevenueRecognized):
                self.state(key, event.amount.currency).record_revenue(
                    self._entity_of(event), event.campaign_id, event.amount.amount_minor, event.occurred_at,
                    event.click_occurred_at, new_deal=first_credit(event), deal=deal_credit(event))

    def _catch_up(self, key: GroupKey, decision: AllocationDecided) -> None:
        """Apply the group's pending facts the decision saw; keep the rest for later decisions."""
        pending = self.pending.pop(key, [])
        if not decision.evidence:
            self._apply(key, pending)
            return
        marks = {(m.topic, m.partition): m.next_offset for m in decision.evidence}
        seen: list[ReplayRecord] = []
        later: list[ReplayRecord] = []
        for r in pending:
            (seen if r.offset < marks.get((r.topic, r.partition), 0) else later).append(r)
        self._apply(key, seen)
        if later:
            self.pending[key] = later
        if not self._arrived(decision):
            self.incomplete += 1

    def _decide(self, event: AllocationDecided) -> None:
        key = (event.tenant_id, event.group_id)
        self.levels.setdefault(key, event.entity_level)
        self.other_settings += event.settings_digest not in (None, self.digest)
        self._catch_up(key, event)
        now = event.occurred_at
        state = self.state(key, event.total_budget.currency)
        state.prune(retention_cutoff(now, self.model))  # the live stage loads only these cohorts
        state.total_budget_minor = event.total_budget.amount_minor
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


async def replay_async(records: AsyncIterable[ReplayRecord], policies: Sequence[ReplayPolicy],
                       sampler: SamplerSettings | None = None, limits: LimitsBook | None = None) -> ReplayResult:
    run = Replay(policies, sampler, limits)
    async for record in records:
        run.feed(record)
    return run.finish()


def replay_records(records: Iterable[ReplayRecord], policies: Sequence[ReplayPolicy],
                   sampler: SamplerSettings | None = None, limits: LimitsBook | None = None) -> ReplayResult:
    run = Replay(policies, sampler, limits)
    for record in records:
        run.feed(record)
    return run.finish()
