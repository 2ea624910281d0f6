"""The estimators against hand-computed values, and their coverage on logs with a known answer."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from streams.lab.backtest.estimators import (
    doubly_robust,
    effective_sample_size,
    estimate,
    importance_weights,
    ips,
    snips,
)

# Three rounds, two actions. Logged actions 0, 1, 0 with propensities 0.5, 0.25, 0.8.
A = np.array([0, 1, 0])
R = np.array([1.0, 2.0, 0.0])
P = np.array([0.5, 0.25, 0.8])
PI = np.array([[1.0, 0.0], [0.5, 0.5], [0.2, 0.8]])
Q = np.array([[0.5, 1.0], [1.0, 1.5], [0.1, 0.3]])
# weights: 1/0.5 = 2, 0.5/0.25 = 2, 0.2/0.8 = 0.25


def test_importance_weights_are_target_over_logging_probability() -> None:
    assert importance_weights(A, P, PI).tolist() == pytest.approx([2.0, 2.0, 0.25])


def test_ips_matches_hand_computation() -> None:
    assert ips(A, R, P, PI) == pytest.approx((2 * 1 + 2 * 2 + 0.25 * 0) / 3)


def test_snips_divides_by_the_sum_of_weights() -> None:
    assert snips(A, R, P, PI) == pytest.approx(6.0 / 4.25)


def test_doubly_robust_matches_hand_computation() -> None:
    direct = [1.0 * 0.5, 0.5 * 1.0 + 0.5 * 1.5, 0.2 * 0.1 + 0.8 * 0.3]
    residual = [2 * (1.0 - 0.5), 2 * (2.0 - 1.5), 0.25 * (0.0 - 0.1)]
    assert doubly_robust(A, R, P, PI, Q) == pytest.approx(np.mean(np.add(direct, residual)))


def test_doubly_robust_with_a_perfect_model_and_no_noise_is_exact() -> None:
    truth = np.array([[1.0, 3.0]] * 4)
    actions = np.array([0, 1, 1, 0])
    rewards = truth[np.arange(4), actions]
    target = np.array([[0.25, 0.75]] * 4)
    value = doubly_robust(actions, rewards, np.full(4, 0.5), target, truth)
    assert value == pytest.approx(0.25 * 1 + 0.75 * 3)


def test_clipping_caps_weights_and_is_reported() -> None:
    result = estimate("ips", A, R, P, PI, clip=1.5, n_boot=50)
    assert result.value == pytest.approx((1.5 * 1 + 1.5 * 2 + 0.25 * 0) / 3)
    assert result.clipped == 2 and result.clip == 1.5
    assert any("clipped" in w for w in result.warnings)


def test_effective_sample_size_is_kish() -> None:
    assert effective_sample_size([2.0, 2.0, 0.25]) == pytest.approx(4.25**2 / 8.0625)
    assert effective_sample_size([1.0] * 7) == pytest.approx(7.0)


def test_small_propensities_raise_a_warning() -> None:
    result = estimate("snips", [0, 1], [1.0, 1.0], [0.5, 0.001], [[0.5, 0.5], [0.5, 0.5]], n_boot=20)
    assert any("propensities below" in w for w in result.warnings)


def test_zero_propensity_is_refused() -> None:
    with pytest.raises(ValueError, match="propensities"):
        ips(*map(np.asarray, ([0], [1.0], [0.0], [[1.0]])))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="propensities"):
        estimate("ips", [0], [1.0], [0.0], [[1.0]])


def test_bootstrap_interval_is_deterministic_for_a_seed() -> None:
    a = estimate("dr", A, R, P, PI, Q, n_boot=100, seed=7)
    b = estimate("dr", A, R, P, PI, Q, n_boot=100, seed=7)
    assert (a.low, a.high) == (b.low, b.high)
    assert a.low <= a.value <= a.high or a.n < 5


def _synthetic_log(seed: int, n: int = 400) -> tuple[dict[str, Any], float]:
    """A 3-armed log under a skewed logging policy; rewards Gaussian around known means."""
    rng = np.random.default_rng(seed)
    means = np.array([1.0, 2.0, 4.0])
    logging = np.array([0.6, 0.3, 0.1])
    target = np.array([0.1, 0.3, 0.6])
    actions = rng.choice(3, size=n, p=logging)
    rewards = means[actions] + rng.normal(0, 1.0, size=n)
    model = np.tile(means + 0.5, (n, 1))  # a biased model: DR must correct it
    arrays = {"actions": actions, "rewards": rewards, "propensities": logging[actions],
              "target": np.tile(target, (n, 1)), "reward_model": model}
    return arrays, float(target @ means)


@pytest.mark.parametrize("name", ["ips", "snips", "dr"])
def test_estimators_are_unbiased_and_intervals_cover_the_true_value(name: str) -> None:
    seeds = range(40)
    covered, values = 0, []
    for seed in seeds:
        log, truth = _synthetic_log(seed)
        result = estimate(name, **log, n_boot=200, seed=seed)
        covered += result.low <= truth <= result.high
        values.append(result.value)
    assert covered / len(seeds) >= 0.9
    # the mean over seeds sits within a few standard errors of the truth
    assert abs(np.mean(values) - truth) < 3 * np.std(values) / np.sqrt(len(values)) + 0.02


def test_cluster_bootstrap_resamples_whole_decisions() -> None:
    log, _ = _synthetic_log(1, n=60)
    clusters = np.repeat(np.arange(20), 3)
    by_cluster = estimate("ips", **log, clusters=clusters, n_boot=100, seed=3)
    by_round = estimate("ips", **log, n_boot=100, seed=3)
    assert by_cluster.value == by_round.value
    assert (by_cluster.low, by_cluster.high) != (by_round.low, by_round.high)
