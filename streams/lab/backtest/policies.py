"""Which policies a replay can run, and how one is asked for a decision.

The replay runs the sampler's own :class:`streams.sampler.policy.Policy` objects (``thompson``,
``equal``, ``greedy`` ...) on the sampler's own :class:`~streams.sampler.state.GroupState`, fed
with the replayed events, at each logged decision's time - so a replayed ``thompson`` is the live
sampler's code, not a re-implementation. ``logged`` is the pseudo-policy that repeats the
decisions in ``decisions.v1``: the reference every other policy is compared with.

Determinism: by default a decision's generator is ``numpy.random.default_rng(seed)`` with the
seed the logged decision carries - exactly what the live sampler (``streams.sampler.decide``) seeds
its Monte Carlo with - so the logged policy replays its own draws. ``NAME@SEED`` instead seeds each
decision from ``(SEED, decision_id)`` by :func:`decision_rng`, still stable across runs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from schemas.events import AllocationDecided
from streams.core.controls.limits import PLATFORM_MIN_BUDGET_MINOR, guardrail_settings
from streams.lab.policies import POLICY_NAMES, make_policy
from streams.sampler.decide import gate_rng, planned_targets
from streams.sampler.policy import AllocationRequest, Thompson
from streams.sampler.policy import Policy as SamplerPolicy
from streams.sampler.settings import SamplerSettings, load_sampler_settings
from streams.sampler.state import GroupState
from streams.sampler.stoploss import propose, stopped_entities

LOGGED = "logged"
DEFAULT_MIN_BUDGET_MINOR = PLATFORM_MIN_BUDGET_MINOR


def decision_rng(seed: int, decision_id: str) -> np.random.Generator:
    """One generator per (seed, decision): stable across runs, processes and platforms."""
    digest = int.from_bytes(hashlib.sha256(decision_id.encode()).digest()[:8], "big")
    return np.random.default_rng(np.random.SeedSequence([seed & (2**63 - 1), digest]))


@dataclass(frozen=True)
class Choice:
    """A policy's allocation at one decision, in the logged decision's entity order."""

    entity_ids: tuple[str, ...]
    shares: tuple[float, ...]
    budgets: tuple[int, ...]
    proposals: tuple[tuple[str, str], ...] = ()
    """Stop-loss proposals as (entity, action): the logged seed reproduces the logged ones."""


def proposal_keys(decision: AllocationDecided) -> tuple[tuple[str, str], ...]:
    return tuple((p.entity_id, p.action) for p in decision.status_proposals)


class ReplayPolicy(Protocol):
    name: str

    def choose(self, logged: AllocationDecided, state: GroupState) -> Choice: ...


class Logged:
    name = LOGGED

    def choose(self, logged: AllocationDecided, state: GroupState) -> Choice:
        return Choice(tuple(a.entity_id for a in logged.allocations), tuple(a.share for a in logged.allocations),
                      tuple(a.budget_minor for a in logged.allocations), proposal_keys(logged))


class Sampler:
    """Adapter: a sampler policy asked exactly what ``streams.sampler.decide`` asks it live.

    Same entities (the logged decision's, in its order), same minimums (the entity's or the
    platform's, whichever is higher), same total, and the same planning (velocity limit, hysteresis,
    change cost on the draws of the logged seed's gate stream) against the daily budgets the spend
    reports said were in force - so replaying ``thompson`` with the logged seed yields the
    logged shares and budgets bit for bit.
    """

    def __init__(self, policy: SamplerPolicy, seed: int | None = None,
                 settings: SamplerSettings | None = None) -> None:
        self.policy = policy
        self.seed = seed
        self.settings = settings or load_sampler_settings()
        self.guardrails = guardrail_settings()  # read once, like the sampler settings: not per decision
        self.name = policy.name if seed is None else f"{policy.name}@{seed}"

    def choose(self, logged: AllocationDecided, state: GroupState) -> Choice:
        s = self.settings
        ids = tuple(a.entity_id for a in logged.allocations)
        known = [state.entities.get(e) for e in ids]
        minimums = np.array([max(info.min_budget_minor if info else DEFAULT_MIN_BUDGET_MINOR,
                                 s.platform_min_budget_minor) for info in known], dtype=np.int64)
        current = np.array([(info.daily_budget_minor or 0) if info else 0 for info in known], dtype=np.int64)
        request = AllocationRequest(state=state, now=logged.occurred_at, entity_ids=ids, min_minor=minimums,
                                    total_minor=logged.total_budget.amount_minor)
        rng = (np.random.default_rng(logged.seed or 0) if self.seed is None
               else decision_rng(self.seed, logged.decision_id))
        allocation = self.policy.allocate(request, rng)
        order = [list(allocation.entity_ids).index(e) for e in ids]
        shares = allocation.shares[order] / allocation.shares.sum()
        draws = None
        if allocation.posterior is not None:  # no posterior, no change-cost draws: no gate stream to seed
            gate = (gate_rng(logged.seed or 0) if self.seed is None
                    else decision_rng(self.seed + 1, logged.decision_id))
            draws = allocation.posterior.draw(gate, 500)[:, order]
        targets = planned_targets(allocation.budgets[order], current, minimums,
                                  logged.total_budget.amount_minor, s, draws, self.guardrails)
        proposals: tuple[tuple[str, str], ...] = ()
        if allocation.posterior is not None and self.seed is None:  # the live rule on the logged seed
            stopped = stopped_entities(state, allocation.entity_ids)
            proposals = tuple((p.entity_id, p.action) for p in propose(
                state, logged.occurred_at, s.stop_loss(), logged.seed or 0, allocation.posterior,
                state.posterior(stopped, logged.occurred_at, s.model()) if stopped else None))
        return Choice(ids, tuple(float(x) for x in shares), tuple(int(x) for x in targets), proposals)


def policy_by_name(spec: str) -> ReplayPolicy:
    """``NAME`` or ``NAME@SEED`` (a fixed seed instead of each logged decision's own)."""
    name, _, seed = spec.partition("@")
    if name == LOGGED:
        return Logged()
    if name not in POLICY_NAMES or name == "oracle":
        known = ", ".join([LOGGED, *(n for n in POLICY_NAMES if n != "oracle")])
        raise ValueError(f"unknown policy {name!r}; a replay can run: {known}")
    settings = load_sampler_settings()
    policy: SamplerPolicy
    if name == "thompson":  # configured exactly as the live stage configures it
        policy = Thompson(settings.model(), draws=settings.draws, floor_share=settings.floor_share,
                          cap_share=settings.cap_share)
    else:
        policy = make_policy(name, settings.model())
    return Sampler(policy, int(seed) if seed else None, settings)
