"""How fast spend turns into pipeline value: a development curve estimated from observed credits.

Spend on day *d* earns pipeline value over the following weeks: a lead is credited within hours,
an appointment days later, a closed-won amount weeks later. Judging an ad set by the value its
last few days of spend have earned *so far* would make recent spend look like failure, and the
sampler would starve exactly the entities it just gave money to.

So the sampler discounts spend by its development: ``F(age)`` is the expected fraction of a spend
cohort's eventual pipeline value that has been credited by the time it is ``age`` days old, and
the "effective spend" of a cohort is ``spend * F(age)``. ``F`` is estimated the way actuaries
develop claims triangles (chain ladder): for every lag ``k`` (days from click to credit) the
value credited at lag ``k`` is divided by the spend of the cohorts old enough to have shown lag
``k``. That ratio is unbiased even though young cohorts have not shown their long lags yet
(censoring), which a plain histogram of observed delays is not. Lags without enough exposure
borrow from a prior curve (gamma, shape 2) so the tail is not assumed empty before it is seen.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy import stats

FloatArray = npt.NDArray[np.float64]


def prior_curve(horizon_days: int, mean_days: float) -> FloatArray:
    """Increments of a gamma(shape 2) delay CDF per whole-day lag; the last bucket holds the tail."""
    edges = np.arange(1, horizon_days + 1, dtype=np.float64)
    cdf = stats.gamma.cdf(edges, a=2.0, scale=max(mean_days, 1e-6) / 2.0)
    increments = np.diff(np.concatenate(([0.0], cdf)))
    increments[-1] += 1.0 - cdf[-1]
    return np.asarray(increments, dtype=np.float64)


@dataclass
class DelayModel:
    """Value credited per lag bucket for one allocation group, and the development curve it implies.

    ``lag_value[k]`` is the (signed) pipeline value credited ``k`` whole days after its click;
    the last bucket collects every longer lag.
    """

    horizon_days: int = 45
    prior_mean_days: float = 7.0
    prior_exposure_days: float = 3.0
    """Strength of the prior curve, in days of the group's average daily spend per lag."""
    lag_value: FloatArray = field(default_factory=lambda: np.zeros(0))

    def __post_init__(self) -> None:
        if self.lag_value.size == 0:
            self.lag_value = np.zeros(self.horizon_days, dtype=np.float64)
        if self.lag_value.size != self.horizon_days:
            raise ValueError(f"lag_value has {self.lag_value.size} buckets, horizon is {self.horizon_days}")

    def bucket(self, lag_days: float) -> int:
        return int(min(max(lag_days, 0.0), self.horizon_days - 1))

    def observe(self, lag_days: float, amount_minor: int) -> None:
        self.lag_value[self.bucket(lag_days)] += amount_minor

    def increments(self, cohort_spend: FloatArray, cohort_age_days: FloatArray) -> FloatArray:
        """Estimated fraction of eventual value credited in each lag bucket (sums to 1).

        ``cohort_spend`` and ``cohort_age_days`` describe every spend cohort of the group (age of
        a day's spend measured from the middle of that day).
        """
        h = self.horizon_days
        prior = prior_curve(h, self.prior_mean_days)
        spend = np.asarray(cohort_spend, dtype=np.float64)
        age = np.asarray(cohort_age_days, dtype=np.float64)
        if spend.sum() <= 0:
            return prior
        lags = np.arange(h, dtype=np.float64)
        # exposure to lag k: spend of cohorts that have lived through lag bucket k (partially, at the edge)
        reached = np.clip(age[None, :] - lags[:, None], 0.0, 1.0)
        reached[-1] = np.clip(age - (h - 1), 0.0, None) > 0  # the tail bucket is open-ended
        exposure = reached @ spend
        # the prior's overall value rate, fitted to what has been credited under the prior curve
        prior_cdf = np.cumsum(prior)
        developed = spend @ np.interp(age, np.arange(1, h + 1, dtype=np.float64), prior_cdf, left=0.0)
        total_value = float(self.lag_value.sum())
        rate = max(total_value, 0.0) / developed if developed > 0 else 0.0
        if rate <= 0:
            return prior
        pseudo = self.prior_exposure_days * spend.sum() / max(len(np.unique(np.floor(age))), 1)
        rates = (self.lag_value + pseudo * prior * rate) / (exposure + pseudo)
        cumulative = np.maximum.accumulate(np.clip(np.cumsum(rates), 0.0, None))
        if cumulative[-1] <= 0:
            return prior
        cumulative /= cumulative[-1]
        return np.diff(np.concatenate(([0.0], cumulative)))

    def cdf(self, ages_days: FloatArray, increments: FloatArray) -> FloatArray:
        """``F(age)``: share of eventual value credited by ``age`` days (linear within a day)."""
        cumulative = np.concatenate(([0.0], np.cumsum(increments)))
        grid = np.arange(0, self.horizon_days + 1, dtype=np.float64)
        out = np.interp(np.asarray(ages_days, dtype=np.float64), grid, cumulative, left=0.0, right=1.0)
        return np.asarray(out, dtype=np.float64)
