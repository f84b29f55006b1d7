"""In-memory bucket aggregates and the one-pass window summary (pure: no I/O, clock or randomness).

Layout: ``(entity_type, entity_id) -> metric -> Series``; a :class:`Series` holds, for each of
:data:`~riskops.core.state.windows.RESOLUTIONS`, sparse dicts keyed by bucket index:

* ``counts[i]``: bucket -> ``complex(count, last_us)`` (every bucket has one);
* ``sums[i]``: bucket -> sum and ``extremes[i]``: bucket -> ``complex(min, max)``, only for the
  buckets that received a ``value`` (both ``None`` until the series receives one);
* ``hashes[i]``: bucket -> one hash or a set of hashes (``None`` until a ``distinct`` value).

A ``complex`` is a pair of doubles in one immutable, atomic object: counts and times are exact
up to 2**53 (times are validated to stay within that). Dicts that hold only numbers are never
tracked by CPython's cyclic garbage collector, so millions of buckets cost no collection time,
and an update changes a bucket by replacing one number (no tuple or list per bucket).

Applying a chunk
----------------
:func:`group_updates` validates a chunk and groups it by series (pure, outside any lock); the
store then merges each series' updates in one go (:meth:`Series.merge`). The retention rule
uses the series' newest time *including the whole chunk*: an update is skipped at a resolution
when it is already beyond that resolution's retention relative to it. This equals applying the
updates one by one (where earlier ones may land in buckets that a later, newer update makes
stale): reads never look at buckets below the retention of the series' newest update.

Bounded memory
--------------
* Per series and resolution, buckets older than the retention relative to the series' newest
  update are dropped lazily: when a resolution holds more than ``keep_buckets + slack`` buckets
  (slack = a quarter of ``keep_buckets``, at least 1) after a merge, the stale ones are removed,
  so between merges it never holds more than :func:`bucket_bound` buckets. Reads ignore stale
  buckets anyway.
* :meth:`BucketStore.evict_idle` drops whole series whose newest update is older than the
  longest retention relative to a watermark the caller passes in (time is an argument).

Distinct values are kept as 64-bit BLAKE2b hashes (deterministic across processes), at most
:data:`MAX_DISTINCT_PER_BUCKET` per bucket. Past the cap a bucket still counts every update, but
new values are no longer remembered, so any window containing it reports a *lower bound* on the
distinct count (64-bit collisions are negligible below the cap).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from hashlib import blake2b
from typing import Any, TypeAlias, TypeVar

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
_MIN_RETENTION_US = min(_RETENTION_US)
# Unrolled below: the hot loop names each resolution.
_B0, _B1, _B2, _B3, _B4 = _BUCKET_US
_P0, _P1, _P2, _P3, _P4 = _PRUNE_ABOVE
NEVER_US = -(2**63)
MAX_TIME_US = 2**53

SeriesKey: TypeAlias = tuple[str, str, str]
"""``(entity_type, entity_id, metric)``."""
H = TypeVar("H")
Item: TypeAlias = tuple[int, float | None, H | None]
"""One validated update of a series: ``(occurred_at_us, value, hash of distinct)``."""


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


def group_updates(
    updates: Iterable[StateUpdate], hash_of: Callable[[str], H]
) -> dict[SeriesKey, list[Item[H]]]:
    """Validate a chunk and group it by series, keeping the order within each series.

    Raises ValueError exactly when :func:`validate_update` rejects one of the updates (so a
    backend applies all of a chunk or nothing). The common case costs a few type checks per
    update: the names are checked once per series of the chunk, ``hash_of`` runs once per
    different distinct value, and only what the fast checks cannot accept (non-ASCII text, an
    ``int`` value, anything invalid) goes through :func:`validate_update`.
    """
    groups: dict[SeriesKey, list[Item[H]]] = {}
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
            groups[key] = [(t, v, h)]
        else:
            group.append((t, v, h))
    return groups


Hashes: TypeAlias = int | set[int]
EMPTY = WindowStats.empty()


def _widen(e: complex, v: float) -> complex:
    """``complex(min, max)`` widened to include ``v``."""
    return complex(v if v < e.real else e.real, v if v > e.imag else e.imag)


def _add_hash(hashes: dict[int, Hashes], b: int, x: Hashes, h: int) -> None:
    """Add ``h`` to a bucket that already holds ``x`` (one hash or a set of them)."""
    if isinstance(x, int):
        if x != h:
            hashes[b] = {x, h}
    elif len(x) < MAX_DISTINCT_PER_BUCKET:
        x.add(h)


def _dicts(n: int) -> tuple[dict[int, Any], ...]:
    return tuple({} for _ in range(n))


class Series:
    """One (entity, metric): its newest update time and its buckets at every resolution.

    ``c0`` .. ``c4`` are the count dicts of the five resolutions, ``values`` is None or the
    sum dicts followed by the extremes dicts (ten), ``hashes`` None or the five hash dicts.
    The merge below names each resolution (unrolled: this is the hottest loop of ingest).
    """

    __slots__ = ("c0", "c1", "c2", "c3", "c4", "hashes", "newest_us", "values")

    def __init__(self) -> None:
        self.newest_us = NEVER_US
        self.c0: dict[int, complex] = {}
        self.c1: dict[int, complex] = {}
        self.c2: dict[int, complex] = {}
        self.c3: dict[int, complex] = {}
        self.c4: dict[int, complex] = {}
        self.values: tuple[dict[int, Any], ...] | None = None
        self.hashes: tuple[dict[int, Hashes], ...] | None = None

    @property
    def counts(self) -> tuple[dict[int, complex], ...]:
        """The count dicts (bucket -> ``complex(count, last_us)``), finest first."""
        return (self.c0, self.c1, self.c2, self.c3, self.c4)

    def sums(self, i: int) -> dict[int, float] | None:
        return None if self.values is None else self.values[i]

    def extremes(self, i: int) -> dict[int, complex] | None:
        return None if self.values is None else self.values[5 + i]

    def add(self, t_us: int, value: float | None, dhash: int | None) -> None:
        """Merge one (validated) update; see :meth:`merge`."""
        self.merge(((t_us, value, dhash),))

    def merge(self, items: Sequence[Item[int]]) -> None:
        """Merge validated ``(occurred_at_us, value, hash)`` updates of this series."""
        newest = self.newest_us
        for item in items:
            if item[0] > newest:
                newest = item[0]
        self.newest_us = newest
        fast_after = newest - _MIN_RETENTION_US  # later updates are kept at every resolution
        c0, c1, c2, c3, c4 = self.c0, self.c1, self.c2, self.c3, self.c4
        for t, v, h in items:
            if t <= fast_after:
                self._merge_late(t, v, h)
                continue
            ct = complex(1, t)
            b0, b1, b2, b3, b4 = t // _B0, t // _B1, t // _B2, t // _B3, t // _B4
            # count + 1 and last = max(last, t): one number per bucket
            x = c0.get(b0)
            c0[b0] = ct if x is None else x + 1.0 if x.imag >= t else x.real + ct
            x = c1.get(b1)
            c1[b1] = ct if x is None else x + 1.0 if x.imag >= t else x.real + ct
            x = c2.get(b2)
            c2[b2] = ct if x is None else x + 1.0 if x.imag >= t else x.real + ct
            x = c3.get(b3)
            c3[b3] = ct if x is None else x + 1.0 if x.imag >= t else x.real + ct
            x = c4.get(b4)
            c4[b4] = ct if x is None else x + 1.0 if x.imag >= t else x.real + ct
            if v is not None:
                if self.values is None:
                    self.values = _dicts(10)
                s0, s1, s2, s3, s4, e0, e1, e2, e3, e4 = self.values
                vv = complex(v, v)
                # a bucket has a sum exactly when it has extremes
                y = s0.get(b0)
                if y is None:
                    s0[b0], e0[b0] = v, vv
                else:
                    s0[b0] = y + v
                    e = e0[b0]
                    if v < e.real or v > e.imag:
                        e0[b0] = _widen(e, v)
                y = s1.get(b1)
                if y is None:
                    s1[b1], e1[b1] = v, vv
                else:
                    s1[b1] = y + v
                    e = e1[b1]
                    if v < e.real or v > e.imag:
                        e1[b1] = _widen(e, v)
                y = s2.get(b2)
                if y is None:
                    s2[b2], e2[b2] = v, vv
                else:
                    s2[b2] = y + v
                    e = e2[b2]
                    if v < e.real or v > e.imag:
                        e2[b2] = _widen(e, v)
                y = s3.get(b3)
                if y is None:
                    s3[b3], e3[b3] = v, vv
                else:
                    s3[b3] = y + v
                    e = e3[b3]
                    if v < e.real or v > e.imag:
                        e3[b3] = _widen(e, v)
                y = s4.get(b4)
                if y is None:
                    s4[b4], e4[b4] = v, vv
                else:
                    s4[b4] = y + v
                    e = e4[b4]
                    if v < e.real or v > e.imag:
                        e4[b4] = _widen(e, v)
            if h is not None:
                if self.hashes is None:
                    self.hashes = _dicts(5)
                h0, h1, h2, h3, h4 = self.hashes
                z = h0.get(b0)
                if z is None:
                    h0[b0] = h
                elif z != h:
                    _add_hash(h0, b0, z, h)
                z = h1.get(b1)
                if z is None:
                    h1[b1] = h
                elif z != h:
                    _add_hash(h1, b1, z, h)
                z = h2.get(b2)
                if z is None:
                    h2[b2] = h
                elif z != h:
                    _add_hash(h2, b2, z, h)
                z = h3.get(b3)
                if z is None:
                    h3[b3] = h
                elif z != h:
                    _add_hash(h3, b3, z, h)
                z = h4.get(b4)
                if z is None:
                    h4[b4] = h
                elif z != h:
                    _add_hash(h4, b4, z, h)
        if (
            len(c0) > _P0
            or len(c1) > _P1
            or len(c2) > _P2
            or len(c3) > _P3
            or len(c4) > _P4
        ):
            for i, (counts, bound) in enumerate(zip(self.counts, _PRUNE_ABOVE, strict=True)):
                if len(counts) > bound:
                    self._prune(i)

    def _merge_late(self, t: int, v: float | None, h: int | None) -> None:
        """An update older than the shortest retention: skipped where beyond retention."""
        newest = self.newest_us
        ct = complex(1, t)
        for i, counts in enumerate(self.counts):
            size = _BUCKET_US[i]
            b = t // size
            if b < (newest - _RETENTION_US[i] + 1) // size:
                continue  # late beyond this resolution's retention: skipped here only
            x = counts.get(b)
            counts[b] = ct if x is None else x + 1.0 if x.imag >= t else x.real + ct
            if v is not None:
                if self.values is None:
                    self.values = _dicts(10)
                sums, extremes = self.values[i], self.values[5 + i]
                y = sums.get(b)
                if y is None:
                    sums[b], extremes[b] = v, complex(v, v)
                else:
                    sums[b] = y + v
                    extremes[b] = _widen(extremes[b], v)
            if h is not None:
                if self.hashes is None:
                    self.hashes = _dicts(5)
                hashes = self.hashes[i]
                z = hashes.get(b)
                if z is None:
                    hashes[b] = h
                else:
                    _add_hash(hashes, b, z, h)

    def _prune(self, i: int) -> None:
        keep = keep_from_bucket(self.newest_us, RESOLUTIONS[i])
        counts = self.counts[i]
        stale = [b for b in counts if b < keep]
        for b in stale:
            del counts[b]
        others = [] if self.values is None else [self.values[i], self.values[5 + i]]
        if self.hashes is not None:
            others.append(self.hashes[i])
        for d in others:
            for b in stale:
                d.pop(b, None)

    def bucket_counts(self) -> list[int]:
        """Buckets held at each resolution, finest first."""
        return [len(d) for d in self.counts]

    def bucket_count(self) -> int:
        return sum(self.bucket_counts())


def summarize(
    plan: ResolutionPlan,
    series: Series,
    keep_from: int,
    as_of_us: int,
    out: dict[int, WindowStats],
) -> None:
    """Write into ``out`` the stats of every window of ``plan``, in one pass over the series'
    buckets at the plan's resolution.

    Buckets below ``keep_from`` (out of retention) are ignored. The buckets in range are taken
    newest first; windows (nested, smallest first) are running totals over them.
    ``last_seen_us`` is clamped to ``as_of`` (it can only exceed it when the newest bucket also
    holds updates later than ``as_of``). ``distinct`` is the size of the union of the buckets'
    hash sets (0 for buckets that kept none).
    """
    i = plan.index
    counts = series.counts[i]
    los, hi, windows = plan.los, plan.hi, plan.windows
    lo_min = max(los[-1], keep_from)
    found: list[tuple[int, complex]] = []
    if counts and lo_min <= hi:
        if hi - lo_min < len(counts):
            get = counts.get
            found = [(b, x) for b in range(hi, lo_min - 1, -1) if (x := get(b)) is not None]
        else:
            found = [(b, x) for b, x in counts.items() if lo_min <= b <= hi]
            if len(found) > 1:
                found.sort(key=_bucket_index, reverse=True)
    if not found:
        for w in windows:
            out[w] = EMPTY
        return
    sums, extremes = series.sums(i), series.extremes(i)
    hashes = None if series.hashes is None else series.hashes[i]
    n, k = len(found), 0
    c, s, last = 0.0, 0.0, float(NEVER_US)
    mn: float | None = None
    mx: float | None = None
    union: set[int] | None = None
    for lo, w in zip(los, windows, strict=True):
        while k < n:
            b, x = found[k]
            if b < lo:
                break
            k += 1
            c += x.real
            if x.imag > last:
                last = x.imag
            if extremes is not None and sums is not None:
                e = extremes.get(b)
                if e is not None:
                    s += sums[b]
                    if mn is None or e.real < mn:
                        mn = e.real
                    if mx is None or e.imag > mx:
                        mx = e.imag
            if hashes is not None:
                hs = hashes.get(b)
                if hs is None:
                    continue
                if union is None:
                    union = {hs} if isinstance(hs, int) else set(hs)
                elif isinstance(hs, int):
                    union.add(hs)
                else:
                    union |= hs
        out[w] = (
            WindowStats(
                int(c), s, mn, mx, 0 if union is None else len(union), min(int(last), as_of_us)
            )
            if c
            else EMPTY
        )


def _bucket_index(item: tuple[int, complex]) -> int:
    return item[0]


class BucketStore:
    """Bucket aggregates of many series; not thread-safe (the caller holds the lock)."""

    __slots__ = ("_entities", "_series")

    def __init__(self) -> None:
        self._entities: dict[tuple[str, str], dict[str, Series]] = {}
        self._series = 0

    @staticmethod
    def prepare(updates: Iterable[StateUpdate]) -> dict[SeriesKey, list[Item[int]]]:
        """Validate and group a chunk (pure: call it before taking the store's lock)."""
        return group_updates(updates, distinct_hash)

    def merge(self, groups: dict[SeriesKey, list[Item[int]]]) -> int | None:
        """Merge a chunk prepared by :meth:`prepare`; returns the newest ``newest_us`` of the
        series it touched (None for an empty chunk)."""
        entities = self._entities
        newest: int | None = None
        for (entity_type, entity_id, metric), items in groups.items():
            metrics = entities.get((entity_type, entity_id))
            if metrics is None:
                metrics = entities[entity_type, entity_id] = {}
            series = metrics.get(metric)
            if series is None:
                series = metrics[metric] = Series()
                self._series += 1
            series.merge(items)
            if newest is None or series.newest_us > newest:
                newest = series.newest_us
        return newest

    def add(self, update: StateUpdate) -> None:
        """Validate and merge one update."""
        self.merge(self.prepare((update,)))

    def window(
        self, entity_type: str, entity_id: str, metric: str, window_s: int, as_of_us: int
    ) -> WindowStats:
        (plan,) = plan_windows((window_s,), as_of_us)
        series = self._entities.get((entity_type, entity_id), {}).get(metric)
        if series is None:
            return EMPTY
        out: dict[int, WindowStats] = {}
        keep = keep_from_bucket(series.newest_us, plan.resolution)
        summarize(plan, series, keep, as_of_us, out)
        return out[window_s]

    def windows(
        self, entity_type: str, entity_id: str, window_s: Iterable[int], as_of_us: int
    ) -> dict[str, dict[int, WindowStats]]:
        plans = [
            (p, p.resolution.bucket_us, p.resolution.retention_us - 1, p.los[-1])
            for p in plan_windows(window_s, as_of_us)
        ]
        result: dict[str, dict[int, WindowStats]] = {}
        for metric, series in self._entities.get((entity_type, entity_id), {}).items():
            out: dict[int, WindowStats] = {}
            newest = series.newest_us
            for plan, size, retention_less_1, oldest in plans:
                if newest // size < oldest:
                    for w in plan.windows:  # idle series: nothing this recent
                        out[w] = EMPTY
                    continue
                keep = (newest - retention_less_1) // size  # == keep_from_bucket(newest, res)
                summarize(plan, series, keep, as_of_us, out)
            result[metric] = out
        return result

    def evict_idle(self, watermark_us: int) -> int:
        """Drop series whose newest update is at or before ``watermark - longest retention``;
        returns how many were dropped. None of their buckets is visible from ``watermark`` on."""
        cutoff = watermark_us - _MAX_RETENTION_US
        dropped = 0
        entities = self._entities
        for key, metrics in list(entities.items()):
            idle = [m for m, s in metrics.items() if s.newest_us <= cutoff]
            if not idle:
                continue
            for metric in idle:
                del metrics[metric]
            dropped += len(idle)
            if not metrics:
                del entities[key]
        self._series -= dropped
        return dropped

    def clear(self) -> None:
        self._entities.clear()
        self._series = 0

    def series_count(self) -> int:
        return self._series

    def bucket_count(self) -> int:
        return sum(s.bucket_count() for m in self._entities.values() for s in m.values())
