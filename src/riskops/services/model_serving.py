"""Models in the decision path: the champion of each checkpoint's model scores every decision,
the newest version (when it is newer than the champion) scores in shadow, and the registry is
re-read when it changes - a promotion reaches every API process without a restart.

* **Which model.** Each checkpoint has at most one model (``core.models.features.MODELS``:
  ``order`` → ``order_fraud``, ``payment_method`` → ``cod_refusal`` …). Its champion scores
  the decision; a model restricted to a payment method (``cod_refusal``: cash on delivery)
  scores only those events.
* **Challenger in shadow.** The newest registered version, when it is newer than the
  champion, is scored beside it and recorded with the decision; it never changes anything.
* **Speed.** The booster is compiled to a Python function (:mod:`riskops.core.models.trees`),
  about 30 µs a decision instead of LightGBM's 150 µs single-row predict, and so are its
  path contributions (for non-allow decisions) instead of a millisecond of TreeSHAP; when a
  booster cannot be compiled (categorical splits), LightGBM's predict is used.
* **Hot reload.** At most every ``reload_s`` seconds the registry's index and the model's
  version folders are looked at (a few ``stat`` calls and a listing); a change loads the new
  champion / challenger on a background thread while decisions keep the current one. A model
  that fails to load is reported as unavailable (the checkpoint's fail mode applies) and tried
  again at the next check.
"""

from __future__ import annotations

import bisect
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from riskops.core.models.calibration import percent_score
from riskops.core.models.features import MODELS, ModelSpec
from riskops.core.models.trees import (
    Explainer,
    Scorer,
    Unsupported,
    compile_booster,
    compile_contributions,
    row_values,
)
from riskops.services.reloading import Reloading

if TYPE_CHECKING:  # LightGBM (the ``models`` extra) is imported only once a model is served
    from riskops.services.models.registry import ModelRegistry
    from riskops.services.models.train import TrainedModel

log = logging.getLogger("riskops.models")

MODEL_OF: dict[str, ModelSpec] = {spec.checkpoint: spec for spec in MODELS.values() if spec.serve}
"""The model of each checkpoint that has one (``return_risk`` predicts an outcome for
operations and is not served)."""


class ModelUnavailable(RuntimeError):
    """The checkpoint's champion could not be loaded or scored."""


@dataclass(frozen=True, slots=True)
class Contribution:
    feature: str
    value: float | None
    contribution: float
    """In log-odds: the path contributions of every feature add up, with the trees' root
    values (the bias), to the raw score."""


@dataclass(frozen=True, slots=True)
class Score:
    model: str
    version: str
    probability: float
    raw: float

    @property
    def score(self) -> float:
        """The probability in percent (0-100, two decimals): ``model.score`` in rules."""
        return percent_score(self.probability)


class Served:
    """One loaded model version, ready to score a decision's context."""

    def __init__(self, name: str, version: str, model: TrainedModel) -> None:
        self.name = name
        self.version = version
        self.model = model
        self.features: tuple[str, ...] = model.features
        xs = [float(x) for x in model.calibration.xs]
        ys = [float(y) for y in model.calibration.ys]
        self._xs, self._ys = xs, ys
        self._raw: Scorer
        self._explain: Explainer
        booster = model.booster
        dump = booster.dump_model()
        try:
            self._raw = compile_booster(dump)
            self._explain = compile_contributions(dump)
        except Unsupported as why:
            log.warning("%s %s: LightGBM's own predict is used (%s)", name, version, why)
            self._raw = lambda x: float(booster.predict(np.asarray([x]), raw_score=True)[0])
            self._explain = lambda x: [
                float(c) for c in booster.predict(np.asarray([x]), pred_contrib=True)[0]
            ]

    def score(self, fields: Mapping[str, object]) -> Score:
        raw = self._raw(row_values(self.features, fields))
        return Score(self.name, self.version, self._calibrate(raw), raw)

    def contributions(self, fields: Mapping[str, object], k: int = 5) -> list[Contribution]:
        """The ``k`` features that moved this context's score most, largest first: each split
        on the row's path credits its feature with the change it made (exactly additive, see
        :func:`riskops.core.models.trees.compile_contributions`)."""
        values = row_values(self.features, fields)
        contrib = self._explain(values)
        pairs = sorted(
            zip(self.features, values, contrib[:-1], strict=True),
            key=lambda p: (-abs(float(p[2])), p[0]),
        )
        return [
            Contribution(f, None if math.isnan(v) else v, round(float(c), 4))
            for f, v, c in pairs[: max(k, 0)]
        ]

    def _calibrate(self, raw: float) -> float:
        """The isotonic map (linear between its points, flat beyond the ends) - as
        ``Calibration.apply``, without NumPy for one value."""
        xs, ys = self._xs, self._ys
        if not xs:
            return 0.0
        if raw <= xs[0]:
            return ys[0]
        if raw >= xs[-1]:
            return ys[-1]
        i = bisect.bisect_right(xs, raw)
        x0, x1, y0, y1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
        return y0 if x1 == x0 else y0 + (y1 - y0) * (raw - x0) / (x1 - x0)


@dataclass(frozen=True, slots=True)
class Slot:
    """What scores at one checkpoint: the champion and the challenger in shadow (each may be
    None), or the error that kept the champion from loading."""

    spec: ModelSpec
    champion: Served | None
    challenger: Served | None
    error: str | None = None

    def applies(self, payment_method: object) -> bool:
        return self.spec.payment_method is None or payment_method == self.spec.payment_method

    @property
    def features(self) -> tuple[str, ...]:
        out = list(self.champion.features if self.champion else ())
        for f in self.challenger.features if self.challenger else ():
            if f not in out:
                out.append(f)
        return tuple(out)


class ModelServing:
    """The models of every checkpoint, reloaded when the registry changes (see
    :class:`~riskops.services.reloading.Reloading`: the first load waits, later ones happen
    in the background, a failed one is retried)."""

    def __init__(
        self,
        data_dir: Path,
        reload_s: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._root = Path(data_dir) / "models"
        self._data_dir = Path(data_dir)
        self._registry_obj: ModelRegistry | None = None
        self._registry_lock = threading.Lock()
        self._slots: dict[str, Reloading[Slot | None]] = {
            checkpoint: Reloading(
                lambda spec=spec: self._mark(spec.name),  # type: ignore[misc]
                lambda spec=spec: self._load(spec),  # type: ignore[misc]
                None,
                reload_s=reload_s,
                failed=lambda slot: slot is not None and slot.error is not None,
                monotonic=monotonic,
                name=f"model {spec.name}",
            )
            for checkpoint, spec in MODEL_OF.items()
        }

    def slot(self, checkpoint: str) -> Slot | None:
        """The checkpoint's models (None: no model, or none registered / promoted yet)."""
        found = self._slots.get(checkpoint)
        return None if found is None else found.get()

    def _mark(self, model: str) -> tuple[Any, ...]:
        """What changes when a version is registered or promoted: the index, the model's
        folder and its versions' folders (a version is complete once its meta.json is)."""
        folder = self._root / model
        try:
            names = sorted(p.name for p in folder.iterdir())
        except OSError:
            names = []
        metas = tuple(_mtime(folder / n / "meta.json") for n in names)
        return (_mtime(self._root / "index.json"), tuple(names), metas)

    def _registry(self) -> ModelRegistry:
        with self._registry_lock:
            if self._registry_obj is None:
                from riskops.services.models.registry import ModelRegistry

                self._registry_obj = ModelRegistry(self._data_dir)
            return self._registry_obj

    def _load(self, spec: ModelSpec) -> Slot | None:
        if not (self._root / "index.json").is_file():
            return None  # nothing promoted yet: LightGBM is not even imported
        try:
            registry = self._registry()
            versions = registry.versions(spec.name)
            champion_version = registry.champion(spec.name)
        except ImportError as exc:
            return Slot(spec, None, None, f"LightGBM is not installed ({exc}): riskops[models]")
        except (OSError, ValueError) as exc:
            return Slot(spec, None, None, f"registry unreadable: {exc}")
        newest = versions[-1] if versions else None
        if champion_version is None:
            return None
        champion = self._served(spec.name, champion_version)
        if isinstance(champion, str):
            return Slot(spec, None, None, champion)
        challenger: Served | str | None = None
        if newest and _number(newest) > _number(champion_version):
            challenger = self._served(spec.name, newest)
        return Slot(spec, champion, challenger if isinstance(challenger, Served) else None)

    def _served(self, model: str, version: str) -> Served | str:
        try:
            return Served(model, version, self._registry().load(model, version))
        except Exception as exc:  # a broken artefact must not take the API down
            log.exception("could not load model %s %s", model, version)
            return f"{model} {version} could not be loaded: {exc}"


def _number(version: str) -> int:
    return int(version[1:]) if version[1:].isdigit() else 0


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def model_fields(slot: Slot | None, extra: Sequence[str]) -> tuple[str, ...]:
    """The context paths a decision needs: ``extra`` (the rules'), then the models' features."""
    if slot is None:
        return tuple(extra)
    return tuple(dict.fromkeys([*extra, *slot.features]))
