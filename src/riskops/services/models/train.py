"""Train a model: point-in-time features from the log, a time split, a LightGBM binary
classifier, isotonic calibration and a metrics report.

1. :func:`riskops.services.feature_frame.feature_frame` gives one row per event of the model's
   checkpoint in ``[since, until)``, with its features as of just before it and its labels.
2. Rows are cut in time (:mod:`riskops.core.models.split`): train on the earliest, then a
   calibration part, then a test part, the latest - never shuffled across time.
3. LightGBM learns on the training part, deterministically (fixed seed, two threads,
   ``deterministic``, row-wise histograms); missing features stay missing (NaN).
4. An isotonic map from raw score to probability is fitted on the calibration part only, so
   the test part measures the calibrated model on data neither step has seen.
5. The report: per part and label kind, AUC, PR-AUC, recall at 0.5 / 1 / 5 % FPR, base rate,
   rows, Brier score; and feature importances (gain).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from riskops.core.models.calibration import Calibration, fit_isotonic
from riskops.core.models.features import MODELS, ModelSpec, feature_problems, spec_problems
from riskops.core.models.split import time_split
from riskops.services.analytics.inputs import AnalyticsInputError
from riskops.services.feature_frame import LABEL_KINDS, feature_frame, label_column
from riskops.services.log_scan import Progress
from riskops.services.models.metrics import importances, report
from riskops.stores.base import Store

DEFAULT_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_iterations": 200,
    "num_leaves": 15,
    "min_data_in_leaf": 20,
    "seed": 7,
    "num_threads": 2,
    "deterministic": True,
    "force_row_wise": True,
    "verbosity": -1,
}
"""LightGBM parameters; ``params`` passed to :func:`train` override them."""


class TrainedModel:
    """A LightGBM booster over named context paths, with its isotonic calibration."""

    def __init__(
        self,
        booster: Any,
        features: Sequence[str],
        calibration: Calibration,
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        self.booster = booster
        self.features = tuple(features)
        self.calibration = calibration
        self.meta: dict[str, Any] = dict(meta or {})

    def matrix(self, rows: Sequence[Mapping[str, object]]) -> npt.NDArray[np.float64]:
        """Rows (context path → value) as the model's input: missing or None → NaN, bools
        → 1 / 0. AnalyticsInputError names a path whose value is not a number."""
        x = np.full((len(rows), len(self.features)), np.nan, dtype=np.float64)
        for i, row in enumerate(rows):
            for j, path in enumerate(self.features):
                value = row.get(path)
                if value is None:
                    continue
                if not isinstance(value, int | float):  # bool is an int
                    raise AnalyticsInputError(path, f"not a number: {value!r}")
                x[i, j] = float(value)
        return x

    def raw_scores(self, rows: Sequence[Mapping[str, object]]) -> list[float]:
        """The booster's raw scores (log-odds), before calibration."""
        return [float(v) for v in raw_scores(self.booster, self.matrix(rows))]

    def predict_proba(self, rows: Sequence[Mapping[str, object]]) -> list[float]:
        """The calibrated probability of each row, in [0, 1]."""
        raw = raw_scores(self.booster, self.matrix(rows))
        return [float(v) for v in self.calibration.apply(raw)]

    def explain(self, row: Mapping[str, object], k: int = 5) -> list[tuple[str, float]]:
        """The ``k`` features that moved this row's raw score most (LightGBM's per-feature
        contributions, in log-odds; they add up, with the model's bias, to the raw score),
        largest magnitude first."""
        contrib = self.booster.predict(self.matrix([row]), pred_contrib=True)[0]
        pairs = [(f, float(c)) for f, c in zip(self.features, contrib[:-1], strict=True)]
        pairs.sort(key=lambda p: (-abs(p[1]), p[0]))
        return pairs[: max(k, 0)]

    def model_text(self) -> str:
        """The booster in LightGBM's text format (what ``model.txt`` holds)."""
        return str(self.booster.model_to_string())

    @classmethod
    def from_text(
        cls, text: str, features: Sequence[str], calibration: Calibration, meta: Mapping[str, Any]
    ) -> TrainedModel:
        return cls(lgb.Booster(model_str=text), features, calibration, meta)


def raw_scores(booster: Any, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """A booster's raw scores (log-odds) of the rows of ``x``."""
    if len(x) == 0:
        return np.zeros(0, dtype=np.float64)
    return np.asarray(booster.predict(x, raw_score=True), dtype=np.float64)


def explain(model: TrainedModel, row: Mapping[str, object], k: int = 5) -> list[tuple[str, float]]:
    """The top-``k`` feature contributions to ``row``'s score (see :meth:`TrainedModel.explain`)."""
    return model.explain(row, k)


@dataclass(frozen=True, slots=True)
class TrainResult:
    name: str
    checkpoint: str
    model: TrainedModel
    label_kinds: tuple[str, ...]
    since_us: int | None
    until_us: int | None
    parts: dict[str, dict[str, Any]]
    """Per part (train, calibration, test): rows, first and last event time (µs)."""
    metrics: list[dict[str, Any]]
    """Rows of :data:`riskops.services.models.metrics.COLUMNS`."""
    importances: list[dict[str, Any]]
    params: dict[str, Any]
    frame: pa.Table
    """The training data: the feature frame with ``split``, ``label``, ``raw_score`` and
    ``probability`` columns."""


def frame_matrix(table: pa.Table, paths: Sequence[str]) -> npt.NDArray[np.float64]:
    """Feature columns of a frame as a float matrix (NULL → NaN, bool → 1 / 0)."""
    if not paths:
        return np.zeros((table.num_rows, 0), dtype=np.float64)
    columns = [
        pc.cast(table[p], pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64)
        for p in paths
    ]
    return np.column_stack(columns) if table.num_rows else np.zeros((0, len(paths)))


def train(
    store: Store,
    secret: bytes,
    *,
    model: str,
    label_kinds: Iterable[str] | None = None,
    features: Iterable[str] | None = None,
    since_us: int | None = None,
    until_us: int | None = None,
    valid_fraction: float = 0.2,
    calibration_share: float = 0.5,
    params: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
    labels_until_us: int | None = None,
) -> TrainResult:
    """Train model ``model`` (a name of :data:`riskops.core.models.features.MODELS`) on the
    events in ``[since_us, until_us)``; positives: events a label of ``label_kinds`` (default:
    the model's) names. ``features``: context paths of the model's checkpoint to learn from
    instead of the model's default ones. The latest ``valid_fraction`` of the rows is held
    out, its first ``calibration_share`` fitting the calibration and the rest measuring.
    AnalyticsInputError on an unknown model or label kind, a feature that cannot be one
    (``features``, naming every bad path), bad fractions, too few rows or distinct times, or
    a training part without positives or negatives. ``labels_until_us``: learn only from the
    labels that had arrived before it (what was known at that time; None: every label)."""
    spec = model_spec(model, features)
    kinds = positive_kinds(spec, label_kinds)
    merged = {**DEFAULT_PARAMS, **(params or {})}
    if merged["objective"] != "binary":
        raise AnalyticsInputError("params", "objective must stay binary")
    frame = feature_frame(
        store,
        secret,
        spec.checkpoint,
        spec.features,
        since_us=since_us,
        until_us=until_us,
        event_types=spec.event_types,
        progress=progress,
        labels_until_us=labels_until_us,
    ).table
    if spec.payment_method is not None:
        frame = frame.filter(pc.equal(frame["payment_method"], spec.payment_method))
    ts = frame["ts"].cast(pa.int64()).to_numpy(zero_copy_only=False)
    try:
        split = time_split(ts, valid_fraction, calibration_share)
    except ValueError as exc:
        option, _, reason = str(exc).partition(": ")
        raise AnalyticsInputError(option, f"{reason} ({frame.num_rows} events)") from None
    by_kind = {k: frame[label_column(k)].to_numpy().astype(np.float64) for k in kinds}
    y = np.vstack(list(by_kind.values())).max(axis=0)
    x = frame_matrix(frame, spec.features)
    train_y = y[: split.calibration_start]
    if train_y.min() == train_y.max():
        what = "positives" if train_y.max() == 0 else "negatives"
        raise AnalyticsInputError("label_kinds", f"the training part has no {what}")
    data = lgb.Dataset(
        x[: split.calibration_start], label=train_y, feature_name=list(spec.features)
    )
    try:
        booster = lgb.train(merged, data)
    except lgb.basic.LightGBMError as exc:
        raise AnalyticsInputError("params", str(exc)) from None
    rows = np.arange(len(y))
    masks = {
        "train": rows < split.calibration_start,
        "calibration": (rows >= split.calibration_start) & (rows < split.test_start),
        "test": rows >= split.test_start,
    }
    raw = raw_scores(booster, x)
    calibration = fit_isotonic(raw[masks["calibration"]], y[masks["calibration"]])
    prob = calibration.apply(raw)
    split_names = np.where(masks["train"], "train", np.where(masks["test"], "test", "calibration"))
    out = (
        frame.append_column("split", pa.array(split_names.tolist(), pa.string()))
        .append_column("label", pa.array(y.astype(np.int64)))
        .append_column("raw_score", pa.array(raw))
        .append_column("probability", pa.array(prob))
    )
    gains = booster.feature_importance(importance_type="gain")
    return TrainResult(
        name=spec.name,
        checkpoint=spec.checkpoint,
        model=TrainedModel(booster, spec.features, calibration),
        label_kinds=kinds,
        since_us=since_us,
        until_us=until_us,
        parts={
            name: {
                "rows": int(mask.sum()),
                "first_us": int(ts[mask].min()),
                "last_us": int(ts[mask].max()),
            }
            for name, mask in masks.items()
        },
        metrics=report(masks, by_kind, raw, prob),
        importances=importances(spec.features, gains),
        params=merged,
        frame=out,
    )


def model_spec(model: str, features: Iterable[str] | None = None) -> ModelSpec:
    """The spec of ``model``, its features replaced by ``features`` when given.
    AnalyticsInputError on an unknown model, or naming every path of ``features`` that
    cannot be a feature at its checkpoint (field ``features``)."""
    spec = MODELS.get(model)
    if spec is None:
        raise AnalyticsInputError("model", f"unknown model {model!r} (use {', '.join(MODELS)})")
    if features is not None:
        spec = replace(spec, features=_features(spec.checkpoint, features))
    problems = spec_problems(spec)
    if problems:
        raise AnalyticsInputError(*problems[0])
    return spec


def _features(checkpoint: str, features: Iterable[str]) -> tuple[str, ...]:
    """The feature override, checked: every path that cannot be a feature at the checkpoint
    is named in one error (field ``features``)."""
    paths = (features,) if isinstance(features, str) else tuple(features)
    if not paths:
        raise AnalyticsInputError("features", "empty: give at least one feature path")
    problems = feature_problems(checkpoint, paths)
    if problems:
        raise AnalyticsInputError("features", "; ".join(f"{p}: {why}" for p, why in problems))
    return paths


def positive_kinds(spec: ModelSpec, label_kinds: Iterable[str] | None) -> tuple[str, ...]:
    """The label kinds whose events are positives (None: the model's), checked: known and
    not ``legit`` (AnalyticsInputError, field ``label_kinds``)."""
    if isinstance(label_kinds, str):
        label_kinds = [label_kinds]
    kinds = tuple(dict.fromkeys(spec.label_kinds if label_kinds is None else label_kinds))
    if not kinds:
        raise AnalyticsInputError("label_kinds", "empty: give at least one label kind")
    for k in kinds:
        if k not in LABEL_KINDS or k == "legit":
            allowed = ", ".join(x for x in LABEL_KINDS if x != "legit")
            raise AnalyticsInputError("label_kinds", f"{k!r} is not a bad label kind ({allowed})")
    return kinds
