"""Scoring many logged events at once: a model's calibrated probability for every event of its
checkpoint in a time range, from the same point-in-time features it was trained on."""

from __future__ import annotations

import pyarrow.compute as pc

from riskops.core.models.features import ModelSpec
from riskops.services.feature_frame import feature_frame
from riskops.services.log_scan import Progress
from riskops.services.models.train import TrainedModel, frame_matrix, raw_scores
from riskops.stores.base import Store


def score_events(
    store: Store,
    secret: bytes,
    model: TrainedModel,
    spec: ModelSpec,
    *,
    since_us: int | None = None,
    until_us: int | None = None,
    progress: Progress | None = None,
) -> dict[str, float]:
    """``event id → probability`` for the events ``spec`` scores (its checkpoint's event
    types, its payment method) that occurred in ``[since_us, until_us)``."""
    frame = feature_frame(
        store,
        secret,
        spec.checkpoint,
        model.features,
        since_us=since_us,
        until_us=until_us,
        event_types=spec.event_types,
        progress=progress,
    ).table
    if spec.payment_method is not None:
        frame = frame.filter(pc.equal(frame["payment_method"], spec.payment_method))
    probs = model.calibration.apply(raw_scores(model.booster, frame_matrix(frame, model.features)))
    ids = frame["event_id"].to_pylist()
    return {str(e): float(p) for e, p in zip(ids, probs, strict=True)}
