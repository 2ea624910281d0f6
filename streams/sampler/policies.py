"""Allocation policies behind one small protocol, so simulation and backtests can swap them.

A :class:`Policy` sees a group's facts (:class:`~streams.sampler.state.GroupState`), the moment,
the entities to allocate over and their platform minimums, and returns an :class:`Allocation`:
shares (propensities, summing to 1) and target budgets summing to the group total. Policies are
deterministic for a given ``numpy`` generator, so a replay with the same seed decides the same.

- ``thompson`` - the sampler: posterior probability of being best (this package's model);
- ``equal`` - an equal split;
- ``greedy`` - everything above the minimums to the highest observed ROAS so far;
- ``proportional`` - budget proportional to observed ROAS;
- ``ucb1`` / ``bernoulli-ts`` - MABWiser's UCB1 and Thompson sampling on per-day cohort ROAS
  (the latter binarized: did the day's cohort beat the group's ROAS);
- ``oracle`` - the true best split, from a callback that knows the truth (simulation only).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import numpy as np

from streams.sampler.allocation import (
    Constraints,
    IntArray,
    bounds,
    budgets_for,
    round_preserving_total,
    thompson_shares,
)
from streams.sampler.model import FloatArray, Posterior
from streams.sampler.priors.source import Prior as SourcePrior
from streams.sampler.response import optimal_budgets
from streams.sampler.state import GroupState, ModelConfig


@dataclass(frozen=True)
class Allocation:
    entity_ids: tuple[str, ...]
    shares: FloatArray
    budgets: IntArray
    posterior: Posterior | None = None
    reason: str = ""


@dataclass(frozen=True)
class AllocationRequest:
    """What a policy is asked: split ``total_minor`` over ``entity_ids`` at ``now``."""

    state: GroupState
    now: datetime
    entity_ids: tuple[str, ...]
    min_minor: IntArray
    total_minor: int
    external: Sequence[SourcePrior | None] | None = None


class Policy(Protocol):
    name: str

    def allocate(self, request: AllocationRequest, rng: np.random.Generator) -> Allocation: ...


def _constraints(req: AllocationRequest, floor_share: float = 0.0, cap_share: float = 1.0) -> Constraints:
    return Constraints(req.total_minor, req.min_minor, floor_share=floor_share, cap_share=cap_share)


def _normalized(weights: FloatArray) -> FloatArray:
    total = float(weights.sum())
    if total <= 0:
        return np.full(weights.size, 1.0 / weights.size)
    return np.asarray(weights / total, dtype=np.float64)


@dataclass
class Thompson:
    """Probability matching on the compound-Poisson pipeline-ROAS posterior."""

    model: ModelConfig
    draws: int | None = None
    floor_share: float | None = None
    cap_share: float | None = None
    """``None``: the model config's (``draws``, ``floor_share``, ``cap_share``)."""
    name: str = "thompson"

    def allocate(self, request: AllocationRequest, rng: np.random.Generator) -> Allocation:
        m = self.model
        draws = m.draws if self.draws is None else self.draws
        floor_share = m.floor_share if self.floor_share is None else self.floor_share
        cap_share = m.cap_share if self.cap_share is None else self.cap_share
        posterior = request.state.posterior(request.entity_ids, request.now, m, request.external)
        constraints = _constraints(request, floor_share, cap_share)
        if not m.spend_response:
            shares = thompson_shares(posterior, rng, draws)
            budgets = budgets_for(shares, constraints)
            best = int(np.argmax(shares))
            reason = (f"probability matching over {len(shares)} entities; {request.entity_ids[best]} best with "
                      f"p={shares[best]:.2f}, posterior mean ROAS {posterior.mean[best]:.2f}")
            return Allocation(request.entity_ids, shares, budgets, posterior, reason)
        shares = response_shares(posterior, request, constraints, m, rng, draws)
        _, cap = bounds(constraints)
        budgets = round_preserving_total(shares * request.total_minor, request.total_minor, cap)
        best = int(np.argmax(shares))
        reason = (f"probability matching over {len(shares)} entities (expected best split under diminishing "
                  f"returns); {request.entity_ids[best]} largest with share {shares[best]:.2f}, posterior mean "
                  f"ROAS {posterior.mean[best]:.2f}")
        return Allocation(request.entity_ids, shares, budgets, posterior, reason)


def response_shares(posterior: Posterior, request: AllocationRequest, constraints: Constraints,
                    model: ModelConfig, rng: np.random.Generator, draws: int) -> FloatArray:
    """Shares = the posterior expected best split: per joint draw of (ROAS, spend response), the
    split maximising pipeline value; averaged over draws. Under linear delivery each draw's best
    split is everything above the floors to the draw's best entity, so this is probability matching
    (share = floor + P(best) x the rest); under saturation a draw spreads money where marginal
    returns are still high. The shares are the budgets' fractions, so they are the propensities."""
    k = len(request.entity_ids)
    scale = request.total_minor / k
    curves = request.state.response(request.entity_ids, request.now, model, scale)
    floor, cap = bounds(constraints)
    n = max(200, min(draws, 200_000 // max(k, 1)))
    theta = posterior.draw(rng, n)
    a, b = curves.draw(rng, n)
    value = theta * (a + b * curves.typical_x)
    split = optimal_budgets(value, a, b, floor / scale, cap / scale, request.total_minor / scale)
    shares = split.mean(axis=0) * scale / request.total_minor
    return np.asarray(shares / shares.sum(), dtype=np.float64)


def observed_roas(request: AllocationRequest) -> tuple[FloatArray, FloatArray]:
    """All-time (revenue, spend) per entity, no forgetting and no delay correction."""
    revenue = np.zeros(len(request.entity_ids))
    spend = np.zeros(len(request.entity_ids))
    for i, e in enumerate(request.entity_ids):
        for facts in request.state.days.get(e, {}).values():
            revenue[i] += facts.revenue_minor
            spend[i] += facts.spend_minor
    return revenue, spend


@dataclass
class Equal:
    name: str = "equal"

    def allocate(self, request: AllocationRequest, rng: np.random.Generator) -> Allocation:
        shares = np.full(len(request.entity_ids), 1.0 / len(request.entity_ids))
        return Allocation(request.entity_ids, shares, budgets_for(shares, _constraints(request)), None, "equal split")


@dataclass
class Greedy:
    name: str = "greedy"

    def allocate(self, request: AllocationRequest, rng: np.random.Generator) -> Allocation:
        revenue, spend = observed_roas(request)
        roas = np.where(spend > 0, revenue / np.maximum(spend, 1.0), 0.0)
        shares = np.zeros(roas.size)
        shares[int(np.argmax(roas))] = 1.0
        return Allocation(request.entity_ids, shares, budgets_for(shares, _constraints(request)), None,
                          "highest observed ROAS")


@dataclass
class Proportional:
    name: str = "proportional"

    def allocate(self, request: AllocationRequest, rng: np.random.Generator) -> Allocation:
        revenue, spend = observed_roas(request)
        roas = np.where(spend > 0, np.clip(revenue, 0, None) / np.maximum(spend, 1.0), 0.0)
        shares = _normalized(roas)
        return Allocation(request.entity_ids, shares, budgets_for(shares, _constraints(request)), None,
                          "proportional to observed ROAS")


def cohort_rewards(request: AllocationRequest) -> tuple[list[str], list[float]]:
    """One (arm, reward) per entity-day with spend: that day's cohort ROAS as observed so far."""
    decisions: list[str] = []
    rewards: list[float] = []
    for e in request.entity_ids:
        for facts in request.state.days.get(e, {}).values():
            if facts.spend_minor > 0:
                decisions.append(e)
                rewards.append(facts.revenue_minor / facts.spend_minor)
    return decisions, rewards


@dataclass
class MabwiserPolicy:
    """MABWiser's context-free UCB1 or Thompson sampling, refitted on all cohort rewards each time."""

    name: str
    predictions: int = 200

    def allocate(self, request: AllocationRequest, rng: np.random.Generator) -> Allocation:
        from mabwiser.mab import MAB, LearningPolicy

        arms = list(request.entity_ids)
        decisions, rewards = cohort_rewards(request)
        seed = int(rng.integers(0, 2**31 - 1))
        if self.name == "ucb1":
            mab = MAB(arms, LearningPolicy.UCB1(alpha=1.0), seed=seed)
        else:
            threshold = sum(rewards) / len(rewards) if rewards else 0.0
            mab = MAB(arms, LearningPolicy.ThompsonSampling(binarizer=lambda _arm, r: r > threshold), seed=seed)
        shares = np.zeros(len(arms))
        index = {a: i for i, a in enumerate(arms)}
        seen = set(decisions)
        if not decisions or len(seen) < len(arms):
            untried = [i for i, a in enumerate(arms) if a not in seen]
            shares[untried or list(range(len(arms)))] = 1.0
        else:
            mab.fit(decisions, rewards)
            if self.name == "ucb1":
                shares[index[mab.predict()]] = 1.0
            else:
                for _ in range(self.predictions):
                    shares[index[mab.predict()]] += 1.0
        shares = _normalized(shares)
        return Allocation(request.entity_ids, shares, budgets_for(shares, _constraints(request)), None,
                          f"mabwiser {self.name}")


OracleFn = Callable[[str, datetime], Mapping[str, int]]


@dataclass
class Oracle:
    """The scenario's true best split (needs ground truth: simulation only)."""

    truth: OracleFn
    name: str = "oracle"

    def allocate(self, request: AllocationRequest, rng: np.random.Generator) -> Allocation:
        split = self.truth(request.state.group_id, request.now)
        budgets = np.array([split.get(e, 0) for e in request.entity_ids], dtype=np.int64)
        shares = _normalized(budgets.astype(np.float64))
        return Allocation(request.entity_ids, shares, budgets, None, "oracle")


POLICY_NAMES = ("thompson", "equal", "greedy", "proportional", "ucb1", "bernoulli-ts", "oracle")


def make_policy(name: str, model: ModelConfig | None = None, oracle: OracleFn | None = None) -> Policy:
    """A policy by name (``oracle`` needs the truth callback)."""
    if name == "thompson":
        return Thompson(model or ModelConfig())
    if name == "equal":
        return Equal()
    if name == "greedy":
        return Greedy()
    if name == "proportional":
        return Proportional()
    if name in ("ucb1", "bernoulli-ts"):
        return MabwiserPolicy(name)
    if name == "oracle":
        if oracle is None:
            raise ValueError("the oracle policy needs ground truth (simulation only)")
        return Oracle(oracle)
    raise ValueError(f"unknown policy {name!r}; policies are: {', '.join(POLICY_NAMES)}")
