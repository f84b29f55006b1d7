"""In-memory bucket aggregates and the one-pass window summary (pure: no I/O, clock or randomness).

Layout: ``(entity_type, entity_id) -> metric -> Series``; a :class:`Series` holds, for each of
:data:`~riskops.core.state.windows.RESOLUTIONS`, a sparse ``dict`` bucket index -> :data:`Agg`.

Bounded memory
--------------
* Per series and resolution, buckets older than the retention relative to the series' newest
  update are dropped lazily: when a resolution holds more than ``keep_buckets + slack`` buckets
  (slack = a quarter of ``keep_buckets``, at least 1) the stale ones are removed, so it never
  holds more than :func:`bucket_bound` buckets. Reads ignore stale buckets anyway.
* :meth:`BucketStore.evict_idle` drops whole series whose newest update is older than the
  longest retention relative to a watermark the caller passes in (time is an argument).

Distinct values are kept as 64-bit BLAKE2b hashes (deterministic across processes), at most
:data:`MAX_DISTINCT_PER_BUCKET` per bucket. Past the cap a bucket still counts every update, but
new values are no longer remembered, so any window containing it reports a *lower bound* on the
distinct count (64-bit collisions are negligible below the cap).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from hashlib import blake2b
from typing import TypeAlias

from riskops.core.state.model import StateUpdate, WindowStats
from riskops.core.state.windows import (
    RESOLUTIONS,
    Resolution,
    ResolutionPlan,
    keep_from_bucket,
    plan_windows,
)

MAX_DISTINCT_PER_BUCKET = 4096
_BUCKET_US = tuple(r.bucket_us for r in RESOLUTIONS)
_RETENTION_US = tuple(r.retention_us for r in RESOLUTIONS)
_PRUNE_ABOVE = tuple(r.keep_buckets + max(1, r.keep_buckets // 4) for r in RESOLUTIONS)
_MAX_RETENTION_US = max(_RETENTION_US)
NEVER_US = -(2**63)
MAX_TIME_US = 2**53


def bucket_bound(res: Resolution) -> int:
    """Most buckets one series ever holds at ``res`` (retention plus the lazy-pruning slack)."""
    return res.keep_buckets + max(1, res.keep_buckets // 4)


def distinct_hash(value: str) -> int:
    """Deterministic 64-bit hash of a distinct value (BLAKE2b, 8-byte digest)."""
    return int.from_bytes(blake2b(value.encode("utf-8"), digest_size=8).digest(), "big")


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


Agg: TypeAlias = tuple[int, float, float | None, float | None, int, int | set[int] | None]
"""One bucket: ``(count, sum, min, max, last_us, hashes)``. ``min``/``max`` are None while no
update carried a value; ``hashes`` is None while none carried a distinct value, the one hash
while there is one, then a set. A tuple of numbers (the common case) is untracked by CPython's
cyclic GC, so a million sparse buckets cost no GC time."""

EMPTY = WindowStats.empty()


class Series:
    """One (entity, metric): its newest update time and its buckets at every resolution."""

    __slots__ = ("buckets", "newest_us")

    def __init__(self) -> None:
        self.newest_us = NEVER_US
        self.buckets: tuple[dict[int, Agg], ...] = tuple([{} for _ in _BUCKET_US])

    def add(self, t_us: int, value: float | None, dhash: int | None) -> None:
        if t_us > self.newest_us:
            self.newest_us = t_us
        newest = self.newest_us
        for i, (d, size, retention, prune_above) in enumerate(
            zip(self.buckets, _BUCKET_US, _RETENTION_US, _PRUNE_ABOVE, strict=True)
        ):
            b = t_us // size
            if b < (newest - retention + 1) // size:
                continue  # late beyond this resolution's retention: skipped here only
            agg = d.get(b)
            if agg is None:
                d[b] = (
                    1,
                    0.0 if value is None else value,
                    value,
                    value,
                    t_us,
                    dhash,
                )
                if len(d) > prune_above:
                    self._prune(i)
                continue
            count, total, low, high, last, hashes = agg
            if value is not None:
                total += value
                if low is None or value < low:
                    low = value
                if high is None or value > high:
                    high = value
            if dhash is not None and dhash != hashes:
                if hashes is None:
                    hashes = dhash
                elif isinstance(hashes, int):
                    hashes = {hashes, dhash}
                elif len(hashes) < MAX_DISTINCT_PER_BUCKET:
                    hashes.add(dhash)
            d[b] = (count + 1, total, low, high, t_us if t_us > last else last, hashes)

    def _prune(self, i: int) -> None:
        d = self.buckets[i]
        keep = keep_from_bucket(self.newest_us, RESOLUTIONS[i])
        for b in [b for b in d if b < keep]:
            del d[b]

    def bucket_count(self) -> int:
        return sum(len(d) for d in self.buckets)


def summarize(
    plan: ResolutionPlan,
    buckets: Mapping[int, Agg],
    keep_from: int,
    as_of_us: int,
    out: dict[int, WindowStats],
) -> None:
    """Write into ``out`` the stats of every window of ``plan``, in one pass over ``buckets``.

    Buckets below ``keep_from`` (out of retention) are ignored. The buckets in range are taken
    newest first; windows (nested, smallest first) are running totals over them.
    ``last_seen_us`` is clamped to ``as_of`` (it can only exceed it when the newest bucket also
    holds updates later than ``as_of``). ``distinct`` is the size of the union of the buckets'
    hash sets (0 for buckets that kept none).
    """
    los, hi, windows = plan.los, plan.hi, plan.windows
    lo_min = max(los[-1], keep_from)
    found: list[tuple[int, Agg]] = []
    if buckets and lo_min <= hi:
        if hi - lo_min < len(buckets):
            get = buckets.get
            found = [(b, a) for b in range(hi, lo_min - 1, -1) if (a := get(b)) is not None]
        else:
            found = [(b, a) for b, a in buckets.items() if lo_min <= b <= hi]
            if len(found) > 1:
                found.sort(key=_bucket_index, reverse=True)
    if not found:
        for w in windows:
            out[w] = EMPTY
        return
    n, k = len(found), 0
    c, s, last = 0, 0.0, NEVER_US
    mn: float | None = None
    mx: float | None = None
    union: set[int] | None = None
    for lo, w in zip(los, windows, strict=True):
        while k < n:
            b, (count, total, low, high, last_us, hashes) = found[k]
            if b < lo:
                break
            k += 1
            c += count
            if last_us > last:
                last = last_us
            if low is not None:
                s += total
                if mn is None or low < mn:
                    mn = low
                if mx is None or (high is not None and high > mx):
                    mx = high
            if hashes is not None:
                if union is None:
                    union = {hashes} if isinstance(hashes, int) else set(hashes)
                elif isinstance(hashes, int):
                    union.add(hashes)
                else:
                    union |= hashes
        out[w] = (
            WindowStats(c, s, mn, mx, 0 if union is None else len(union), min(last, as_of_us))
            if c
            else EMPTY
        )


def _bucket_index(item: tuple[int, Agg]) -> int:
    return item[0]


class BucketStore:
    """Bucket aggregates of many series; not thread-safe (the caller holds the lock)."""

    __slots__ = ("_entities",)

    def __init__(self) -> None:
        self._entities: dict[tuple[str, str], dict[str, Series]] = {}

    def add(self, update: StateUpdate) -> None:
        key = (update.entity_type, update.entity_id)
        metrics = self._entities.get(key)
        if metrics is None:
            metrics = self._entities[key] = {}
        series = metrics.get(update.metric)
        if series is None:
            series = metrics[update.metric] = Series()
        d = update.distinct
        series.add(update.occurred_at_us, update.value, None if d is None else distinct_hash(d))

    def window(
        self, entity_type: str, entity_id: str, metric: str, window_s: int, as_of_us: int
    ) -> WindowStats:
        (plan,) = plan_windows((window_s,), as_of_us)
        series = self._entities.get((entity_type, entity_id), {}).get(metric)
        if series is None:
            return EMPTY
        out: dict[int, WindowStats] = {}
        keep = keep_from_bucket(series.newest_us, plan.resolution)
        summarize(plan, series.buckets[plan.index], keep, as_of_us, out)
        return out[window_s]

    def windows(
        self, entity_type: str, entity_id: str, window_s: Iterable[int], as_of_us: int
    ) -> dict[str, dict[int, WindowStats]]:
        plans = [
            (p, p.index, p.resolution.bucket_us, p.resolution.retention_us - 1, p.los[-1])
            for p in plan_windows(window_s, as_of_us)
        ]
        result: dict[str, dict[int, WindowStats]] = {}
        for metric, series in self._entities.get((entity_type, entity_id), {}).items():
            out: dict[int, WindowStats] = {}
            newest = series.newest_us
            for plan, index, size, retention_less_1, oldest in plans:
                if newest // size < oldest:
                    for w in plan.windows:  # idle series: nothing this recent
                        out[w] = EMPTY
                    continue
                keep = (newest - retention_less_1) // size  # == keep_from_bucket(newest, res)
                summarize(plan, series.buckets[index], keep, as_of_us, out)
            result[metric] = out
        return result

    def evict_idle(self, watermark_us: int) -> int:
        """Drop series whose newest update is at or before ``watermark - longest retention``;
        returns how many were dropped. None of their buckets is visible from ``watermark`` on."""
        cutoff = watermark_us - _MAX_RETENTION_US
        dropped = 0
        for key in list(self._entities):
            metrics = self._entities[key]
            for metric in [m for m, s in metrics.items() if s.newest_us <= cutoff]:
                del metrics[metric]
                dropped += 1
            if not metrics:
                del self._entities[key]
        return dropped

    def clear(self) -> None:
        self._entities.clear()

    def series_count(self) -> int:
        return sum(len(m) for m in self._entities.values())

    def bucket_count(self) -> int:
        return sum(s.bucket_count() for m in self._entities.values() for s in m.values())
