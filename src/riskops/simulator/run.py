"""Run a simulation: build the world, then day by day the honest traffic and the attacks, in
time order, to JSONL (or Parquet) with a labels file beside it. The same config and seed give
the same bytes."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import orjson

from riskops.simulator import attacks, legit
from riskops.simulator.config import SimConfig
from riskops.simulator.emit import Emitter
from riskops.simulator.world import build_world

Progress = Callable[[int, int, int], None]
"""(days done, days, events so far)"""


@dataclass(frozen=True, slots=True)
class SimSummary:
    events: int
    labels: int
    by_type: dict[str, int]
    by_attack: dict[str, int]
    seconds: float


def days(config: SimConfig) -> Iterator[tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """Each day's events (in time order) and the labels found that day."""
    rng = np.random.default_rng(config.seed)
    world = build_world(config, rng)
    em = Emitter(world, config.start)
    for day in range(config.days):
        em.begin_day(day)
        legit.generate_day(world, em, rng, day)
        attacks.generate_day(world, em, rng, day)
        labels, em.labels = em.labels, []
        yield em.take_day(), labels


def simulate(
    config: SimConfig,
    out: Path,
    labels_out: Path,
    *,
    fmt: str = "jsonl",
    progress: Progress | None = None,
) -> SimSummary:
    if fmt not in ("jsonl", "parquet"):
        raise ValueError("format must be jsonl or parquet")
    started = time.perf_counter()
    by_type: dict[str, int] = {}
    by_attack: dict[str, int] = {}
    seen_labels: set[tuple[str, str, str]] = set()
    n_events = n_labels = 0
    sink: _Sink = _ParquetWriter(out) if fmt == "parquet" else _JsonlWriter(out)
    label_events = labels_out.with_name(LABEL_EVENTS)
    start_us = int(config.start.timestamp() * 1_000_000)
    with labels_out.open("wb") as lf, label_events.open("wb") as le:
        for day, (events, labels) in enumerate(days(config)):
            sink.write(events)
            for e in events:
                by_type[e["type"]] = by_type.get(e["type"], 0) + 1
            for label in labels:
                key = (label["entity_type"], label["entity_id"], label["label"])
                if key in seen_labels:
                    continue
                seen_labels.add(key)
                lf.write(orjson.dumps(label) + b"\n")
                end_of_day = start_us + (day + 1) * 86_400_000_000 - 1
                le.write(orjson.dumps(_label_event(config, label, end_of_day)) + b"\n")
                by_attack[label["attack"]] = by_attack.get(label["attack"], 0) + 1
                n_labels += 1
            n_events += len(events)
            if progress is not None:
                progress(day + 1, config.days, n_events)
    sink.close()
    return SimSummary(
        n_events,
        n_labels,
        dict(sorted(by_type.items())),
        dict(sorted(by_attack.items())),
        time.perf_counter() - started,
    )


LABEL_EVENTS = "labels.events.jsonl"
"""Beside the labels file: the same ground truth as ``label.reported`` events, each at the end
of the day it was known, for ``riskops ingest`` - so analytics leave the abusers out and
models can learn from them. (The evaluation reads the plain labels file.)"""


def _label_event(config: SimConfig, label: dict[str, Any], at_us: int) -> dict[str, Any]:
    key = f"{label['entity_type']}-{label['entity_id']}-{label['label']}"
    moment = datetime.fromtimestamp(at_us / 1_000_000, UTC)
    return {
        "event_id": f"s{config.seed}g{config.generation}-label-{key}",
        "type": "label.reported",
        "occurred_at": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "market": config.markets[0],
        "payload": {
            "label": label["label"],
            "entity_type": label["entity_type"],
            "entity_id": label["entity_id"],
            "source": "simulator",
        },
    }


class _Sink(Protocol):
    def write(self, events: list[dict[str, Any]]) -> None: ...

    def close(self) -> None: ...


class _JsonlWriter:
    def __init__(self, path: Path) -> None:
        self._fh = path.open("wb")

    def write(self, events: list[dict[str, Any]]) -> None:
        self._fh.write(b"".join(orjson.dumps(e) + b"\n" for e in events))

    def close(self) -> None:
        self._fh.close()


class _ParquetWriter:
    """Events as Parquet rows: the envelope's columns, with device and payload as JSON text
    (what ``riskops ingest`` reads back)."""

    def __init__(self, path: Path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self._pa = pa
        self._schema = pa.schema(
            [
                (c, pa.string())
                for c in (
                    "event_id",
                    "type",
                    "occurred_at",
                    "market",
                    "user_id",
                    "device",
                    "ip",
                    "payload",
                )
            ]
        )
        self._writer = pq.ParquetWriter(str(path), self._schema, compression="zstd")

    def write(self, events: list[dict[str, Any]]) -> None:
        columns: dict[str, list[str | None]] = {name: [] for name in self._schema.names}
        for e in events:
            for name in ("event_id", "type", "occurred_at", "market", "user_id", "ip"):
                columns[name].append(e.get(name))
            device = e.get("device")
            columns["device"].append(orjson.dumps(device).decode() if device else None)
            columns["payload"].append(orjson.dumps(e["payload"]).decode())
        self._writer.write_table(self._pa.table(columns, schema=self._schema))

    def close(self) -> None:
        self._writer.close()
