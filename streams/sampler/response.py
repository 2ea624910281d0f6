"""Diminishing returns: how an entity's pipeline value grows with its daily spend.

Delivery saturates. The more an ad set spends in a day, the dearer its next click: the audience's
cheap impressions go first. Probability of being best ignores this and pours the budget into the
entity that is best *at its current spend*, past the point where its marginal return has fallen
below a sibling's. So the sampler also learns each entity's spend response, from the platform's
own daily numbers (``spend.v1``: spend and clicks, observed at once and in volume):

    cost per click on a day = cpc_i * (a_i + b_i * x),   x = spend / scale

with ``scale`` the fair daily share of the group total. ``b_i >= 0`` is the relative rise in cost
per click per fair share of spend (0: linear delivery). A day's cost per click is noisy like
``1 / sqrt(clicks)``, so the fit is a weighted Bayesian linear regression per entity - closed
form, a 2x2 system each - with forgetting weights (costs drift) and a prior on ``b`` centred on
the group's pooled within-entity slope: an entity whose spend never moved borrows its siblings'
saturation instead of being assumed linear or arbitrarily curved.

Value per day at spend ``s`` is then ``V_i(s) = theta_i * (a_i + b_i * xbar_i) * x / (a_i + b_i * x)``
(``theta_i`` the pipeline ROAS measured at the spend ``xbar_i`` the evidence came from), concave,
with marginal ``theta_i (a_i + b_i xbar_i) a_i / (a_i + b_i x)^2``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streams.sampler.model import FloatArray

NOISE_FLOOR = 0.05
"""Relative noise of a day's cost per click beyond Poisson (misfit, intraday drift)."""
MIN_INTERCEPT = 0.05
LINEAR_SLOPE = 1e-4
"""Slope given to (near-)linear draws so the per-draw optimum is continuous in its multiplier."""


@dataclass(frozen=True)
class ResponseCurves:
    """Posterior (Gaussian, ``b`` truncated at 0 when drawn) of every entity's ``(a, b)``."""

    mean: FloatArray  # (K, 2)
    cov: FloatArray  # (K, 2, 2)
    typical_x: FloatArray  # (K,) spend (in units of scale) the pipeline evidence was gathered at
    scale: float

    def draw(self, rng: np.random.Generator, n: int) -> tuple[FloatArray, FloatArray]:
        """``n`` joint draws of ``(a, b)``, each of shape ``(n, K)``."""
        k = self.mean.shape[0]
        chol = np.linalg.cholesky(self.cov + 1e-12 * np.eye(2))
        z = rng.standard_normal((n, k, 2))
        ab = self.mean[None, :, :] + np.einsum("kij,nkj->nki", chol, z)
        return (np.maximum(ab[..., 0], MIN_INTERCEPT),
                np.maximum(ab[..., 1], 0.0))


def fit(idx: FloatArray, k: int, spend: FloatArray, clicks: FloatArray, weight: FloatArray, scale: float,
        slope_prior_sd: float, intercept_prior_sd: float = 1.0) -> ResponseCurves:
    """Fit every entity's curve from its days ``(spend, clicks)`` with forgetting ``weight``.

    ``idx`` maps each day to its entity (0..k-1). Days without clicks carry no cost per click.
    """
    ix = np.asarray(idx, dtype=np.int64)
    s, c, w = (np.asarray(v, dtype=np.float64) for v in (spend, clicks, weight))
    spent = s > 0
    typical_x = np.ones(k)
    sw = np.bincount(ix[spent], weights=(w * s)[spent], minlength=k)
    sxw = np.bincount(ix[spent], weights=(w * s * s / scale)[spent], minlength=k)
    typical_x = np.where(sw > 0, sxw / np.maximum(sw, 1e-12), 1.0)
    ok = spent & (c > 0)
    ix, s, c, w = ix[ok], s[ok], c[ok], w[ok]
    cpc_sum = np.bincount(ix, weights=w * s, minlength=k)
    click_sum = np.bincount(ix, weights=w * c, minlength=k)
    mean_cpc = np.where(click_sum > 0, cpc_sum / np.maximum(click_sum, 1e-12), 1.0)
    y = (s / c) / mean_cpc[ix]  # cost per click relative to the entity's mean (about 1)
    x = s / scale
    omega = w / (1.0 / c + NOISE_FLOOR**2)  # precision of a day's relative cost per click

    def total(v: FloatArray) -> FloatArray:
        return np.asarray(np.bincount(ix, weights=omega * v, minlength=k), dtype=np.float64)

    n0, n1, n2, t0, t1 = total(np.ones_like(x)), total(x), total(x * x), total(y), total(x * y)
    # the group's pooled within-entity slope (each entity's own level removed): the prior's centre
    xbar, ybar = n1 / np.maximum(n0, 1e-12), t0 / np.maximum(n0, 1e-12)
    sxx = n2 - n0 * xbar**2
    sxy = t1 - n0 * xbar * ybar
    pooled = float(sxy.sum() / sxx.sum()) if sxx.sum() > 1e-9 else 0.0
    b0 = max(pooled, 0.0)
    ia, ib = 1.0 / intercept_prior_sd**2, 1.0 / slope_prior_sd**2
    a0 = 1.0 - b0 * typical_x  # a curve through (typical spend, relative cost 1)
    p00, p01, p11 = n0 + ia, n1, n2 + ib
    r0, r1 = t0 + ia * a0, t1 + ib * b0
    det = p00 * p11 - p01 * p01
    mean = np.stack([(p11 * r0 - p01 * r1) / det, (p00 * r1 - p01 * r0) / det], axis=1)
    cov = np.stack([np.stack([p11, -p01], axis=1), np.stack([-p01, p00], axis=1)], axis=1) / det[:, None, None]
    return ResponseCurves(np.asarray(mean, dtype=np.float64), np.asarray(cov, dtype=np.float64),
                          np.asarray(typical_x, dtype=np.float64), scale)


def optimal_budgets(value_per_unit: FloatArray, a: FloatArray, b: FloatArray, floor: FloatArray,
                    cap: FloatArray, total: float, iterations: int = 48) -> FloatArray:
    """Per draw (row), the split of ``total`` maximising ``sum_i c_i x_i / (a_i + b_i x_i)``.

    ``value_per_unit`` is ``c = theta * (a + b * xbar)``; every argument is ``(n, K)`` or broadcasts
    to it, in units of ``scale``; ``floor``/``cap`` are ``(K,)``. The optimum equalises marginal
    values ``c a / (a + b x)^2 = nu`` between floors and caps; ``nu`` is found by bisection (in log
    space, all draws at once), and the two bracketing splits are blended to spend exactly ``total``.
    With ``b = 0`` (linear) the optimum is everything above the floors to the best entity:
    averaging these over posterior draws gives back probability matching.
    """
    c = np.maximum(np.asarray(value_per_unit, dtype=np.float64), 1e-300)
    bb = np.maximum(b, LINEAR_SLOPE)

    def split(nu: FloatArray) -> FloatArray:
        x = (np.sqrt(c * a / nu[:, None]) - a) / bb
        return np.asarray(np.clip(x, floor, cap), dtype=np.float64)

    marginal_floor = c * a / (a + bb * floor) ** 2
    marginal_cap = c * a / (a + bb * cap) ** 2
    hi = np.log(marginal_floor.max(axis=1) * 1.01)  # everyone at the floor: spends <= total
    lo = np.log(np.maximum(marginal_cap.min(axis=1) * 0.99, 1e-300))  # everyone at the cap: >= total
    for _ in range(iterations):
        mid = (lo + hi) / 2
        over = split(np.exp(mid)).sum(axis=1) > total
        lo = np.where(over, mid, lo)
        hi = np.where(over, hi, mid)
    low_spend, high_spend = split(np.exp(hi)), split(np.exp(lo))
    s_lo, s_hi = low_spend.sum(axis=1), high_spend.sum(axis=1)
    t = np.where(s_hi - s_lo > 1e-12, (total - s_lo) / np.maximum(s_hi - s_lo, 1e-12), 0.0)
    return np.asarray(low_spend + np.clip(t, 0.0, 1.0)[:, None] * (high_spend - low_spend), dtype=np.float64)
