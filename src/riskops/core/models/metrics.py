"""Ranking and calibration metrics of a binary classifier (pure numpy).

Every function takes ``labels`` (0 / 1) and ``scores`` (higher: more likely positive) of the
same length. Tied scores are one threshold: a model cannot flag half of a tie, so the curves
step over a whole group of equal scores at once. A metric that is undefined on the data (no
positives, or no negatives) is ``None``, never NaN.

* ``roc_auc`` - the probability that a random positive scores above a random negative, ties
  counting one half (the Mann-Whitney statistic with average ranks).
* ``average_precision`` - the area under the precision-recall curve as a step sum:
  ``Σ (R_k - R_{k-1}) · P_k`` over the distinct thresholds, from the highest score down.
* ``recall_at_fpr`` - the highest share of positives flagged at any threshold whose false
  positive rate (negatives flagged / negatives) is at most ``max_fpr`` (0 when none is).
* ``brier`` - the mean squared difference between probability and label.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]


def _check(labels: npt.ArrayLike, scores: npt.ArrayLike) -> tuple[Array, Array]:
    y = np.asarray(labels, dtype=np.float64)
    s = np.asarray(scores, dtype=np.float64)
    if y.ndim != 1 or s.shape != y.shape:
        raise ValueError("labels and scores must be 1-d and of the same length")
    if not np.all((y == 0) | (y == 1)):
        raise ValueError("labels must be 0 or 1")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores must be finite numbers")
    return y, s


def average_ranks(values: npt.ArrayLike) -> Array:
    """1-based ranks of ``values`` in ascending order; tied values share their mean rank."""
    v = np.asarray(values, dtype=np.float64)
    _, inverse, counts = np.unique(v, return_inverse=True, return_counts=True)
    start = np.cumsum(counts) - counts  # rows below each distinct value
    mean_rank = start + (counts + 1) / 2.0
    return np.asarray(mean_rank[inverse], dtype=np.float64)


def roc_auc(labels: npt.ArrayLike, scores: npt.ArrayLike) -> float | None:
    """Area under the ROC curve; None without positives or without negatives."""
    y, s = _check(labels, scores)
    pos = float(y.sum())
    neg = float(len(y) - pos)
    if pos == 0 or neg == 0:
        return None
    rank_sum = float(average_ranks(s)[y == 1].sum())
    return (rank_sum - pos * (pos + 1) / 2.0) / (pos * neg)


def curve(labels: npt.ArrayLike, scores: npt.ArrayLike) -> tuple[Array, Array]:
    """Cumulative (true positives, false positives) flagged at each distinct score, from the
    highest down: entry k flags every row scoring at least the k-th highest distinct score."""
    y, s = _check(labels, scores)
    if len(y) == 0:
        empty = np.zeros(0, dtype=np.float64)
        return empty, empty
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    last_of_group = np.r_[np.flatnonzero(np.diff(s_sorted)), len(s_sorted) - 1]
    tp = np.cumsum(y_sorted)[last_of_group]
    fp = (last_of_group + 1) - tp
    return tp.astype(np.float64), fp.astype(np.float64)


def average_precision(labels: npt.ArrayLike, scores: npt.ArrayLike) -> float | None:
    """Area under the precision-recall curve (step sum); None without positives."""
    tp, fp = curve(labels, scores)
    pos = tp[-1] if len(tp) else 0.0
    if pos == 0:
        return None
    recall = tp / pos
    precision = tp / (tp + fp)
    gained = np.diff(np.r_[0.0, recall])
    return float(np.sum(gained * precision))


def recall_at_fpr(labels: npt.ArrayLike, scores: npt.ArrayLike, max_fpr: float) -> float | None:
    """The best recall with a false positive rate of at most ``max_fpr``; None without
    positives or without negatives."""
    if not 0.0 <= max_fpr <= 1.0:
        raise ValueError("max_fpr must be between 0 and 1")
    tp, fp = curve(labels, scores)
    if not len(tp) or tp[-1] == 0 or fp[-1] == 0:
        return None
    ok = fp / fp[-1] <= max_fpr + 1e-12
    return float(tp[ok].max() / tp[-1]) if ok.any() else 0.0


def brier(labels: npt.ArrayLike, probabilities: npt.ArrayLike) -> float | None:
    """Mean squared error of probabilities against labels; None on no rows."""
    y, p = _check(labels, probabilities)
    if len(y) == 0:
        return None
    return float(np.mean((p - y) ** 2))
