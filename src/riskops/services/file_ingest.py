"""`riskops ingest FILE`: read, map (optional column map), validate and append in chunks.

Each rejected row goes to the rejected-rows file (JSONL: line, event_id, problems, row) and is
counted; accepted rows are durable chunk by chunk, so an interrupted load can simply be run
again: event ids already in the log come back as duplicates, never twice.
"""

from __future__ import annotations

import gc
import hashlib
import multiprocessing
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import orjson
import yaml

from riskops.core.events.column_map import (
    ColumnMap,
    MappingError,
    RowError,
    load_column_map,
    map_row,
)
from riskops.errors import Problem, ValidationFailed
from riskops.services.clock import Clock
from riskops.services.ingest import IngestService
from riskops.services.preparing import (
    ItemResult,
    PrepareConfig,
    Prepared,
    RawJson,
    prepare_chunk,
    prepare_events,
)
from riskops.services.sources import BadRow, FileSource, Row, detect_format

ProgressFn = Callable[[int, int], None]  # (position, size)


@dataclass
class IngestSummary:
    file: str
    rows_read: int = 0
    events: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    seconds: float = 0.0
    rejected_file: str | None = None
    by_type: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def read_column_map(path: Path) -> ColumnMap:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ValidationFailed(
            "cannot read the column map", [Problem("map", f"{path}: {exc}")]
        ) from None
    try:
        return load_column_map(raw)
    except MappingError as exc:
        raise ValidationFailed("invalid column map", [Problem("map", str(exc))]) from None


def _derived_id(event: dict[str, Any]) -> str:
    """Deterministic id for mapped rows without one: re-ingesting the same file is a no-op."""
    digest = hashlib.sha256(orjson.dumps(event, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return f"{event.get('type', 'event')}:{digest[:32]}"


def _pool(workers: int) -> ProcessPoolExecutor:
    # spawn, not fork: the parent has threads (progress bar, database pool). An executor, not
    # a Pool: a worker that dies raises BrokenProcessPool here instead of hanging the load.
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))


def _parallel(
    pool: ProcessPoolExecutor,
    chunks: Iterator[list[tuple[int, Any, Any]]],
    config: PrepareConfig,
    clock: Clock,
) -> Iterator[tuple[list[tuple[int, Any, Any]], tuple[list[Prepared], list[ItemResult]]]]:
    """Workers validate chunk k+1.. while the parent writes chunk k; order is kept."""
    window: deque[tuple[list[tuple[int, Any, Any]], Future[Any]]] = deque()
    for chunk in chunks:
        job = pool.submit(prepare_chunk, ([e for _, e, _ in chunk], config, clock(), False))
        window.append((chunk, job))
        if len(window) > 4:
            done_chunk, done_job = window.popleft()
            yield done_chunk, done_job.result()
    while window:
        done_chunk, done_job = window.popleft()
        yield done_chunk, done_job.result()


class FileIngest:
    """``workers`` > 0 validates in that many worker processes (for large files)."""

    def __init__(
        self, ingest: IngestService, clock: Clock, chunk: int = 5000, workers: int = 0
    ) -> None:
        self._ingest = ingest
        self._clock = clock
        self._chunk = chunk
        self._workers = workers

    def run(
        self,
        path: Path,
        *,
        fmt: str | None = None,
        column_map: ColumnMap | None = None,
        rejected_path: Path,
        progress: ProgressFn | None = None,
        csv_delimiter: str = ",",
    ) -> IngestSummary:
        source = FileSource(path, detect_format(path, fmt), csv_delimiter)
        summary = IngestSummary(file=str(path))
        started = time.perf_counter()
        rejected_fh: TextIO | None = None

        def reject(line: int, event_id: str | None, problems: list[Problem], row: Any) -> None:
            nonlocal rejected_fh
            if rejected_fh is None:
                rejected_path.parent.mkdir(parents=True, exist_ok=True)
                rejected_fh = rejected_path.open("w", encoding="utf-8")
                summary.rejected_file = str(rejected_path)
            record = {
                "line": line,
                "event_id": event_id,
                "problems": [p.as_dict() for p in problems],
                "row": row,
            }
            rejected_fh.write(orjson.dumps(record, default=str).decode() + "\n")
            summary.rejected += 1

        config = self._ingest.preparer_config()
        # A bulk load allocates millions of short-lived dicts; the cyclic GC's full passes over
        # them cost more than the load itself. Our objects hold no cycles, so collect rarely.
        gc_threshold = gc.get_threshold()
        gc.set_threshold(200_000, 50, 1000)
        pool = _pool(self._workers) if self._workers > 0 else None
        try:
            chunks = self._chunks(source, column_map, summary, reject)
            prepared: Iterator[
                tuple[list[tuple[int, Any, Any]], tuple[list[Prepared], list[ItemResult]]]
            ]
            if pool is None:
                prepared = (
                    (chunk, prepare_events([e for _, e, _ in chunk], config, self._clock(), False))
                    for chunk in chunks
                )
            else:
                prepared = _parallel(pool, chunks, config, self._clock)
            for chunk, (good, bad) in prepared:
                for item in bad:
                    line, mapped, source_row = chunk[item.index]
                    if isinstance(source_row, RawJson):
                        source_row = source_row.data.decode("utf-8", "replace")[:2000]
                    elif mapped is not source_row:  # name the mapped event too
                        source_row = {"source": source_row, "mapped": mapped}
                    reject(line, item.event_id, item.problems, source_row)
                for result, prep in zip(self._ingest.write(good), good, strict=True):
                    if result.status == "accepted":
                        summary.accepted += 1
                        t = prep.row.type
                        summary.by_type[t] = summary.by_type.get(t, 0) + 1
                    else:
                        summary.duplicates += 1
                if progress is not None:
                    progress(source.position, source.size)
        finally:
            gc.set_threshold(*gc_threshold)
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
            if rejected_fh is not None:
                rejected_fh.close()
        summary.seconds = time.perf_counter() - started
        return summary

    def _chunks(
        self,
        source: FileSource,
        column_map: ColumnMap | None,
        summary: IngestSummary,
        reject: Callable[[int, str | None, list[Problem], Any], None],
    ) -> Iterator[list[tuple[int, Any, Any]]]:
        chunk: list[tuple[int, Any, Any]] = []
        rows = source.raw_lines() if column_map is None and source.fmt == "jsonl" else source
        for item in rows:
            summary.rows_read += 1
            if isinstance(item, BadRow):
                reject(item.line, None, item.problems, item.raw)
                continue
            assert isinstance(item, Row)
            if column_map is None:
                chunk.append((item.line, item.data, item.data))
                summary.events += 1
            else:
                try:
                    events = map_row(column_map, item.data)
                except RowError as exc:
                    reject(item.line, None, [Problem(exc.field, exc.reason)], item.data)
                    continue
                for event in events:
                    if "event_id" not in event:
                        event["event_id"] = _derived_id(event)
                    chunk.append((item.line, event, item.data))
                    summary.events += 1
            if len(chunk) >= self._chunk:
                yield chunk
                chunk = []
        if chunk:
            yield chunk
