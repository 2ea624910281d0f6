"""Allocation time for 10, 100 and 1,000 entities vs MABWiser's Thompson sampling predict.

Ours: one full allocation - posterior draws (2,000 x K, vectorised), probability of being best,
water-filled integer budgets. Baseline, measured in the same run on the same entity count:
MABWiser's ``ThompsonSampling`` fitted with one observation per arm, timed on a single
``predict()`` (one posterior draw per arm: far less than a budget split) and on the same work as
ours - shares from 2,000 draws, i.e. 2,000 ``predict()`` calls (timed on 100, scaled). Prints
median seconds and the ratios (ours / baseline; below 1 means ours is faster).

    .venv/bin/python bench/sampler.py
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np
from mabwiser.mab import MAB, LearningPolicy

from streams.sampler.allocation import Constraints, bounds, budgets_for, thompson_shares
from streams.sampler.model import Posterior
from streams.sampler.response import optimal_budgets


def median_seconds(fn: Callable[[], object], repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    print(f"{'entities':>8} {'ours_s':>10} {'mab_predict_s':>14} {'mab_2000x_s':>12} "
          f"{'ours/predict':>13} {'ours/2000x':>11} {'response_s':>11} {'resp/2000x':>11}")
    for k in (10, 100, 1_000):
        rng = np.random.default_rng(0)
        post = Posterior(tuple(f"e{i}" for i in range(k)), rng.uniform(1, 50, k), rng.uniform(1, 10, k),
                         rng.uniform(1, 50, k), rng.uniform(1, 10, k))
        constraints = Constraints(total_minor=1_000 * k, min_minor=np.full(k, 100))

        def ours(post: Posterior = post, constraints: Constraints = constraints) -> object:
            return budgets_for(thompson_shares(post, np.random.default_rng(1), 2_000), constraints)

        def response(post: Posterior = post, constraints: Constraints = constraints, k: int = k) -> object:
            """The full allocation thompson runs: expected best split under diminishing returns."""
            n = max(200, min(2_000, 200_000 // k))
            r = np.random.default_rng(1)
            theta = post.draw(r, n)
            a, b = np.ones((n, k)), np.abs(r.normal(0.0, 0.3, (n, k)))
            floor, cap = bounds(constraints)
            scale = constraints.total_minor / k
            return optimal_budgets(theta * (a + b), a, b, floor / scale, cap / scale, float(k)).mean(axis=0)

        arms = list(range(k))
        mab = MAB(arms, LearningPolicy.ThompsonSampling(), seed=1)
        mab.fit(arms, [int(x) for x in rng.integers(0, 2, k)])
        repeat = 20 if k < 1_000 else 7
        t_ours = median_seconds(ours, repeat)
        t_resp = median_seconds(response, repeat)
        t_pred = median_seconds(mab.predict, repeat)
        def hundred(mab: MAB = mab) -> object:
            return [mab.predict() for _ in range(100)]

        t_many = median_seconds(hundred, 3) * 20
        print(f"{k:>8} {t_ours:>10.5f} {t_pred:>14.5f} {t_many:>12.4f} {t_ours / t_pred:>13.1f} "
              f"{t_ours / t_many:>11.3f} {t_resp:>11.5f} {t_resp / t_many:>11.3f}")


if __name__ == "__main__":
    main()
