"""Baseline allocation policies, for simulation and backtests to compare the live one with.

Each is a :class:`streams.sampler.policy.Policy`:

- ``equal`` - an equal split;
- ``greedy`` - everything above the minimums to the highest observed ROAS so far;
- ``proportional`` - budget proportional to observed ROAS;
- ``ucb1`` / ``bernoulli-ts`` - MABWiser's UCB1 and Thompson sampling on per-day cohort ROAS
  (the latter binarized: did the day's cohort beat the group's ROAS);
- ``oracle`` - the true best split, from a callback that knows the truth (simulation only).

:func:`make_policy` builds any of them, or the live ``thompson``, by name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from streams.sampler.allocation import budgets_for
from streams.sampler.model import FloatArray
from streams.sampler.policy import Allocation, AllocationRequest, Policy, Thompson, constraints_for
from streams.sampler.state import ModelConfig


def _normalized(weights: FloatArray) -> FloatArray:
    total = float(weights.sum())
    if total <= 0:
        return np.full(weights.size, 1.0 / weights.size)
    return np.asarray(weights / total, dtype=np.float64)


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
        budgets = budgets_for(shares, constraints_for(request))
        return Allocation(request.entity_ids, shares, budgets, None, "equal split")


@dataclass
class Greedy:
    name: str = "greedy"

    def allocate(self, request: AllocationRequest, rng: np.random.Generator) -> Allocation:
        revenue, spend = observed_roas(request)
        roas = np.where(spend > 0, revenue / np.maximum(spend, 1.0), 0.0)
        shares = np.zeros(roas.size)
        shares[int(np.argmax(roas))] = 1.0
        return Allocation(request.entity_ids, shares, budgets_for(shares, constraints_for(request)), None,
                          "highest observed ROAS")


@dataclass
class Proportional:
    name: str = "proportional"

    def allocate(self, request: AllocationRequest, rng: np.random.Generator) -> Allocation:
        revenue, spend = observed_roas(request)
        roas = np.where(spend > 0, np.clip(revenue, 0, None) / np.maximum(spend, 1.0), 0.0)
        shares = _normalized(roas)
        return Allocation(request.entity_ids, shares, budgets_for(shares, constraints_for(request)), None,
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
        return Allocation(request.entity_ids, shares, budgets_for(shares, constraints_for(request)), None,
                          f"mabwiser {self.name}")


OracleFn = Callable[[AllocationRequest], Mapping[str, int]]


@dataclass
class Oracle:
    """The scenario's true best split for the request (needs ground truth: simulation only)."""

    truth: OracleFn
    name: str = "oracle"

    def allocate(self, request: AllocationRequest, rng: np.random.Generator) -> Allocation:
        split = self.truth(request)
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
