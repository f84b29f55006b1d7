"""Opening the analytics data: from this deployment's event log (with its block lists), or from
an order export file. The CLI and the API both go through here."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from riskops.services.analytics.data import AnalyticsData
from riskops.services.analytics.inputs import OrderColumns
from riskops.services.clock import Clock
from riskops.services.log_scan import Progress
from riskops.stores.base import Store

T = TypeVar("T")


class AnalyticsService:
    def __init__(self, store: Store, secret: bytes, clock: Clock) -> None:
        self._store = store
        self._secret = secret
        self._clock = clock
        self._lock = threading.Lock()
        self._snapshot: tuple[tuple[int, int], AnalyticsData] | None = None

    def run(self, analysis: Callable[[AnalyticsData], T]) -> T:
        """Run one analysis on the log as it is now. The tables are read once and kept until
        the log or the lists change; analyses run one at a time (one DuckDB connection)."""
        with self._current() as data:
            return analysis(data)

    @contextmanager
    def _current(self) -> Iterator[AnalyticsData]:
        with self._lock:
            with self._store.begin() as uow:
                version = (uow.events.last_seq(), uow.lists.version())
            if self._snapshot is None or self._snapshot[0] != version:
                if self._snapshot is not None:
                    self._snapshot[1].close()
                self._snapshot = (version, self.from_log())
            yield self._snapshot[1]

    def close(self) -> None:
        with self._lock:
            if self._snapshot is not None:
                self._snapshot[1].close()
                self._snapshot = None

    def from_log(
        self, *, fx: Mapping[str, object] | None = None, progress: Progress | None = None
    ) -> AnalyticsData:
        now_us = int(self._clock().timestamp() * 1_000_000)
        return AnalyticsData.from_log(
            self._store, self._secret, fx=fx, progress=progress, now_us=now_us
        )

    def from_orders_file(
        self,
        path: Path,
        columns: OrderColumns,
        *,
        fx: Mapping[str, object] | None = None,
        rejected_path: Path | None = None,
    ) -> AnalyticsData:
        return AnalyticsData.from_orders_file(path, columns, fx=fx, rejected_path=rejected_path)
