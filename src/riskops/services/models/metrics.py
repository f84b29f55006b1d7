"""The metrics report of a trained model: per part of the time split and per label kind, the
rows, positives, base rate, ranking metrics of the raw score and the Brier score of the
calibrated probability.

For one label kind, its positives are the rows that kind names, measured against the rows no
trained kind names (rows of the other kinds are left out); ``any`` is every trained kind
together. Ranking metrics read the raw score (the isotonic map pools scores into ties, which
would blur the ranking); the Brier score reads the calibrated probability. Undefined values
(no positives, no negatives) are None.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from riskops.core.models.metrics import average_precision, brier, recall_at_fpr, roc_auc

FPR_POINTS: tuple[tuple[str, float], ...] = (
    ("recall_at_fpr_0_5pct", 0.005),
    ("recall_at_fpr_1pct", 0.01),
    ("recall_at_fpr_5pct", 0.05),
)
COLUMNS: tuple[str, ...] = (
    "part",
    "label",
    "rows",
    "positives",
    "base_rate",
    "auc",
    "pr_auc",
    *(name for name, _ in FPR_POINTS),
    "brier",
)
"""The report's columns, in order."""


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def metric_row(
    part: str,
    label: str,
    y: npt.NDArray[np.float64],
    raw: npt.NDArray[np.float64],
    prob: npt.NDArray[np.float64],
) -> dict[str, Any]:
    """One row of the report."""
    n = len(y)
    positives = int(y.sum())
    row: dict[str, Any] = {
        "part": part,
        "label": label,
        "rows": n,
        "positives": positives,
        "base_rate": _round(positives / n) if n else None,
        "auc": _round(roc_auc(y, raw)),
        "pr_auc": _round(average_precision(y, raw)),
    }
    for name, fpr in FPR_POINTS:
        row[name] = _round(recall_at_fpr(y, raw, fpr))
    row["brier"] = _round(brier(y, prob))
    return row


def report(
    parts: Mapping[str, npt.NDArray[np.bool_]],
    kinds: Mapping[str, npt.NDArray[np.float64]],
    raw: npt.NDArray[np.float64],
    prob: npt.NDArray[np.float64],
) -> list[dict[str, Any]]:
    """Rows of the report: ``parts`` (name → row mask), ``kinds`` (label kind → 0 / 1 per
    row), the raw scores and the calibrated probabilities of every row."""
    if not kinds:
        return []
    stacked = np.vstack(list(kinds.values()))
    any_kind = stacked.max(axis=0)
    out: list[dict[str, Any]] = []
    for part, mask in parts.items():
        out.append(metric_row(part, "any", any_kind[mask], raw[mask], prob[mask]))
        for kind, y in kinds.items():
            keep = mask & ((y == 1) | (any_kind == 0))
            out.append(metric_row(part, kind, y[keep], raw[keep], prob[keep]))
    return out


def importances(names: Sequence[str], gains: npt.ArrayLike) -> list[dict[str, Any]]:
    """Feature importances (total gain of the splits on each feature), largest first, with
    each one's share of the total."""
    g = np.asarray(gains, dtype=np.float64)
    total = float(g.sum())
    pairs = sorted(zip(names, g.tolist(), strict=True), key=lambda p: (-p[1], p[0]))
    return [
        {
            "feature": name,
            "gain": round(value, 6),
            "share": round(value / total, 6) if total > 0 else 0.0,
        }
        for name, value in pairs
    ]
