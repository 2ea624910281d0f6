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


SCALAR_FILL_MAX = 8
"""Below this many entities the bisection runs on Python floats. numpy sums fewer than 8 float64s one
after another (its pairwise summation starts at 8), so the scalar loop adds in numpy's order and
lands on the same bits, at a tenth of the cost of four array calls per step for a handful of entities."""


def water_fill(shares: FloatArray, floor: FloatArray, cap: FloatArray, total: float) -> FloatArray:
    """``clip(c * shares, floor, cap)`` summing to ``total`` (shares of zero sit at their floor)."""
    weights = np.asarray(shares, dtype=np.float64)
    if weights.sum() <= 0:
        weights = np.ones_like(weights)
    if floor.sum() >= total:
        return np.asarray(floor * (total / floor.sum()), dtype=np.float64)
    lo, hi = 0.0, total / max(float(weights[weights > 0].min()), 1e-12) + float(cap.max())
    if weights.size < SCALAR_FILL_MAX and bool(np.isfinite(weights).all()):
        hi = bisect_scalar(lo, hi, weights.tolist(), floor.tolist(), cap.tolist(), total)
    else:
        hi = bisect_array(lo, hi, weights, floor, cap, total)
    return np.asarray(np.clip(hi * weights, floor, cap), dtype=np.float64)


def bisect_array(lo: float, hi: float, weights: FloatArray, floor: FloatArray, cap: FloatArray,
                 total: float) -> float:
    """The least ``c`` found in 100 halvings with ``sum(clip(c * weights, floor, cap)) >= total``.

    Stops once the midpoint is one of the bounds: the bounds are then adjacent floats, and every
    further step would test one of them again and leave ``hi`` where it is."""
    for _ in range(100):
        mid = (lo + hi) / 2
        if mid in (lo, hi):
            break
        if np.clip(mid * weights, floor, cap).sum() < total:
            lo = mid
        else:
            hi = mid
    return hi


def bisect_scalar(lo: float, hi: float, weights: list[float], floor: list[float], cap: list[float],
                  total: float) -> float:
    """:func:`bisect_array` on Python floats, summing in numpy's order (see ``SCALAR_FILL_MAX``)."""
    columns = list(zip(weights, floor, cap, strict=True))
    for _ in range(100):
        mid = (lo + hi) / 2
        if mid in (lo, hi):
            break
        filled = -0.0
        for w, f, c in columns:
            x = mid * w
            x = f if f > x else x
            filled += c if c < x else x
        if filled < total:
            lo = mid
        else:
            hi = mid
    return hi


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


def guardrail_box(current: IntArray, min_minor: IntArray, max_change_fraction: float) -> tuple[IntArray, IntArray]:
    """Per-entity (lowest, highest) budget one change may reach from ``current``.

    The executor clamps a move to ``int(current * fraction)`` (its cumulative-change rule) and
    never below the platform minimum. Planning inside this box is what keeps the group's total:
    a target outside it is clamped entity by entity, so cuts land while raises are capped and the
    group spends less than it was given.
    """
    allowed = np.array([int(int(c) * max_change_fraction) for c in current.tolist()], dtype=np.int64)
    low = np.maximum(min_minor, current - allowed)
    high = np.maximum(current + allowed, low)
    return low.astype(np.int64), high.astype(np.int64)


def _take(amount: float, room: FloatArray, priority: FloatArray) -> FloatArray:
    """Spread ``amount`` over ``room`` (>= 0) filling the highest ``priority`` first."""
    out = np.zeros(room.size)
    left = amount
    for i in np.argsort(-priority, kind="stable"):
        if left <= 0:
            break
        out[i] = min(float(room[i]), left)
        left -= out[i]
    return out


def _balanced_moves(want: FloatArray, current: FloatArray, low: FloatArray, high: FloatArray,
                    total: float) -> FloatArray:
    """Moves within ``[low, high] - current`` summing to ``total - sum(current)``, as close to ``want`` as
    the box allows, concentrated on the entities that want to move most (relative to their budget)."""
    move = np.clip(want, low - current, high - current)
    gap = total - float(current.sum())
    raises, cuts = np.clip(move, 0, None), np.clip(-move, 0, None)
    priority = want / np.maximum(current, 1.0)  # most wanted raise first; for cuts, -priority
    if raises.sum() - cuts.sum() > gap:  # fewer raises: only as many as the cuts (and the gap) pay for
        if cuts.sum() + gap >= 0:
            raises = _take(float(cuts.sum()) + gap, raises, priority)
        else:  # over the total even without raises: cut further, those wanting a cut first
            raises = np.zeros(move.size)
            cuts = _take(-gap, current - low, -priority)
    elif raises.sum() - cuts.sum() < gap:  # fewer cuts: only as many as the raises (minus the gap) need
        if raises.sum() - gap >= 0:
            cuts = _take(float(raises.sum()) - gap, cuts, -priority)
        else:  # under the total even without cuts: raise further, those wanting a raise first
            cuts = np.zeros(move.size)
            raises = _take(gap, high - current, priority)
    return np.asarray(raises - cuts, dtype=np.float64)


def plan_budgets(target: IntArray, current: IntArray, min_minor: IntArray, total: int, *,
                 max_change_fraction: float | None, hysteresis: float, min_change_minor: int = 0) -> IntArray:
    """Budgets to request: ``target`` moved as far as one guarded change allows, the group total kept.

    Cuts and raises are planned together: clamped one by one, cuts land while raises are capped and
    the group spends less than its total. Here the raises the guardrails allow are matched by cuts
    of the same size (or the cuts by raises), taken first from the entities that want to move most,
    so the budget moves in a few real steps rather than many tiny ones; moves below the hysteresis
    threshold are then dropped and the plan redone without them, so dropping a small move does not
    leak the total either. ``max_change_fraction=None`` means no velocity limit.
    """
    cur = current.astype(np.int64)
    if cur.sum() <= 0 or np.any(cur <= 0):
        return target.astype(np.int64)
    if max_change_fraction is None:
        low, high = min_minor.astype(np.int64), np.full(cur.size, max(total, 1), dtype=np.int64)
    else:
        low, high = guardrail_box(cur, min_minor.astype(np.int64), max_change_fraction)
    c = cur.astype(np.float64)
    want = target.astype(np.float64) - c
    lo, hi = low.astype(np.float64), high.astype(np.float64)
    threshold = np.maximum(hysteresis * c, float(min_change_minor))
    frozen = np.zeros(cur.size, dtype=bool)
    move = np.zeros(cur.size)
    for _ in range(cur.size + 1):
        move = _balanced_moves(np.where(frozen, 0.0, want), c, np.where(frozen, c, lo), np.where(frozen, c, hi),
                               float(total))
        small = (np.abs(move) > 0) & (np.abs(move) <= threshold)
        if not small.any():
            break
        frozen |= small
    x = c + move
    moving = np.abs(move) > 0
    if not moving.any():
        return cur
    rounded = round_preserving_total(x, round(float(x.sum())), hi)
    return np.clip(rounded, np.where(moving, low, cur), np.where(moving, high, cur)).astype(np.int64)


def change_pays(draws: FloatArray, current: IntArray, planned: IntArray, *, cost_days: float,
                horizon_days: float, confidence: float) -> bool:
    """Whether moving ``current`` to ``planned`` is worth its cost, judged on posterior ROAS ``draws``
    (shape ``(n, K)``).

    Per draw, gain: the value of the moved money over ``horizon_days``; cost: ``cost_days`` of each
    changed budget's value at the group's ROAS (a learning-phase and churn penalty). The move is made
    when the gain beats the cost in at least ``confidence`` of the draws. Not the posterior mean
    alone: with forgetting, near-identical entities keep means that differ by noise, and a mean-only
    rule would move money back and forth on it; a real difference clears the bar within days.
    A plan that restores the group's total (the budgets in force are off it by more than 1%) always goes.
    """
    changed = planned != current
    if not changed.any() or cost_days <= 0:
        return bool(changed.any())
    cur = current.astype(np.float64)
    if abs(float(planned.sum()) - float(cur.sum())) > 0.01 * max(float(cur.sum()), 1.0):
        return True  # the budgets in force are off the group's total (an entity joined or left): restore it
    gain = horizon_days * (draws @ (planned.astype(np.float64) - cur))
    cost = cost_days * (draws @ cur) / max(float(cur.sum()), 1.0) * float(cur[changed].sum())
    return float(np.mean(gain > cost)) >= confidence
