"""In-process :class:`~riskops.stores.base.OnlineState` (embedded default and tests).

Thread-safe: one lock guards the buckets and the cursor, so ``apply`` is atomic with respect to
every other call. Windows, retention and distinct semantics are those of
:mod:`riskops.core.state.windows` and :mod:`riskops.core.state.buckets`. A chunk is validated,
hashed and grouped by series before the lock is taken; under the lock only the merge runs.

Memory is bounded by retention: per series by rolling aged buckets up, and across series by dropping
those idle for longer than the longest retention (91 days) relative to the newest
``occurred_at`` this store has received. That check scans every series, so it runs at most once
per day of event time *and* only once at least as many updates as there were series have been
applied since the previous one (its cost stays a constant per update, even during a rebuild
that crosses months of event time in minutes).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence

from riskops.core.state.buckets import BucketStore
from riskops.core.state.model import StateUpdate, WindowStats

_EVICT_EVERY_US = 86_400 * 1_000_000


class MemoryOnlineState:
    in_process = True

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._store = BucketStore()
        self._cursor = 0
        self._watermark_us: int | None = None
        self._next_evict_us: int | None = None
        self._applied_since_evict = 0

    def cursor(self) -> int:
        with self._lock:
            return self._cursor

    def apply(self, updates: Sequence[StateUpdate], from_seq: int, to_seq: int) -> bool:
        """Apply every update and move the cursor ``from_seq -> to_seq``, or nothing (False)
        when the cursor is not ``from_seq``. Invalid updates raise ValueError before anything
        is applied."""
        if to_seq < from_seq:
            raise ValueError(f"to_seq ({to_seq}) must not be before from_seq ({from_seq})")
        groups = self._store.prepare(updates)
        with self._lock:
            if self._cursor != from_seq:
                return False
            newest = self._store.merge(groups)
            self._cursor = to_seq
            if newest is not None:
                self._after_merge(newest, len(updates))
            return True

    def _after_merge(self, newest: int, applied: int) -> None:
        if self._watermark_us is None or newest > self._watermark_us:
            self._watermark_us = newest
        watermark = self._watermark_us
        self._applied_since_evict += applied
        if self._next_evict_us is None:
            self._next_evict_us = watermark + _EVICT_EVERY_US
        elif (
            watermark >= self._next_evict_us
            and self._applied_since_evict >= self._store.series_count()
        ):
            self._store.evict_idle(watermark)
            self._next_evict_us = watermark + _EVICT_EVERY_US
            self._applied_since_evict = 0

    def window(
        self, entity_type: str, entity_id: str, metric: str, window_s: int, as_of_us: int
    ) -> WindowStats:
        with self._lock:
            return self._store.window(entity_type, entity_id, metric, window_s, as_of_us)

    def windows(
        self,
        entity_type: str,
        entity_id: str,
        window_s: Iterable[int],
        as_of_us: int,
        metrics: Iterable[str] | None = None,
    ) -> dict[str, dict[int, WindowStats]]:
        """Every metric the entity has (or only those of ``metrics`` it has), for each window:
        ``{metric: {window_s: stats}}``."""
        windows = tuple(window_s)
        wanted = None if metrics is None else tuple(metrics)
        with self._lock:
            return self._store.windows(entity_type, entity_id, windows, as_of_us, wanted)

    def reset(self) -> None:
        """Forget everything and set the cursor to 0."""
        with self._lock:
            self._store.clear()
            self._cursor = 0
            self._watermark_us = None
            self._next_evict_us = None
            self._applied_since_evict = 0

    def close(self) -> None:
        """Nothing to release."""
