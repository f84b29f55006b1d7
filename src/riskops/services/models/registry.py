"""The model registry: versioned artefacts on disk, and which version is the champion.

Layout under ``<data_dir>/models/``::

    index.json                     {"champions": {"<model>": "<version>"}}
    <model>/<version>/model.txt    the LightGBM booster (its text format)
    <model>/<version>/meta.json    features, data window, label kinds, metrics, importances,
                                   calibration points, parameters, created_at, lightgbm version

Versions are ``v1``, ``v2`` … in the order they were registered. One version per model is the
champion (what serving loads); every other is a challenger. Registering never changes the
champion: :meth:`ModelRegistry.promote` does. Every file is written to a temporary name and
renamed into place, and ``meta.json`` is written last, so a reader never sees half a file and
a version whose registration was cut short is not listed. Writers of one registry should be
one process at a time (two promotions at once: the later one wins).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import lightgbm as lgb

from riskops.core.models.calibration import Calibration
from riskops.services.analytics.inputs import AnalyticsInputError
from riskops.services.models.train import TrainedModel, TrainResult

FORMAT = 1
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_VERSION = re.compile(r"^v([1-9][0-9]{0,8})$")
Rows = list[dict[str, Any]]


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _number(version: str) -> int | None:
    found = _VERSION.match(version)
    return int(found.group(1)) if found else None


class ModelRegistry:
    """The registry under ``<data_dir>/models``."""

    def __init__(self, data_dir: Path) -> None:
        self.root = Path(data_dir) / "models"

    def register(self, result: TrainResult, *, created_at: datetime | None = None) -> str:
        """Store a trained model as its next version; returns the version (``v<n>``)."""
        folder = self._model_dir(result.name)
        folder.mkdir(parents=True, exist_ok=True)
        n = max((v for v in map(_number, os.listdir(folder)) if v), default=0) + 1
        while True:
            try:
                (folder / f"v{n}").mkdir()
                break
            except FileExistsError:
                n += 1
        version = f"v{n}"
        model = result.model
        meta = {
            "format": FORMAT,
            "model": result.name,
            "version": version,
            "checkpoint": result.checkpoint,
            "features": list(model.features),
            "label_kinds": list(result.label_kinds),
            "data_window": {
                "since_us": result.since_us,
                "until_us": result.until_us,
                "parts": result.parts,
            },
            "metrics": result.metrics,
            "importances": result.importances,
            "calibration": model.calibration.as_dict(),
            "params": result.params,
            "created_at": (created_at or datetime.now(UTC)).isoformat(),
            "lightgbm_version": lgb.__version__,
        }
        _atomic_write(folder / version / "model.txt", model.model_text())
        _atomic_write(folder / version / "meta.json", json.dumps(meta, indent=2) + "\n")
        return version

    def versions(self, model: str) -> list[str]:
        """The model's registered versions, oldest first."""
        folder = self._model_dir(model)
        if not folder.is_dir():
            return []
        found = [
            (n, name)
            for name in os.listdir(folder)
            if (n := _number(name)) and (folder / name / "meta.json").is_file()
        ]
        return [name for _, name in sorted(found)]

    def list(self, model: str | None = None) -> Rows:
        """One row per version (of ``model``, or of every model): model, version, role
        (champion / challenger), created_at, label kinds, training rows, test AUC, window."""
        if model is not None:
            names = [model]
        elif self.root.is_dir():
            names = sorted(
                p.name for p in self.root.iterdir() if p.is_dir() and _NAME.match(p.name)
            )
        else:
            names = []
        champions = self._index()["champions"]
        out: Rows = []
        for name in names:
            for version in self.versions(name):
                meta = self.meta(name, version)
                test = [m for m in meta["metrics"] if m["part"] == "test" and m["label"] == "any"]
                window = meta["data_window"]
                out.append(
                    {
                        "model": name,
                        "version": version,
                        "role": "champion" if champions.get(name) == version else "challenger",
                        "created_at": meta["created_at"],
                        "label_kinds": ",".join(meta["label_kinds"]),
                        "train_rows": window["parts"]["train"]["rows"],
                        "test_auc": test[0]["auc"] if test else None,
                        "since_us": window["since_us"],
                        "until_us": window["until_us"],
                    }
                )
        return out

    def meta(self, model: str, version: str) -> dict[str, Any]:
        """The version's ``meta.json``."""
        path = self._version_dir(model, version) / "meta.json"
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return data

    def champion(self, model: str) -> str | None:
        """The champion version of ``model``, None before any promotion."""
        self._model_dir(model)
        found = self._index()["champions"].get(model)
        return str(found) if found else None

    def load(self, model: str, version: str | None = None) -> TrainedModel:
        """A stored version (None: the champion), ready to score. AnalyticsInputError when
        there is no such version, or no champion yet."""
        if version is None:
            version = self.champion(model)
            if version is None:
                raise AnalyticsInputError("version", f"{model} has no champion: promote one")
        meta = self.meta(model, version)
        text = (self._version_dir(model, version) / "model.txt").read_text(encoding="utf-8")
        loaded = TrainedModel.from_text(
            text, meta["features"], Calibration.from_dict(meta["calibration"]), meta
        )
        if list(loaded.booster.feature_name()) != list(meta["features"]):
            raise AnalyticsInputError(
                "version", f"{model} {version}: model.txt and meta.json differ"
            )
        return loaded

    def promote(self, model: str, version: str) -> None:
        """Make ``version`` the champion of ``model`` (the former champion becomes a
        challenger)."""
        self._version_dir(model, version)
        index = self._index()
        index["champions"][model] = version
        self.root.mkdir(parents=True, exist_ok=True)
        _atomic_write(self.root / "index.json", json.dumps(index, indent=2, sort_keys=True) + "\n")

    def _index(self) -> dict[str, Any]:
        path = self.root / "index.json"
        if not path.is_file():
            return {"champions": {}}
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        data.setdefault("champions", {})
        return data

    def _model_dir(self, model: str) -> Path:
        if not _NAME.match(model):
            raise AnalyticsInputError("model", "a model name is lower-case letters, digits, _")
        return self.root / model

    def _version_dir(self, model: str, version: str) -> Path:
        folder = self._model_dir(model) / version
        if _number(version) is None or not (folder / "meta.json").is_file():
            raise AnalyticsInputError("version", f"{model} has no version {version!r}")
        return folder
