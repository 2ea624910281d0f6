"""The posterior updates against closed-form values."""

from __future__ import annotations

import numpy as np
from scipy import stats

from streams.sampler.model import Evidence, Posterior, Prior, decay_weights, dispersion, update


def evidence(**values: list[float]) -> Evidence:
    k = len(next(iter(values.values())))
    zero = [0.0] * k
    fields = ["deal_exposure", "deals", "value_exposure", "revenue", "jump_abs", "jump_sq", "spend", "clicks",
              "results"]
    return Evidence(**{f: np.array(values.get(f, zero), dtype=float) for f in fields})


def test_gamma_poisson_deal_rate_update_matches_the_closed_form() -> None:
    ev = evidence(deal_exposure=[10_000.0], deals=[7.0], value_exposure=[7.0], revenue=[350_000.0],
                  jump_abs=[350_000.0], jump_sq=[7 * 50_000.0**2])
    prior = Prior(mean=np.array([2e-4]), strength=np.array([5_000.0]))
    post = update(("a",), ev, prior, np.array([50_000.0]), group_value=40_000.0, value_pseudo_deals=3.0)
    # lambda ~ Gamma(b0*m0 + n, b0 + E): shape 1 + 7, rate 15,000
    assert post.rate_shape[0] == 1.0 + 7.0
    assert post.rate_rate[0] == 15_000.0
    # v ~ Gamma((k*v_g + R)/s, (k + m)/s)
    assert np.isclose(post.value_shape[0], (3 * 40_000 + 350_000) / 50_000)
    assert np.isclose(post.value_rate[0], (3 + 7) / 50_000)
    assert np.isclose(post.mean[0], 8 / 15_000 * (470_000 / 10))


def test_posterior_mean_is_a_credibility_blend_that_evidence_takes_over() -> None:
    prior = Prior(mean=np.array([1e-4, 1e-4]), strength=np.array([1_000.0, 1_000.0]))
    ev = evidence(deal_exposure=[1_000.0, 1_000_000.0], deals=[3.0, 3_000.0], value_exposure=[3.0, 3_000.0])
    post = update(("few", "many"), ev, prior, np.array([1.0, 1.0]), group_value=1.0, value_pseudo_deals=1.0)
    rate = post.rate_shape / post.rate_rate
    assert np.isclose(rate[0], (0.1 + 3) / 2_000)  # halfway-weighted
    assert abs(rate[1] - 3e-3) / 3e-3 < 0.001  # evidence dominates


def test_product_moments_and_draws_agree() -> None:
    post = Posterior(("a",), np.array([4.0]), np.array([2.0]), np.array([3.0]), np.array([0.5]))
    draws = post.draw(np.random.default_rng(1), 200_000)[:, 0]
    assert np.isclose(post.mean[0], 2.0 * 6.0)
    assert abs(draws.mean() - 12.0) < 0.15
    assert abs(draws.var() - post.variance[0]) / post.variance[0] < 0.03


def test_dispersion_is_second_over_first_moment_shrunk_to_the_group() -> None:
    ev = evidence(jump_abs=[300.0, 0.0], jump_sq=[30_000.0, 0.0])
    s = dispersion(ev, prior_jump=100.0, pseudo_jumps=3.0)
    group = (30_000 + 100**2 * 3) / (300 + 100 * 3)
    assert np.isclose(s[1], group)  # no credits of its own: the group's
    assert np.isclose(s[0], (30_000 + group * group * 3) / (300 + group * 3))


def test_forgetting_halves_weight_every_half_life() -> None:
    w = decay_weights(np.array([0.0, 10.0, 20.0]), 10.0)
    assert np.allclose(w, [1.0, 0.5, 0.25])
    assert np.allclose(decay_weights(np.array([100.0]), float("inf")), [1.0])


def test_gamma_quantiles_of_one_factor_match_scipy() -> None:
    post = Posterior(("a",), np.array([5.0]), np.array([1.0]), np.array([1e6]), np.array([1e6]))
    q = post.quantile(0.95, draws=100_000)
    assert abs(q[0] - stats.gamma.ppf(0.95, 5.0)) < 0.1


def test_several_quantiles_from_one_draw_equal_the_ones_taken_one_at_a_time() -> None:
    post = Posterior(("a", "b"), np.array([2.0, 9.0]), np.array([1.0, 3.0]), np.array([5.0, 2.0]), np.array([1.0, 4.0]))
    together = post.quantiles((0.05, 0.1, 0.5, 0.9, 0.95), seed=11)
    for row, q in zip(together, (0.05, 0.1, 0.5, 0.9, 0.95), strict=True):
        assert np.array_equal(row, post.quantile(q, seed=11))
    assert (np.diff(together, axis=0) >= 0).all()  # ordered: p5 <= p10 <= median <= p90 <= p95
