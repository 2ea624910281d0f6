"""The posterior over each entity's pipeline ROAS: deals per unit spend times value per deal.

Pipeline revenue is not click/no-click: deals arrive at a rate proportional to spend, and each
earns credits of very different sizes over weeks (a lead's 500, a closed-won 40,000, a closed-lost
reversal). The model is compound: pipeline ROAS ``theta = lambda * v`` with

- ``lambda`` - deals per unit of spend. Deal counts are Poisson in the (delay-developed) spend, so
  ``lambda ~ Gamma(a0 + n, b0 + E_n)``: the conjugate Gamma-Poisson update. Counts are the fast,
  low-noise part of the signal (a deal appears within hours of its click).
- ``v`` - eventual pipeline value per deal, heavy-tailed. Credits form a compound-Poisson sum whose
  variance is ``mean * s`` with the dispersion ``s = E[J^2] / E[J]`` of credit sizes: measured in
  units of ``s`` revenue is Poisson-like, which gives a conjugate Gamma update
  ``v ~ Gamma((k*v_g + R)/s, (k + m)/s)``. ``m`` counts deals by how much of their eventual value
  is credited by now, ``v_g`` is the group's value per deal and ``k`` pseudo-deals of it: an
  entity borrows its group's value per deal until its own deals outweigh it (partial pooling),
  so one lucky closed-won deal does not make an entity look certain.

Both posterior means are credibility blends - ``(b0*m0 + n) / (b0 + E_n)`` - so prior and evidence
trade places exactly as fast as pipeline evidence accumulates.

Forgetting: every cohort's spend and revenue is weighted by ``0.5 ** (age / half_life)``, so the
posterior follows drift and the old evidence's weight halves every half-life.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def decay_weights(age_days: FloatArray, half_life_days: float) -> FloatArray:
    """Weight of evidence ``age_days`` old: 1 today, 0.5 one half-life ago (inf: no forgetting)."""
    if not np.isfinite(half_life_days):
        return np.ones_like(np.asarray(age_days, dtype=np.float64))
    return np.asarray(0.5 ** (np.clip(age_days, 0.0, None) / half_life_days), dtype=np.float64)


@dataclass(frozen=True)
class Evidence:
    """Per-entity sufficient statistics after forgetting and delay development (arrays of length K)."""

    deal_exposure: FloatArray  # spend developed by the deal-arrival delay curve (minor units)
    deals: FloatArray  # conversions: deals that received their first credit
    value_exposure: FloatArray  # deals weighted by how much of their eventual value is credited by now
    revenue: FloatArray  # net credited pipeline value R (minor units), may be negative
    jump_abs: FloatArray  # sum of |credit|
    jump_sq: FloatArray  # sum of credit^2
    spend: FloatArray  # forgotten spend, no development (for platform rates)
    clicks: FloatArray
    results: FloatArray  # platform-reported results (leads)


@dataclass(frozen=True)
class Prior:
    """Prior over the conversion rate (deals per unit spend): mean and strength in pseudo-spend."""

    mean: FloatArray
    strength: FloatArray


def dispersion(evidence: Evidence, prior_jump: float, pseudo_jumps: float = 3.0) -> FloatArray:
    """``s = E[J^2]/E[J]`` per entity, shrunk towards the group's with ``pseudo_jumps`` credits.

    ``prior_jump`` is the fallback when nothing was credited anywhere.
    """
    group_s = (float(evidence.jump_sq.sum()) + prior_jump * prior_jump * pseudo_jumps) / (
        float(evidence.jump_abs.sum()) + prior_jump * pseudo_jumps
    )
    mass = group_s * pseudo_jumps
    return np.asarray((evidence.jump_sq + group_s * mass) / (evidence.jump_abs + mass), dtype=np.float64)


@dataclass(frozen=True)
class Posterior:
    """Pipeline ROAS ``theta = lambda * v`` per entity, with independent Gamma factors.

    ``lambda`` (deals per unit of spend) ~ Gamma(rate_shape, rate_rate);
    ``v`` (eventual pipeline value per deal) ~ Gamma(value_shape, value_rate).
    """

    entity_ids: tuple[str, ...]
    rate_shape: FloatArray
    rate_rate: FloatArray
    value_shape: FloatArray
    value_rate: FloatArray

    def __post_init__(self) -> None:
        sizes = {len(self.entity_ids), self.rate_shape.size, self.rate_rate.size, self.value_shape.size,
                 self.value_rate.size}
        if len(sizes) != 1:
            raise ValueError("every parameter array must have one entry per entity")

    @property
    def mean(self) -> FloatArray:
        return np.asarray(self.rate_shape / self.rate_rate * self.value_shape / self.value_rate, dtype=np.float64)

    @property
    def variance(self) -> FloatArray:
        m1, v1 = self.rate_shape / self.rate_rate, self.rate_shape / self.rate_rate**2
        m2, v2 = self.value_shape / self.value_rate, self.value_shape / self.value_rate**2
        return np.asarray((v1 + m1**2) * (v2 + m2**2) - (m1 * m2) ** 2, dtype=np.float64)

    def quantile(self, q: float, draws: int = 4000, seed: int = 0) -> FloatArray:
        """Monte Carlo quantile (the product of Gammas has no closed form); seeded, so stable."""
        return np.asarray(np.quantile(self.draw(np.random.default_rng(seed), draws), q, axis=0), dtype=np.float64)

    def quantiles(self, qs: tuple[float, ...], draws: int = 4000, seed: int = 0) -> FloatArray:
        """Several quantiles from one set of draws, shape ``(len(qs), K)``: the same values as
        :meth:`quantile` gives one at a time with the same seed, for one draw instead of many."""
        return np.asarray(np.quantile(self.draw(np.random.default_rng(seed), draws), qs, axis=0), dtype=np.float64)

    def draw(self, rng: np.random.Generator, n: int) -> FloatArray:
        """``n`` joint draws, shape ``(n, K)`` - vectorised, no Python loop over entities."""
        k = self.rate_shape.size
        rate = rng.gamma(self.rate_shape, 1.0 / self.rate_rate, size=(n, k))
        value = rng.gamma(self.value_shape, 1.0 / self.value_rate, size=(n, k))
        return np.asarray(rate * value, dtype=np.float64)


MIN_SHAPE = 1e-3


def update(entity_ids: tuple[str, ...], evidence: Evidence, prior: Prior, jump_scale: FloatArray,
           group_value: float, value_pseudo_deals: float) -> Posterior:
    """The conjugate updates of both factors (see module docstring).

    Deals: Poisson counts on developed spend, ``Gamma(a0 + n, b0 + E_n)``. Value per deal: revenue
    in units of the dispersion ``s`` is Poisson-like, so ``Gamma((k*v_g + R)/s, (k + m)/s)`` with
    ``m`` the deals' developed weight and ``k`` pseudo-deals at the group's value ``v_g``.
    """
    rate_shape = np.maximum(prior.strength * prior.mean + evidence.deals, MIN_SHAPE)
    rate_rate = np.maximum(prior.strength + evidence.deal_exposure, 1e-12)
    revenue = np.clip(evidence.revenue, 0.0, None)
    s = np.maximum(jump_scale, 1e-9)
    value_shape = np.maximum((value_pseudo_deals * group_value + revenue) / s, MIN_SHAPE)
    value_rate = np.maximum((value_pseudo_deals + evidence.value_exposure) / s, 1e-12)
    return Posterior(entity_ids, np.asarray(rate_shape, dtype=np.float64), np.asarray(rate_rate, dtype=np.float64),
                     np.asarray(value_shape, dtype=np.float64), np.asarray(value_rate, dtype=np.float64))
