"""One allocation decision for one group: posterior -> shares -> budgets -> events.

The decision is deterministic for its inputs: ``decision_id`` is derived from the group and the
clock's "now", the Monte Carlo generator is seeded from it, and every ``change_id`` is the
decision id plus the entity. A replay at the same moment decides the same, and the executor
applies a redelivered request at most once. Stop-loss proposals (``streams.sampler.stoploss``)
ride on the decision, drawn from their own stream off the same seed; they are never executed here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from schemas.events import AllocationDecided, BudgetChangeRequested, EntityAllocation
from schemas.money import Money
from streams.core.controls.limits import GuardrailSettings, guardrail_settings
from streams.priors.source import PriorSource, TenantPriorSources
from streams.sampler.allocation import IntArray, change_pays, plan_budgets
from streams.sampler.coldstart import external_priors, prior_fields
from streams.sampler.model import FloatArray
from streams.sampler.policy import AllocationRequest, Thompson
from streams.sampler.settings import SamplerSettings
from streams.sampler.state import GroupState
from streams.sampler.stoploss import propose, stopped_entities
from streams.sampler.store import GroupRow, evidence_marks

POLICY = "thompson"


def decision_id_for(tenant_id: str, group_id: str, now: datetime) -> str:
    digest = hashlib.sha256(f"{tenant_id}|{group_id}|{now.isoformat()}".encode()).hexdigest()
    return f"dec-{digest[:24]}"


def seed_of(decision_id: str) -> int:
    return int(hashlib.sha256(decision_id.encode()).hexdigest()[:8], 16)


def planned_targets(target: IntArray, current: IntArray, mins: IntArray, total: int, settings: SamplerSettings,
                    draws: FloatArray | None, guardrails: GuardrailSettings | None = None) -> IntArray:
    """Targets moved inside the executor's default velocity limit with the group's total kept, and
    only when the move pays for its change cost (``streams.sampler.allocation``), judged on posterior
    ``draws`` (``None``, a policy without a posterior: always).

    ``guardrails`` are the executor's defaults, read from the environment when not given; a replay
    passes the ones it read once, because reading settings costs more than the whole plan."""
    limits = guardrails if guardrails is not None else guardrail_settings()
    planned = plan_budgets(target, current, mins, total, max_change_fraction=limits.max_change_fraction,
                           hysteresis=settings.hysteresis, min_change_minor=settings.min_change_minor)
    if draws is None or change_pays(draws, current, planned, cost_days=settings.change_cost_days,
                                    horizon_days=settings.change_horizon_days,
                                    confidence=settings.change_confidence):
        return planned
    return current


def gate_rng(seed: int) -> np.random.Generator:
    """The generator of the change-cost draws: its own stream, so a replay with the logged seed reproduces it."""
    return np.random.default_rng(np.random.SeedSequence([seed, 0xC057]))


@dataclass(frozen=True)
class Outcome:
    decision: AllocationDecided
    requests: tuple[BudgetChangeRequested, ...]


def decide(state: GroupState, row: GroupRow, now: datetime, settings: SamplerSettings,
           paused: bool, prior_source: PriorSource | TenantPriorSources | None = None) -> Outcome | None:
    """The allocation for ``state`` at ``now``; ``None`` when there is nothing to allocate.

    ``prior_source`` is asked about the group's entities in one batch (cold-start priors)."""
    ids = tuple(state.active_entities(now.date(), settings.entity_ttl_days))
    if not ids:
        return None
    current = np.array([state.entities[e].daily_budget_minor or 0 for e in ids], dtype=np.int64)
    total = row.total_budget_minor if row.total_budget_minor is not None else int(current.sum())
    mins = np.array([max(state.entities[e].min_budget_minor, settings.platform_min_budget_minor) for e in ids],
                    dtype=np.int64)
    if total <= 0 or int(mins.sum()) > total:
        return None
    decision_id = decision_id_for(state.tenant_id, state.group_id, now)
    seed = seed_of(decision_id)
    policy = Thompson(settings.model(), draws=settings.draws, floor_share=settings.floor_share,
                      cap_share=settings.cap_share)
    external = external_priors(prior_source, ids, tenant_id=state.tenant_id)
    allocation = policy.allocate(AllocationRequest(state, now, ids, mins, total, external), np.random.default_rng(seed))
    posterior = allocation.posterior
    assert posterior is not None
    targets = planned_targets(allocation.budgets, current, mins, total, settings, posterior.draw(gate_rng(seed), 500))
    low, p10, median, p90, high = posterior.quantiles((0.05, 0.1, 0.5, 0.9, 0.95), seed=seed)
    mean = posterior.mean
    shares = allocation.shares / allocation.shares.sum()
    allocations = [
        EntityAllocation(entity_id=e, share=float(shares[i]), budget_minor=int(targets[i]),
                         previous_budget_minor=int(current[i]) if current[i] > 0 else None,
                         posterior_mean=float(mean[i]), posterior_low=float(low[i]), posterior_high=float(high[i]),
                         posterior_median=float(median[i]), posterior_p10=float(p10[i]), posterior_p90=float(p90[i]),
                         **prior_fields(external[i]))
        for i, e in enumerate(ids)
    ]
    # -- stop-loss proposals (streams.sampler.stoploss): carried on the decision, not executed --
    stop_loss = settings.stop_loss()
    stopped = stopped_entities(state, ids) if stop_loss.enabled else ()
    proposals = propose(state, now, stop_loss, seed, posterior,
                        state.posterior(stopped, now, settings.model()) if stopped else None)
    # -- end stop-loss --
    changed = [i for i in range(len(ids)) if targets[i] != current[i]]
    reason = allocation.reason + (f"; {len(changed)} budget change(s)" if changed else "; no change beyond hysteresis")
    if proposals:
        reason += "; stop-loss: " + ", ".join(f"{p.action} {p.entity_id}" for p in proposals)
    if paused:
        reason += "; automation paused: no requests"
    decision = AllocationDecided(
        event_id=decision_id, tenant_id=state.tenant_id, occurred_at=now, decision_id=decision_id,
        group_id=state.group_id, campaign_id=row.campaign_id, policy=POLICY, seed=seed,
        total_budget=Money(amount_minor=total, currency=state.currency), allocations=allocations, paused=paused,
        reason=reason, evidence=evidence_marks(row.evidence), settings_digest=settings.decision_digest(),
        status_proposals=proposals,
    )
    requests = () if paused else tuple(
        BudgetChangeRequested(
            event_id=f"{decision_id}:{ids[i]}", tenant_id=state.tenant_id, occurred_at=now,
            change_id=f"{decision_id}:{ids[i]}", group_id=state.group_id,
            campaign_id=state.entities[ids[i]].campaign_id, entity_id=ids[i],
            requested_budget=Money(amount_minor=int(targets[i]), currency=state.currency),
            previous_budget_minor=int(current[i]), decision_id=decision_id,
            reason=f"share {shares[i]:.3f} of {total} -> {int(targets[i])}",
        )
        for i in changed
    )
    return Outcome(decision, requests)
