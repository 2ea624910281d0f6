"""Off-policy estimators: plain numpy on arrays, so they can be checked against textbooks.

Notation (as in Dudik et al. 2011 and the Open Bandit Pipeline): ``n`` logged rounds; round ``i``
has a context ``x_i``, the logged action ``a_i`` drawn from the logging policy with probability
``p_i = pi_0(a_i | x_i)`` (the *propensity*), the observed reward ``r_i``, the target policy's
distribution over the ``K`` actions ``pi(. | x_i)`` (row ``i`` of ``target``, shape ``(n, K)``)
and, for DR, a reward model's predictions ``q_hat(x_i, a)`` (shape ``(n, K)``).

The importance weight of round ``i`` is ``w_i = pi(a_i | x_i) / p_i``, optionally clipped to
``min(w_i, clip)``. Clipping lowers variance and adds a downward bias, so every result says
whether and how often it clipped.

- IPS   ``V = 1/n * sum_i w_i r_i``  (unbiased when ``p_i > 0`` wherever ``pi > 0``)
- SNIPS ``V = sum_i w_i r_i / sum_i w_i``  (self-normalised: bounded by the rewards, slightly biased)
- DR    ``V = 1/n * sum_i [ sum_a pi(a|x_i) q_hat(x_i,a) + w_i (r_i - q_hat(x_i,a_i)) ]``
  (unbiased if either the propensities or the reward model are right)
- ESS   ``(sum_i w_i)^2 / sum_i w_i^2``: how many on-policy rounds the log is worth.

Intervals are percentile bootstrap intervals with a seeded generator; resampling is by
``clusters`` when given (rounds of one roasloop decision share a context, so they are resampled
together), otherwise by round.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
Estimator = Callable[[IntArray, FloatArray, FloatArray, FloatArray, FloatArray | None, float | None], float]

MIN_PROPENSITY = 0.01  # below this, one round's weight can swamp the estimate


@dataclass(frozen=True)
class Estimate:
    """One estimator's answer, with everything a reader needs to judge it."""

    name: str
    value: float
    low: float
    high: float
    ess: float
    n: int
    clipped: int = 0
    clip: float | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, object]:
        return {
            "estimator": self.name, "value": self.value, "ci_low": self.low, "ci_high": self.high,
            "ess": self.ess, "n": self.n, "clipped": self.clipped, "clip": self.clip,
            "warnings": list(self.warnings),
        }


def _arrays(actions: ArrayLike, rewards: ArrayLike, propensities: ArrayLike,
            target: ArrayLike) -> tuple[IntArray, FloatArray, FloatArray, FloatArray]:
    a = np.asarray(actions, dtype=np.int64)
    r = np.asarray(rewards, dtype=np.float64)
    p = np.asarray(propensities, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    if not (a.ndim == r.ndim == p.ndim == 1 and len(a) == len(r) == len(p)):
        raise ValueError("actions, rewards and propensities must be 1-d arrays of one length")
    if t.ndim != 2 or t.shape[0] != len(a):
        raise ValueError("target must have shape (n, K): one distribution over actions per round")
    if np.any(p <= 0) or np.any(p > 1):
        raise ValueError("propensities must lie in (0, 1]: an action with propensity 0 was never logged")
    if len(a) and (a.min() < 0 or a.max() >= t.shape[1]):
        raise ValueError("actions must index the columns of target")
    return a, r, p, t


def importance_weights(actions: ArrayLike, propensities: ArrayLike, target: ArrayLike,
                       clip: float | None = None) -> FloatArray:
    """``w_i = min(pi(a_i|x_i) / p_i, clip)``."""
    a = np.asarray(actions, dtype=np.int64)
    t = np.asarray(target, dtype=np.float64)
    p = np.asarray(propensities, dtype=np.float64)
    if np.any(p <= 0):
        raise ValueError("propensities must be > 0: an action with propensity 0 was never logged")
    w: FloatArray = t[np.arange(len(a)), a] / p
    return np.minimum(w, clip) if clip is not None else w


def effective_sample_size(weights: ArrayLike) -> float:
    """Kish's ESS ``(sum w)^2 / sum w^2`` (0 when every weight is 0)."""
    w = np.asarray(weights, dtype=np.float64)
    square = float(np.sum(w * w))
    return float(np.sum(w)) ** 2 / square if square > 0 else 0.0


def ips(actions: IntArray, rewards: FloatArray, propensities: FloatArray, target: FloatArray,
        reward_model: FloatArray | None = None, clip: float | None = None) -> float:
    """Inverse propensity scoring: ``1/n * sum_i w_i r_i``."""
    w = importance_weights(actions, propensities, target, clip)
    return float(np.mean(w * rewards)) if len(w) else 0.0


def snips(actions: IntArray, rewards: FloatArray, propensities: FloatArray, target: FloatArray,
          reward_model: FloatArray | None = None, clip: float | None = None) -> float:
    """Self-normalised IPS: ``sum_i w_i r_i / sum_i w_i``."""
    w = importance_weights(actions, propensities, target, clip)
    total = float(np.sum(w))
    return float(np.sum(w * rewards)) / total if total > 0 else 0.0


def doubly_robust(actions: IntArray, rewards: FloatArray, propensities: FloatArray, target: FloatArray,
                  reward_model: FloatArray | None = None, clip: float | None = None) -> float:
    """DR: the reward model's value under ``pi`` plus the IPS-weighted residual of the logged action."""
    if reward_model is None:
        raise ValueError("doubly robust needs reward-model predictions of shape (n, K)")
    q = np.asarray(reward_model, dtype=np.float64)
    if q.shape != target.shape:
        raise ValueError("reward_model must have the shape of target")
    w = importance_weights(actions, propensities, target, clip)
    rows = np.arange(len(actions))
    direct = np.sum(target * q, axis=1)
    return float(np.mean(direct + w * (rewards - q[rows, actions]))) if len(w) else 0.0


ESTIMATORS: dict[str, Estimator] = {"ips": ips, "snips": snips, "dr": doubly_robust}


def bootstrap_interval(estimator: Estimator, actions: IntArray, rewards: FloatArray,
                       propensities: FloatArray, target: FloatArray, reward_model: FloatArray | None,
                       clip: float | None = None, *, clusters: ArrayLike | None = None,
                       n_boot: int = 500, alpha: float = 0.05, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap ``(alpha/2, 1-alpha/2)`` interval, resampling rounds or whole clusters."""
    n = len(actions)
    if n == 0:
        return (0.0, 0.0)
    rng = np.random.default_rng(seed)
    groups: list[IntArray] = []
    if clusters is not None:
        _, inverse = np.unique(np.asarray(clusters), return_inverse=True)
        order = np.argsort(inverse, kind="stable")
        groups = np.split(order, np.flatnonzero(np.diff(inverse[order])) + 1)
    values = np.empty(n_boot)
    for b in range(n_boot):
        if groups:
            idx = np.concatenate([groups[g] for g in rng.integers(0, len(groups), size=len(groups))])
        else:
            idx = rng.integers(0, n, size=n)
        q = reward_model[idx] if reward_model is not None else None
        values[b] = estimator(actions[idx], rewards[idx], propensities[idx], target[idx], q, clip)
    low, high = np.quantile(values, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def estimate(name: str, actions: ArrayLike, rewards: ArrayLike, propensities: ArrayLike, target: ArrayLike,
             reward_model: ArrayLike | None = None, *, clip: float | None = None,
             clusters: ArrayLike | None = None, n_boot: int = 500, alpha: float = 0.05, seed: int = 0,
             min_propensity: float = MIN_PROPENSITY) -> Estimate:
    """Run one estimator (``ips``, ``snips`` or ``dr``) with its interval, ESS and warnings."""
    fn = ESTIMATORS[name]
    a, r, p, t = _arrays(actions, rewards, propensities, target)
    q = None if reward_model is None else np.asarray(reward_model, dtype=np.float64)
    raw = importance_weights(a, p, t)
    weights = np.minimum(raw, clip) if clip is not None else raw
    clipped = int(np.sum(raw > clip)) if clip is not None else 0
    warnings: list[str] = []
    small = int(np.sum(p < min_propensity))
    if small:
        warnings.append(f"{small} of {len(p)} propensities below {min_propensity}: "
                        "a few rounds dominate; consider clipping")
    ess = effective_sample_size(weights)
    if len(p) and ess < 0.1 * len(p):
        warnings.append(f"effective sample size {ess:.1f} is under 10% of {len(p)} rounds")
    if clipped:
        warnings.append(f"{clipped} weights clipped at {clip} (biased downward)")
    low, high = bootstrap_interval(fn, a, r, p, t, q, clip, clusters=clusters, n_boot=n_boot,
                                   alpha=alpha, seed=seed)
    return Estimate(name=name, value=fn(a, r, p, t, q, clip), low=low, high=high, ess=ess, n=len(a),
                    clipped=clipped, clip=clip, warnings=tuple(warnings))
