"""Isotonic calibration (pure numpy): a non-decreasing map from a model's raw score to the
share of positives, fitted by pool-adjacent-violators.

Rows with equal scores are pooled first (their mean label, weighted by how many); then
adjacent blocks whose means decrease are merged until the means never decrease. The map keeps,
per block, its lowest and highest score at the block's mean: between two blocks it is linear,
within one flat, and beyond the fitted range it holds the end values. Every value is a mean of
0 / 1 labels, so the probabilities lie in [0, 1]; and the map never decreases, so it keeps the
model's ranking (ties aside).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class Calibration:
    """Points ``(xs[i], ys[i])`` of a non-decreasing piecewise-linear map; ``xs`` strictly
    increasing."""

    xs: tuple[float, ...]
    ys: tuple[float, ...]

    def apply(self, scores: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """The calibrated probability of each raw score."""
        s = np.asarray(scores, dtype=np.float64)
        return np.asarray(np.interp(s, self.xs, self.ys), dtype=np.float64)

    def as_dict(self) -> dict[str, list[float]]:
        return {"xs": list(self.xs), "ys": list(self.ys)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        xs = tuple(float(x) for x in data["xs"])
        ys = tuple(float(y) for y in data["ys"])
        if not xs or len(xs) != len(ys):
            raise ValueError("calibration needs as many xs as ys, at least one")
        if any(b <= a for a, b in itertools.pairwise(xs)):
            raise ValueError("calibration xs must be strictly increasing")
        if any(b < a for a, b in itertools.pairwise(ys)):
            raise ValueError("calibration ys must never decrease")
        return cls(xs, ys)


def fit_isotonic(scores: npt.ArrayLike, labels: npt.ArrayLike) -> Calibration:
    """The isotonic fit of 0 / 1 ``labels`` on ``scores`` (ValueError on no rows, unequal
    lengths, labels other than 0 / 1 or scores that are not finite)."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if s.ndim != 1 or s.shape != y.shape or len(s) == 0:
        raise ValueError("scores and labels must be 1-d, of the same length, not empty")
    if not np.all((y == 0) | (y == 1)) or not np.all(np.isfinite(s)):
        raise ValueError("labels must be 0 or 1 and scores finite")
    xs, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=y)
    # blocks: [sum of labels, weight, lowest x, highest x]
    blocks: list[list[float]] = []
    for x, total, weight in zip(xs.tolist(), sums.tolist(), counts.tolist(), strict=True):
        blocks.append([total, float(weight), x, x])
        while len(blocks) > 1 and (blocks[-2][0] / blocks[-2][1] >= blocks[-1][0] / blocks[-1][1]):
            last = blocks.pop()
            blocks[-1][0] += last[0]
            blocks[-1][1] += last[1]
            blocks[-1][3] = last[3]
    px: list[float] = []
    py: list[float] = []
    for total, weight, low, high in blocks:
        mean = total / weight
        px.append(low)
        py.append(mean)
        if high > low:
            px.append(high)
            py.append(mean)
    return Calibration(tuple(px), tuple(py))


def percent_score(probability: float) -> float:
    """``model.score``: a probability in percent to two decimals, rounded half up. The same
    floating-point steps as :func:`percent_scores`, so a live decision and a backtest give
    the same number."""
    return math.floor(probability * 10000.0 + 0.5) / 100.0


def percent_scores(probabilities: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """:func:`percent_score` of many."""
    p = np.asarray(probabilities, dtype=np.float64)
    return np.asarray(np.floor(p * 10000.0 + 0.5) / 100.0, dtype=np.float64)


def whole_scores(probabilities: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """The decision score a model's probabilities give (``floor(model.score + 0.5)``, the
    live floor under the rules' score): what the policy's thresholds compare."""
    return np.floor(percent_scores(probabilities) + 0.5)
