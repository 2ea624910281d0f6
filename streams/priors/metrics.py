"""Weighted AUC, log loss and calibration for rate models trained on aggregated counts.

Ad data comes as counts (impressions, clicks), not one row per impression; a row of
``n`` trials and ``k`` successes is the pair (label 1, weight k), (label 0, weight n - k).
These metrics take those weights, so they equal what the per-impression versions would give
without materialising millions of rows. Implemented in numpy to keep scikit-learn out of the
runtime dependencies.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def weighted_auc(scores: npt.ArrayLike, labels: npt.ArrayLike, weights: npt.ArrayLike) -> float:
    """P(score of a random positive > score of a random negative), ties counting one half."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    pos_w, neg_w = w * y, w * (1 - y)
    total_pos, total_neg = pos_w.sum(), neg_w.sum()
    if total_pos <= 0 or total_neg <= 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    s, pos_w, neg_w = s[order], pos_w[order], neg_w[order]
    # group tied scores: each group's positives beat every negative in lower groups, tie half of its own
    boundaries = np.flatnonzero(np.diff(s)) + 1
    starts = np.concatenate(([0], boundaries))
    pos_g = np.add.reduceat(pos_w, starts)
    neg_g = np.add.reduceat(neg_w, starts)
    neg_below = np.concatenate(([0.0], np.cumsum(neg_g)[:-1]))
    auc = (pos_g * (neg_below + 0.5 * neg_g)).sum() / (total_pos * total_neg)
    return float(auc)


def weighted_log_loss(probs: npt.ArrayLike, labels: npt.ArrayLike, weights: npt.ArrayLike) -> float:
    p = np.clip(np.asarray(probs, dtype=np.float64), 1e-12, 1 - 1e-12)
    y = np.asarray(labels, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    return float(-(w * (y * np.log(p) + (1 - y) * np.log(1 - p))).sum() / w.sum())


def calibration(pred_rate: npt.ArrayLike, trials: npt.ArrayLike, successes: npt.ArrayLike,
                bins: int = 10) -> dict[str, Any]:
    """Bin rows by predicted rate into equal-trial quantiles; compare predicted with observed rate.

    Returns the table, the expected calibration error (trial-weighted mean |predicted - observed|)
    and the overall observed/predicted ratio (1.0 = no bias).
    """
    p = np.asarray(pred_rate, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    k = np.asarray(successes, dtype=np.float64)
    keep = n > 0
    p, n, k = p[keep], n[keep], k[keep]
    if n.sum() == 0:
        return {"bins": [], "ece": float("nan"), "observed_over_predicted": float("nan")}
    order = np.argsort(p, kind="mergesort")
    p, n, k = p[order], n[order], k[order]
    cum = np.cumsum(n) / n.sum()
    edges = np.searchsorted(cum, np.linspace(0, 1, bins + 1)[1:-1], side="right")
    table = []
    ece = 0.0
    for idx in np.split(np.arange(len(p)), edges):
        if len(idx) == 0:
            continue
        trials_b = n[idx].sum()
        predicted = float((p[idx] * n[idx]).sum() / trials_b)
        observed = float(k[idx].sum() / trials_b)
        ece += trials_b * abs(predicted - observed)
        table.append({"predicted": predicted, "observed": observed, "trials": int(trials_b)})
    expected = float((p * n).sum())
    return {
        "bins": table,
        "ece": float(ece / n.sum()),
        "observed_over_predicted": float(k.sum() / expected) if expected > 0 else float("nan"),
    }


def binomial_samples(trials: npt.ArrayLike, successes: npt.ArrayLike
                     ) -> tuple[npt.NDArray[np.intp], FloatArray, FloatArray]:
    """Counts -> (row index, label, weight) pairs, dropping zero-weight halves."""
    n = np.asarray(trials, dtype=np.float64)
    k = np.asarray(successes, dtype=np.float64)
    if np.any(k > n) or np.any(k < 0):
        raise ValueError("successes must lie between 0 and trials (e.g. clicks <= impressions)")
    rows = np.arange(len(n))
    idx = np.concatenate((rows, rows))
    labels = np.concatenate((np.ones(len(n)), np.zeros(len(n))))
    weights = np.concatenate((k, n - k))
    keep = weights > 0
    return idx[keep], labels[keep], weights[keep]
