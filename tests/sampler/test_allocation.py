"""Monte Carlo shares against exact probabilities; budgets under floors, caps, total; hysteresis."""

from __future__ import annotations

import numpy as np
from scipy import integrate, stats

from streams.sampler.allocation import (
    SCALAR_FILL_MAX,
    Constraints,
    apply_hysteresis,
    bisect_array,
    bisect_scalar,
    bounds,
    budgets_for,
    probability_best,
    thompson_shares,
    water_fill,
)
from streams.sampler.model import Posterior


def exact_probability_best(shapes: list[float], rates: list[float]) -> list[float]:
    """P(X_i is the max) for independent Gammas by numerical integration."""
    out = []
    for i in range(len(shapes)):
        def integrand(x: float, i: int = i) -> float:
            p = stats.gamma.pdf(x, shapes[i], scale=1 / rates[i])
            for j in range(len(shapes)):
                if j != i:
                    p *= stats.gamma.cdf(x, shapes[j], scale=1 / rates[j])
            return float(p)
        out.append(integrate.quad(integrand, 0, np.inf, limit=200)[0])
    return out


def test_shares_match_exact_probability_of_being_best_within_sampling_error() -> None:
    shapes, rates = [20.0, 25.0, 8.0], [10.0, 11.0, 5.0]
    # value factor fixed at 1 (huge shape, equal rate) so theta is the Gamma rate factor alone
    post = Posterior(("a", "b", "c"), np.array(shapes), np.array(rates), np.full(3, 1e9), np.full(3, 1e9))
    n = 40_000
    shares = thompson_shares(post, np.random.default_rng(7), draws=n)
    exact = np.array(exact_probability_best(shapes, rates))
    se = np.sqrt(exact * (1 - exact) / n)
    assert np.all(np.abs(shares - exact) < 4 * se + 1e-3), (shares, exact)
    assert np.isclose(shares.sum(), 1.0)


def test_two_identical_entities_split_evenly() -> None:
    draws = np.random.default_rng(3).gamma(2.0, 1.0, size=(20_000, 2))
    p = probability_best(draws)
    assert abs(p[0] - 0.5) < 0.02


def test_same_seed_same_shares() -> None:
    post = Posterior(("a", "b"), np.array([2.0, 3.0]), np.array([1.0, 1.0]), np.ones(2), np.ones(2))
    a = thompson_shares(post, np.random.default_rng(5))
    b = thompson_shares(post, np.random.default_rng(5))
    assert np.array_equal(a, b)


def test_budgets_respect_total_platform_minimum_and_exploration_floor() -> None:
    c = Constraints(total_minor=10_000, min_minor=np.array([100, 100, 1_000]), floor_share=0.3)
    budgets = budgets_for(np.array([1.0, 0.0, 0.0]), c)
    assert budgets.sum() == 10_000
    assert budgets[1] >= 0.3 * 10_000 / 3 - 1  # exploration floor
    assert budgets[2] >= 1_000
    assert budgets[0] == 10_000 - budgets[1] - budgets[2]


def test_cap_limits_one_entity_and_the_rest_is_spread_by_share() -> None:
    c = Constraints(total_minor=9_000, min_minor=np.array([100, 100, 100]), floor_share=0.0, cap_share=0.5)
    budgets = budgets_for(np.array([0.8, 0.15, 0.05]), c)
    assert budgets[0] == 4_500
    assert budgets.sum() == 9_000
    assert budgets[1] > budgets[2] >= 100


def test_budgets_are_integers_summing_exactly_to_the_total() -> None:
    rng = np.random.default_rng(11)
    for _ in range(50):
        k = int(rng.integers(2, 40))
        shares = rng.dirichlet(np.ones(k))
        total = int(rng.integers(100 * k, 1_000_000))
        budgets = budgets_for(shares, Constraints(total, np.full(k, 100), floor_share=0.1))
        assert budgets.dtype == np.int64
        assert budgets.sum() == total
        assert budgets.min() >= 100


def test_hysteresis_keeps_small_moves_and_passes_large_ones() -> None:
    current = np.array([10_000, 10_000, 0])
    target = np.array([10_400, 13_000, 500])
    kept = apply_hysteresis(target, current, threshold=0.05)
    assert kept.tolist() == [10_000, 13_000, 500]


def test_the_scalar_water_fill_lands_on_the_same_bits_as_the_array_one() -> None:
    """The few-entity bisection runs on Python floats; a replay reproduces live decisions only if it
    ends exactly where numpy's does, for equal, skewed, one-hot and zero-heavy shares alike."""
    rng = np.random.default_rng(7)
    for case in range(3000):
        k = int(rng.integers(1, SCALAR_FILL_MAX))
        shares = [rng.dirichlet(np.ones(k)), np.full(k, 1.0 / k), np.eye(k)[int(rng.integers(k))],
                  rng.random(k) * (rng.random(k) > 0.3)][case % 4]
        total = int(rng.integers(k * 200, k * 200 + 10 ** int(rng.integers(3, 10))))
        constraints = Constraints(total, rng.integers(0, 200, size=k).astype(np.int64),
                                  floor_share=float(rng.choice([0.0, 0.1, 0.3])),
                                  cap_share=float(rng.choice([1.0, 0.5, 0.8])))
        floor, cap = bounds(constraints)
        weights = shares if shares.sum() > 0 else np.ones(k)
        hi = total / max(float(weights[weights > 0].min()), 1e-12) + float(cap.max())
        scalar = bisect_scalar(0.0, hi, weights.tolist(), floor.tolist(), cap.tolist(), float(total))
        assert scalar == bisect_array(0.0, hi, weights, floor, cap, float(total)), (shares, total)
        assert np.array_equal(water_fill(shares, floor, cap, float(total)), np.clip(scalar * weights, floor, cap))
