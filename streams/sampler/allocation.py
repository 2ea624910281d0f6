"""Randomized probability matching: budget shares from the posterior probability of being best.

``share_i = P(theta_i = max_j theta_j)``, estimated from one ``(draws, K)`` matrix of posterior
samples and an ``argmax`` per row - a handful of numpy calls whatever ``K`` is. Those shares are
the propensities logged with every decision (what makes off-policy evaluation possible).

Shares become budgets under constraints: every entity gets at least its floor (the platform
minimum, and an exploration floor so nothing is starved into never being measured again), at
most its cap, and the budgets add up to the group total. The projection is a water-fill:
``budget_i = clip(c * share_i, floor_i, cap_i)`` with the scalar ``c`` found by bisection, then
rounded to integer minor units without losing or inventing a unit.

Hysteresis keeps budgets from churning on noise: a target that moves a budget by less than the
threshold is not requested (the entity keeps its current budget).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from streams.sampler.model import FloatArray, Posterior

IntArray = npt.NDArray[np.int64]


def probability_best(draws: FloatArray) -> FloatArray:
    """Fraction of draws (rows) in which each column is the largest."""
    n, k = draws.shape
    winners = np.argmax(draws, axis=1)
    counts: FloatArray = np.asarray(np.bincount(winners, minlength=k), dtype=np.float64)
    return np.asarray(counts / n, dtype=np.float64)


def thompson_shares(posterior: Posterior, rng: np.random.Generator, draws: int = 2000) -> FloatArray:
    return probability_best(posterior.draw(rng, draws))


@dataclass(frozen=True)
class Constraints:
    total_minor: int
    min_minor: IntArray  # platform minimum per entity
    floor_share: float = 0.1
    """Exploration floor: each entity gets at least this fraction of an equal split."""
    cap_share: float = 1.0
    """Largest fraction of the total one entity may take."""


def bounds(c: Constraints) -> tuple[FloatArray, FloatArray]:
    """Per-entity (floor, cap) in minor units, made feasible for the total."""
    k = c.min_minor.size
    total = float(c.total_minor)
    if int(c.min_minor.sum()) > c.total_minor:
        raise ValueError(f"platform minimums ({int(c.min_minor.sum())}) exceed the group total ({c.total_minor})")
    floor = np.maximum(c.min_minor.astype(np.float64), c.floor_share * total / k)
    if floor.sum() > total:  # the exploration floor yields; the platform minimum does not
        spare = total - c.min_minor.sum()
        extra = floor - c.min_minor
        floor = c.min_minor + extra * (spare / extra.sum() if extra.sum() > 0 else 0.0)
    cap = np.maximum(np.full(k, c.cap_share * total), floor)
    if cap.sum() < total:
        cap = np.maximum(cap, total / k)
    return floor, cap


def water_fill(shares: FloatArray, floor: FloatArray, cap: FloatArray, total: float) -> FloatArray:
    """``clip(c * shares, floor, cap)`` summing to ``total`` (shares of zero sit at their floor)."""
    weights = np.asarray(shares, dtype=np.float64)
    if weights.sum() <= 0:
        weights = np.ones_like(weights)
    if floor.sum() >= total:
        return np.asarray(floor * (total / floor.sum()), dtype=np.float64)
    lo, hi = 0.0, total / max(float(weights[weights > 0].min()), 1e-12) + float(cap.max())
    for _ in range(100):
        mid = (lo + hi) / 2
        if np.clip(mid * weights, floor, cap).sum() < total:
            lo = mid
        else:
            hi = mid
    return np.asarray(np.clip(hi * weights, floor, cap), dtype=np.float64)


def round_preserving_total(amounts: FloatArray, total: int, cap: FloatArray | None = None) -> IntArray:
    """Integer amounts summing exactly to ``total``: floor, then largest remainders get a unit."""
    base = np.floor(amounts).astype(np.int64)
    short = int(total - base.sum())
    if short > 0:
        remainder = amounts - base
        if cap is not None:
            remainder = np.where(base + 1 > cap + 1e-9, -1.0, remainder)
        order = np.argsort(-remainder, kind="stable")
        base[order[:short]] += 1
    elif short < 0:
        order = np.argsort(amounts - base, kind="stable")
        base[order[: -short]] -= 1
    return base


def budgets_for(shares: FloatArray, constraints: Constraints) -> IntArray:
    floor, cap = bounds(constraints)
    filled = water_fill(shares, floor, cap, float(constraints.total_minor))
    return round_preserving_total(filled, constraints.total_minor, cap)


def apply_hysteresis(target: IntArray, current: IntArray, threshold: float, min_change_minor: int = 0) -> IntArray:
    """Keep the current budget where the move is below ``threshold`` (relative) or ``min_change_minor``."""
    delta = np.abs(target - current)
    small = (delta <= threshold * current) | (delta < min_change_minor)
    has_current = current > 0
    return np.where(small & has_current, current, target).astype(np.int64)
