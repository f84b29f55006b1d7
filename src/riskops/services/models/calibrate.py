"""Calibrate to tolerance: score labelled history with a registered model and choose, per
market, the cut that keeps the loss rate within the market's tolerance while approving as much
GMV as possible (:mod:`riskops.core.models.tolerance`).

1. The model (its champion, or a version) from the registry; its features, label kinds and
   training window from ``meta.json``.
2. The window: ``[since_us, until_us)``; by default the events after the model's training part
   (``meta["data_window"]["parts"]["train"]["last_us"]``), so the model is not calibrated on
   rows it learned from.
3. The feature frame of the model's checkpoint over the window (point in time, labels that
   arrived at any time); each event's score is the whole-percent decision score its
   calibrated probability gives live (``floor(model.score + 0.5)``), and it is bad when a
   label of the model's kinds names it.
4. Per market: its phase and tolerance from the policy, the trade-off curve and the chosen
   cut, and the thresholds a policy would take from it for the model's checkpoint only
   (review from the cut, challenge and deny at the bands' ratios to review). Amounts weigh
   the loss rate at checkpoints with money (``event.amount``); elsewhere each event weighs 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from riskops.core.decisions.policy import Policy
from riskops.core.decisions.schema import context_schema
from riskops.core.models.calibration import whole_scores
from riskops.core.models.features import MODELS, ModelSpec
from riskops.core.models.tolerance import ToleranceResult, band_thresholds, tolerance_curve
from riskops.services.analytics.inputs import AnalyticsInputError
from riskops.services.feature_frame import feature_frame, label_column
from riskops.services.log_scan import Progress
from riskops.services.models.registry import ModelRegistry
from riskops.services.models.train import TrainedModel, frame_matrix, raw_scores
from riskops.stores.base import Store


@dataclass(frozen=True, slots=True)
class MarketCalibration:
    market: str
    phase: str
    result: ToleranceResult
    thresholds: dict[str, float] | None
    """What the policy would take (None: nothing to apply - no events, no labelled bad event,
    or no cut within the tolerance)."""

    def row(self) -> dict[str, Any]:
        """The figures at the chosen cut, for a table or a file."""
        r, chosen = self.result, self.result.chosen
        return {
            "market": self.market,
            "phase": self.phase,
            "tolerance": r.tolerance,
            "events": r.events,
            "bad": r.bad,
            "gmv": r.gmv,
            "bad_gmv": r.bad_gmv,
            "cut": chosen.cut if chosen else None,
            "threshold": r.threshold,
            "approval_rate": chosen.approval_rate if chosen else None,
            "approved_gmv_share": chosen.approved_gmv_share if chosen else None,
            "loss_rate": chosen.loss_rate if chosen else None,
            "caught_share": chosen.caught_share if chosen else None,
            "status": r.status,
            "note": r.note,
            "note_zh": r.note_zh,
            "thresholds": self.thresholds,
        }


@dataclass(frozen=True, slots=True)
class CalibrateResult:
    model: str
    version: str
    checkpoint: str
    label_kinds: tuple[str, ...]
    by: str
    """``gmv``: loss rate by amount; ``events``: bad rate (a checkpoint without money)."""
    since_us: int | None
    until_us: int | None
    window: str
    """Where the window came from: ``after training`` or ``given``."""
    markets: tuple[MarketCalibration, ...]
    warnings: tuple[str, ...] = field(default=())

    def calibrated(self) -> dict[str, dict[str, float]]:
        """Thresholds per market, for the markets whose cut meets the tolerance: what the
        policy takes as its ``calibrated`` thresholds at :attr:`checkpoint`."""
        return {m.market: m.thresholds for m in self.markets if m.thresholds is not None}

    def as_dict(self) -> dict[str, Any]:
        """Everything, with each market's full curve (JSON-ready)."""
        return {
            "model": self.model,
            "version": self.version,
            "checkpoint": self.checkpoint,
            "label_kinds": list(self.label_kinds),
            "by": self.by,
            "since_us": self.since_us,
            "until_us": self.until_us,
            "window": self.window,
            "warnings": list(self.warnings),
            "markets": [
                {**m.row(), "curve": [p.as_dict() for p in m.result.curve]} for m in self.markets
            ],
        }


def calibrate(
    store: Store,
    secret: bytes,
    registry: ModelRegistry,
    policy: Policy,
    *,
    model: str,
    version: str | None = None,
    since_us: int | None = None,
    until_us: int | None = None,
    progress: Progress | None = None,
) -> CalibrateResult:
    """Per market of ``policy``, the cut of ``model`` (its champion, or ``version``) over the
    labelled events of ``[since_us, until_us)`` (default: after its training part).
    AnalyticsInputError on an unknown model or version, no champion, a window without events
    or without labelled bad events."""
    spec = MODELS.get(model)
    if spec is None:
        raise AnalyticsInputError("model", f"unknown model {model!r} (use {', '.join(MODELS)})")
    trained = registry.load(model, version)
    meta = trained.meta
    kinds = tuple(str(k) for k in meta["label_kinds"])
    train_last = int(meta["data_window"]["parts"]["train"]["last_us"])
    window, warnings = "given", []
    if since_us is None:
        since_us, window = train_last + 1, "after training"
    elif since_us <= train_last:
        warnings.append(
            f"the window starts before the end of {meta['version']}'s training rows: the "
            "model has seen some of these events, so the figures are optimistic"
        )
    if until_us is not None and until_us <= since_us:
        default = "" if window == "given" else " (by default, the end of its training rows)"
        raise AnalyticsInputError("until_us", f"must be later than the window's start{default}")
    frame = _frame(store, secret, spec, trained, since_us, until_us, progress)
    if frame.num_rows == 0:
        raise AnalyticsInputError(
            "window", f"no {', '.join(spec.event_types)} events in the window to calibrate on"
        )
    bad = np.vstack([frame[label_column(k)].to_numpy() for k in kinds]).max(axis=0)
    if not bad.any():
        raise AnalyticsInputError(
            "window",
            f"no event in the window carries a label of {', '.join(kinds)}: nothing to "
            "calibrate against (labels arrive late: widen the window or ingest labels)",
        )
    # the whole-percent score a live decision compares with the thresholds (model.score
    # rounded as the live floor under the rules' score), so a cut approves what live approves
    raw = raw_scores(trained.booster, frame_matrix(frame, trained.features))
    scores = whole_scores(trained.calibration.apply(raw))
    money = "event.amount" in context_schema(spec.checkpoint)
    amounts = frame["amount"].to_numpy(zero_copy_only=False).astype(np.float64)
    markets = _by_market(
        policy, frame["market"].to_pylist(), scores, bad, amounts if money else None
    )
    return CalibrateResult(
        model=spec.name,
        version=str(meta["version"]),
        checkpoint=spec.checkpoint,
        label_kinds=kinds,
        by="gmv" if any(m.result.by == "gmv" for m in markets) else "events",
        since_us=since_us,
        until_us=until_us,
        window=window,
        markets=markets,
        warnings=tuple(warnings),
    )


def _frame(
    store: Store,
    secret: bytes,
    spec: ModelSpec,
    trained: TrainedModel,
    since_us: int | None,
    until_us: int | None,
    progress: Progress | None,
) -> pa.Table:
    frame = feature_frame(
        store,
        secret,
        spec.checkpoint,
        trained.features,
        since_us=since_us,
        until_us=until_us,
        event_types=spec.event_types,
        progress=progress,
    ).table
    if spec.payment_method is not None:
        frame = frame.filter(pc.equal(frame["payment_method"], spec.payment_method))
    return frame


def _by_market(
    policy: Policy,
    markets: list[str | None],
    scores: npt.NDArray[np.float64],
    bad: npt.NDArray[Any],
    amounts: npt.NDArray[np.float64] | None,
) -> tuple[MarketCalibration, ...]:
    names = np.array([m or "" for m in markets], dtype=object)
    out = []
    for market in sorted(set(names.tolist())):
        rows = names == market
        phase = policy.phase(market)
        result = tolerance_curve(
            scores[rows],
            bad[rows],
            float(policy.tolerance[phase]),
            amounts[rows] if amounts is not None else None,
        )
        applies = result.status == "met" and len(market) == 2 and market.isupper()
        thresholds = (
            band_thresholds(result.threshold, policy.bands)
            if applies and result.threshold is not None
            else None
        )
        out.append(MarketCalibration(market, phase, result, thresholds))
    return tuple(out)
