"""The in-memory state of many series: validating and grouping a chunk of updates, and the
store that merges chunks and answers window reads (pure: no I/O, clock or randomness).

Each ``(entity_type, entity_id, metric)`` series is one dict of numbers and bytes laid out and
merged as :mod:`riskops.core.state.series` describes (one bucket per update at the finest level
that keeps it, rolled up into coarser levels as it ages). The store keeps
``(entity_type, entity_id, metric) -> series dict`` plus ``(entity_type, entity_id) -> tuple of
its metrics`` for listing.

Applying a chunk
----------------
:func:`group_updates` validates a chunk and groups it by series (pure, outside any lock); the
store then merges each series' updates in one go. The retention rule uses the series' newest
time *including the whole chunk*: an update goes to the finest level that keeps it relative to
that time. This equals applying the updates one by one: reads never look at buckets below the
retention of the series' newest update.

Bounded memory
--------------
Per series by the roll-up (:func:`~riskops.core.state.series.series_entry_bound`); across
series, :meth:`BucketStore.evict_idle` drops whole series whose newest update is older than the
longest retention relative to a watermark the caller passes in (time is an argument).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from hashlib import blake2b
from typing import TypeAlias

from riskops.core.state.model import StateUpdate, WindowStats
from riskops.core.state.series import (
    EMPTY,
    MAX_DISTINCT_PER_BUCKET,
    MAX_RETENTION_US,
    NEVER_US,
    NEWEST,
    Group,
    H,
    Item,
    SeriesDict,
    bucket_counts,
    bucket_key,
    merge_series,
    new_series,
    roll_up,
    series_entry_bound,
    window_stats,
)
from riskops.core.state.summary import plan_specs, summarize
from riskops.core.state.windows import Resolution

MAX_TIME_US = 2**53

SeriesKey: TypeAlias = tuple[str, str, str]
"""``(entity_type, entity_id, metric)``."""


def bucket_bound(res: Resolution) -> int:
    """Buckets intersecting the retention of ``res``, plus a quarter: about the most buckets
    a series keeps at ``res`` right after a roll-up."""
    return res.keep_buckets + max(1, res.keep_buckets // 4)


def distinct_hash(value: str) -> int:
    """Deterministic 64-bit hash of a distinct value (BLAKE2b, 8-byte digest)."""
    return int.from_bytes(blake2b(value.encode("utf-8"), digest_size=8).digest(), "big")


def distinct_digest(value: str) -> bytes:
    """The 8-byte BLAKE2b digest behind :func:`distinct_hash`."""
    return blake2b(value.encode("utf-8"), digest_size=8).digest()


def validate_update(update: StateUpdate) -> None:
    """Reject an update no backend can store, naming the field: time must be an int of µs
    within ±2**53 (exact as a double, i.e. up to the year 2255), names non-empty UTF-8 text,
    ``value`` a finite number or None, ``distinct`` UTF-8 text (may be empty) or None."""
    t = update.occurred_at_us
    if isinstance(t, bool) or not isinstance(t, int) or not -MAX_TIME_US <= t <= MAX_TIME_US:
        raise ValueError(f"occurred_at_us must be an int of microseconds within ±2**53, got {t!r}")
    for name in ("entity_type", "entity_id", "metric", "distinct"):
        text = getattr(update, name)
        if name == "distinct":
            if text is None:
                continue
            if not isinstance(text, str):
                raise ValueError(f"distinct must be a string or None, got {text!r}")
        elif not isinstance(text, str) or not text:
            raise ValueError(f"{name} must be a non-empty string, got {text!r}")
        if not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError(f"{name} must be valid UTF-8 text, got {text!r}") from None
    v = update.value
    if v is not None:
        try:
            finite = not isinstance(v, bool) and isinstance(v, int | float) and math.isfinite(v)
        except OverflowError:  # an int beyond the float range
            finite = False
        if not finite:
            raise ValueError(f"value must be a finite number or None, got {v!r}")


def group_updates(
    updates: Iterable[StateUpdate], hash_of: Callable[[str], H]
) -> dict[SeriesKey, Group[H]]:
    """Validate a chunk and group it by series, keeping the order within each series.

    Raises ValueError exactly when :func:`validate_update` rejects one of the updates (so a
    backend applies all of a chunk or nothing). The common case costs a few type checks per
    update: the names are checked once per series of the chunk, ``hash_of`` runs once per
    different distinct value, and only what the fast checks cannot accept (non-ASCII text, an
    ``int`` value, anything invalid) goes through :func:`validate_update`. A series with one
    update in the chunk gets the item itself, not a list (most series of a chunk; fewer objects
    for the garbage collector).
    """
    groups: dict[SeriesKey, Group[H]] = {}
    get = groups.get
    hashed: dict[str, H] = {}
    for u in updates:
        t, v, d = u.occurred_at_us, u.value, u.distinct
        if (
            type(t) is not int
            or not -MAX_TIME_US <= t <= MAX_TIME_US
            or (v is not None and (type(v) is not float or v - v != 0.0))  # NaN, ±inf
        ):
            validate_update(u)  # raises, or accepts e.g. an int value
            if v is not None:
                v = float(v)  # sums, minima and maxima are doubles in every backend
        h: H | None = None
        if d is not None:
            if type(d) is not str:
                validate_update(u)
            h = hashed.get(d)
            if h is None:
                if not d.isascii():
                    validate_update(u)
                h = hashed[d] = hash_of(d)
        key = (u.entity_type, u.entity_id, u.metric)
        try:
            group = get(key)
        except TypeError:  # an unhashable name
            validate_update(u)
            raise
        if group is None:
            a, b, c = key
            if not (
                type(a) is str
                and type(b) is str
                and type(c) is str
                and a
                and b
                and c
                and a.isascii()
                and b.isascii()
                and c.isascii()
            ):
                validate_update(u)
            groups[key] = (t, v, h)
        elif type(group) is tuple:
            groups[key] = [group, (t, v, h)]
        else:
            group.append((t, v, h))  # type: ignore[union-attr]
    return groups


# --- the store -------------------------------------------------------------------------------


class BucketStore:
    """Bucket aggregates of many series; not thread-safe (the caller holds the lock)."""

    __slots__ = ("_metrics", "_series")

    def __init__(self) -> None:
        self._series: dict[SeriesKey, SeriesDict] = {}
        self._metrics: dict[tuple[str, str], tuple[str, ...]] = {}

    @staticmethod
    def prepare(updates: Iterable[StateUpdate]) -> dict[SeriesKey, Group[bytes]]:
        """Validate, hash and group a chunk (pure: call it before taking the store's lock)."""
        return group_updates(updates, distinct_digest)

    def merge(self, groups: dict[SeriesKey, Group[bytes]]) -> int | None:
        """Merge a chunk prepared by :meth:`prepare`; returns the newest ``occurred_at_us``
        of the series it touched (None for an empty chunk)."""
        series = self._series
        newest: int | None = None
        metrics = self._metrics
        for key, group in groups.items():
            d = series.get(key)
            if d is None:
                if type(group) is tuple:
                    d = series[key] = new_series(*group)
                else:
                    d = series[key] = {}
                    merge_series(d, group)
                entity = (key[0], key[1])
                metrics[entity] = (*metrics.get(entity, ()), key[2])
            else:
                merge_series(d, group)
            if newest is None or d[NEWEST] > newest:
                newest = d[NEWEST]
        return newest

    def add(self, update: StateUpdate) -> None:
        """Validate and merge one update."""
        self.merge(self.prepare((update,)))

    def series(self, entity_type: str, entity_id: str, metric: str) -> SeriesDict | None:
        return self._series.get((entity_type, entity_id, metric))

    def window(
        self, entity_type: str, entity_id: str, metric: str, window_s: int, as_of_us: int
    ) -> WindowStats:
        return (
            self._windows(entity_type, entity_id, (metric,), (window_s,), as_of_us)
            .get(metric, {})
            .get(window_s, EMPTY)
        )

    def windows(
        self,
        entity_type: str,
        entity_id: str,
        window_s: Iterable[int],
        as_of_us: int,
        metrics: Iterable[str] | None = None,
    ) -> dict[str, dict[int, WindowStats]]:
        """Every metric of the entity, or only those of ``metrics`` it has."""
        has = self._metrics.get((entity_type, entity_id), ())
        chosen = has if metrics is None else [m for m in metrics if m in has]
        return self._windows(entity_type, entity_id, chosen, window_s, as_of_us)

    def _windows(
        self,
        entity_type: str,
        entity_id: str,
        metrics: Iterable[str],
        window_s: Iterable[int],
        as_of_us: int,
    ) -> dict[str, dict[int, WindowStats]]:
        specs = plan_specs(window_s, as_of_us)
        result: dict[str, dict[int, WindowStats]] = {}
        series = self._series
        for metric in metrics:
            d = series.get((entity_type, entity_id, metric))
            if d is None:
                continue
            out: dict[int, WindowStats] = {}
            summarize(d, specs, as_of_us, out)
            result[metric] = out
        return result

    def evict_idle(self, watermark_us: int) -> int:
        """Drop series whose newest update is at or before ``watermark - longest retention``;
        returns how many were dropped. None of their buckets is visible from ``watermark`` on."""
        cutoff = watermark_us - MAX_RETENTION_US
        idle = [key for key, d in self._series.items() if d[NEWEST] <= cutoff]
        gone: dict[tuple[str, str], set[str]] = {}
        for key in idle:
            del self._series[key]
            gone.setdefault((key[0], key[1]), set()).add(key[2])
        for entity, metrics in gone.items():
            left = tuple(m for m in self._metrics[entity] if m not in metrics)
            if left:
                self._metrics[entity] = left
            else:
                del self._metrics[entity]
        return len(idle)

    def clear(self) -> None:
        self._series.clear()
        self._metrics.clear()

    def series_count(self) -> int:
        return len(self._series)

    def bucket_count(self) -> int:
        return sum(sum(bucket_counts(d)) for d in self._series.values())


__all__ = [
    "EMPTY",
    "MAX_DISTINCT_PER_BUCKET",
    "NEVER_US",
    "BucketStore",
    "Group",
    "Item",
    "bucket_bound",
    "bucket_counts",
    "bucket_key",
    "distinct_digest",
    "distinct_hash",
    "group_updates",
    "merge_series",
    "new_series",
    "plan_specs",
    "roll_up",
    "series_entry_bound",
    "summarize",
    "validate_update",
    "window_stats",
]
