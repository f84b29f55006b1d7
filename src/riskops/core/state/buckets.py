"""In-memory bucket aggregates and the one-pass window summary (pure: no I/O, clock or randomness).

Layout
------
``(entity_type, entity_id, metric) -> series dict``, plus ``(entity_type, entity_id) -> tuple of
its metrics`` for listing. A series dict holds every bucket of every resolution of
:data:`~riskops.core.state.windows.RESOLUTIONS` under an ``int`` key
``field << 35 | resolution << 32 | (bucket + 2**31)`` (:func:`bucket_key`; |bucket| < 2**31 for
every time within ±2**53 µs):

* field 0, the aggregates: ``complex(count, last_us)``, or - once the bucket received a
  ``value`` - the five doubles ``count, last_us, sum, min, max`` packed in 40 ``bytes``;
* field 1, distinct values: one 8-byte digest, several concatenated (up to
  :data:`_PACKED_HASHES`), then a ``set`` of them read as ints (up to
  :data:`MAX_DISTINCT_PER_BUCKET`);

and, under negative keys, the series' newest ``occurred_at_us``, the size at which it is pruned
next and which fields it has (:data:`_NEWEST`, :data:`_PRUNE_AT`, :data:`_KINDS`).

Why numbers and bytes in flat dicts: a ``complex`` is a pair of doubles in one immutable atomic
object (counts and times are exact up to 2**53; times are validated to stay within that). A dict
that holds only numbers and bytes is never tracked by CPython's cyclic garbage collector, so
however many series and buckets the state holds, it creates no long-lived objects for the
collector (objects per bucket or per series made the collector cost more than the updates
themselves: they trigger full collections, which walk all of them): the collector sees the two
top-level dicts only, and the digest sets of buckets with many distinct values. An update
changes a bucket by replacing one entry.

Applying a chunk
----------------
:func:`group_updates` validates a chunk and groups it by series (pure, outside any lock); the
store then merges each series' updates in one go. The retention rule uses the series' newest
time *including the whole chunk*: an update is skipped at a resolution when it is already beyond
that resolution's retention relative to it. This equals applying the updates one by one (where
earlier ones may land in buckets that a later, newer update makes stale): reads never look at
buckets below the retention of the series' newest update.

Bounded memory
--------------
* Per series, buckets older than the retention of their resolution relative to the series'
  newest update are dropped lazily: when a series dict grows past its prune size, one pass
  drops the stale entries and sets the next prune size to a quarter more than what is left (at
  least :data:`_PRUNE_MIN`). Between merges a series thus never holds more than
  :func:`series_entry_bound` entries, and the cost of pruning stays a constant per new entry.
  Reads ignore stale buckets.
* :meth:`BucketStore.evict_idle` drops whole series whose newest update is older than the
  longest retention relative to a watermark the caller passes in (time is an argument).

Distinct values are kept as 64-bit BLAKE2b digests (deterministic across processes), at most
:data:`MAX_DISTINCT_PER_BUCKET` per bucket. Past the cap a bucket still counts every update, but
new values are no longer remembered, so any window containing it reports a *lower bound* on the
distinct count (64-bit collisions are negligible below the cap).
"""

from __future__ import annotations

import math
import struct
import sys
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import fields
from hashlib import blake2b
from itertools import compress, pairwise
from typing import Any, TypeAlias, TypeVar

from riskops.core.state.model import StateUpdate, WindowStats
from riskops.core.state.windows import RESOLUTIONS, Resolution, group_windows

MAX_DISTINCT_PER_BUCKET = 4096
NEVER_US = -(2**63)
MAX_TIME_US = 2**53

_BUCKET_US = tuple(r.bucket_us for r in RESOLUTIONS)
_RETENTION_US = tuple(r.retention_us for r in RESOLUTIONS)
_MAX_RETENTION_US = max(_RETENTION_US)
_MIN_RETENTION_US = min(_RETENTION_US)

_OFFSET = 1 << 31  # bucket + _OFFSET >= 0 for every time within ±2**53 µs
_LOW = (1 << 32) - 1
_HSH = 1 << 35  # key offset of the distinct field
_FIELDS = 2
_VALUES = struct.Struct("<ddddd")  # count, last_us, sum, min, max
_pack, _unpack = _VALUES.pack, _VALUES.unpack
_from_bytes, _BYTEORDER = int.from_bytes, sys.byteorder  # == memoryview.cast("Q") order
_NEWEST, _PRUNE_AT, _KINDS = -1, -2, -3  # per-series scalars
_HAS_VALUES, _HAS_HASHES = 1, 2  # bits of _KINDS
_PRUNE_MIN = 256
"""Entries a series dict may reach before its first pruning pass."""
_PACKED_HASHES = 64
"""Distinct digests of a bucket kept as one ``bytes`` (8 bytes each) before it becomes a set."""

# The hot loop names each resolution: bucket width and key base of field 0.
_B0 = _BUCKET_US[0]
_R1, _R2, _R3, _R4 = (b // a for a, b in pairwise(_BUCKET_US))  # nested floor division
_K0, _K1, _K2, _K3, _K4 = ((i << 32) + _OFFSET for i in range(len(RESOLUTIONS)))
if len(RESOLUTIONS) != 5 or _HSH < 5 << 32 or any(b % a for a, b in pairwise(_BUCKET_US)):
    raise AssertionError("the series layout needs 5 resolutions, each a multiple of the last")

SeriesKey: TypeAlias = tuple[str, str, str]
"""``(entity_type, entity_id, metric)``."""
H = TypeVar("H")
Item: TypeAlias = tuple[int, float | None, H | None]
"""One validated update of a series: ``(occurred_at_us, value, digest of distinct)``."""
Group: TypeAlias = Item[H] | list[Item[H]]
"""A series' updates in a chunk: one item, or a list of them in order."""
SeriesDict: TypeAlias = dict[int, Any]

EMPTY = WindowStats.empty()


def _window_stats_factory() -> Callable[
    [int, float, float | None, float | None, int, int], WindowStats
]:
    """``WindowStats(...)`` in about half the time: the frozen dataclass' ``__init__`` goes
    through ``object.__setattr__`` per field; this sets the slots directly (a read builds one
    per window and metric, so it shows)."""
    names = ("count", "sum", "min", "max", "distinct", "last_seen_us")
    if tuple(f.name for f in fields(WindowStats)) != names:  # pragma: no cover
        raise AssertionError("WindowStats fields changed: update the positional order here")
    new = object.__new__
    set_c, set_s, set_mn, set_mx, set_d, set_l = (getattr(WindowStats, n).__set__ for n in names)

    def make(
        count: int, total: float, low: float | None, high: float | None, distinct: int, last: int
    ) -> WindowStats:
        stats: WindowStats = new(WindowStats)
        set_c(stats, count)
        set_s(stats, total)
        set_mn(stats, low)
        set_mx(stats, high)
        set_d(stats, distinct)
        set_l(stats, last)
        return stats

    return make


window_stats = _window_stats_factory()


def bucket_bound(res: Resolution) -> int:
    """Buckets intersecting the retention of ``res``, plus a quarter: about the most buckets
    a series keeps at ``res`` when pruned (see :func:`series_entry_bound` for the hard bound)."""
    return res.keep_buckets + max(1, res.keep_buckets // 4)


def series_entry_bound() -> int:
    """Most entries a series dict ever holds: every field of every bucket within retention,
    a quarter more, the pruning floor and the per-series scalars."""
    live = _FIELDS * sum(r.keep_buckets for r in RESOLUTIONS) + 3
    return max(_PRUNE_MIN, live + live // 4 + _PRUNE_MIN) + 1


def bucket_key(resolution_index: int, bucket: int) -> int:
    """Key of a bucket's count in a series dict (add a field offset for its other fields)."""
    return (resolution_index << 32) + _OFFSET + bucket


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


# --- one series ------------------------------------------------------------------------------


def _bumped(x: Any, tf: float, ct: complex, v: float | None) -> Any:
    """A bucket's aggregates (None while new) with one more update at ``tf`` (its time as a
    float; ``ct == complex(1, tf)``) carrying value ``v`` or None."""
    if x is None:
        return ct if v is None else _pack(1.0, tf, v, v, v)
    if type(x) is complex:
        if v is None:
            return x + 1.0 if x.imag >= tf else x.real + ct
        return _pack(x.real + 1.0, x.imag if x.imag >= tf else tf, v, v, v)
    c, last, s, mn, mx = _unpack(x)
    if v is None:
        return _pack(c + 1.0, last if last >= tf else tf, s, mn, mx)
    return _pack(
        c + 1.0, last if last >= tf else tf, s + v, v if v < mn else mn, v if v > mx else mx
    )


def _add_digest(d: SeriesDict, k: int, old: Any, h: bytes) -> None:
    """Add digest ``h`` to the distinct entry ``d[k] = old``: packed bytes, or past
    :data:`_PACKED_HASHES` a set of the digests read as native-endian 64-bit ints."""
    if type(old) is bytes:
        i = old.find(h)
        while i > 0 and i & 7:  # only a match at a multiple of 8 bytes is a digest
            i = old.find(h, i + 1)
        if i >= 0:
            return
        if len(old) < 8 * _PACKED_HASHES:
            d[k] = old + h
        else:
            d[k] = set(memoryview(old + h).cast("Q"))
    elif len(old) < MAX_DISTINCT_PER_BUCKET:
        old.add(_from_bytes(h, _BYTEORDER))


def merge_series(d: SeriesDict, group: Group[bytes]) -> None:
    """Merge validated ``(occurred_at_us, value, digest)`` updates into series dict ``d``."""
    items: Sequence[Item[bytes]] = (group,) if type(group) is tuple else group  # type: ignore[assignment]
    get = d.get
    newest = get(_NEWEST, NEVER_US)
    for item in items:
        if item[0] > newest:
            newest = item[0]
    d[_NEWEST] = newest
    fast_after = newest - _MIN_RETENTION_US  # later updates are kept at every resolution
    kinds = start_kinds = get(_KINDS, 0)
    for t, v, h in items:
        if v is not None:
            kinds |= _HAS_VALUES
        if h is not None:
            kinds |= _HAS_HASHES
        if t <= fast_after:
            _merge_late(d, t, v, h)
            continue
        tf = float(t)  # exact: |t| <= 2**53; float comparisons are the fast ones
        ct = 1.0 + tf * 1j
        # bucket indexes by nested floor division (exact, and by small divisors)
        b = t // _B0
        k0 = b + _K0
        b //= _R1
        k1 = b + _K1
        b //= _R2
        k2 = b + _K2
        b //= _R3
        k3 = b + _K3
        k4 = b // _R4 + _K4
        if v is None and not kinds & _HAS_VALUES:  # counts only: one complex per bucket
            # count + 1 and last = max(last, t)
            x = get(k0)
            d[k0] = ct if x is None else x + 1.0 if x.imag >= tf else x.real + ct
            x = get(k1)
            d[k1] = ct if x is None else x + 1.0 if x.imag >= tf else x.real + ct
            x = get(k2)
            d[k2] = ct if x is None else x + 1.0 if x.imag >= tf else x.real + ct
            x = get(k3)
            d[k3] = ct if x is None else x + 1.0 if x.imag >= tf else x.real + ct
            x = get(k4)
            d[k4] = ct if x is None else x + 1.0 if x.imag >= tf else x.real + ct
        else:  # a series with values: buckets may hold packed aggregates
            d[k0] = _bumped(get(k0), tf, ct, v)
            d[k1] = _bumped(get(k1), tf, ct, v)
            d[k2] = _bumped(get(k2), tf, ct, v)
            d[k3] = _bumped(get(k3), tf, ct, v)
            d[k4] = _bumped(get(k4), tf, ct, v)
        if h is not None:
            for k in (k0 + _HSH, k1 + _HSH, k2 + _HSH, k3 + _HSH, k4 + _HSH):
                z = get(k)
                if z is None:
                    d[k] = h
                elif z != h:
                    _add_digest(d, k, z, h)
    if kinds != start_kinds:
        d[_KINDS] = kinds
    if len(d) > get(_PRUNE_AT, _PRUNE_MIN):
        prune_series(d)


def new_series(t: int, v: float | None, h: bytes | None) -> SeriesDict:
    """A series dict holding one validated update (the most common merge of a chunk: a series
    seen for the first time, once). Same result as :func:`merge_series` on an empty dict."""
    tf = float(t)
    ct = 1.0 + tf * 1j
    b = t // _B0
    k0 = b + _K0
    b //= _R1
    k1 = b + _K1
    b //= _R2
    k2 = b + _K2
    b //= _R3
    k3 = b + _K3
    k4 = b // _R4 + _K4
    if v is None:
        d: SeriesDict = {_NEWEST: t, k0: ct, k1: ct, k2: ct, k3: ct, k4: ct}
        kinds = 0
    else:
        x = _pack(1.0, tf, v, v, v)
        d = {_NEWEST: t, k0: x, k1: x, k2: x, k3: x, k4: x}
        kinds = _HAS_VALUES
    if h is not None:
        d[k0 + _HSH] = d[k1 + _HSH] = d[k2 + _HSH] = d[k3 + _HSH] = d[k4 + _HSH] = h
        kinds |= _HAS_HASHES
    if kinds:
        d[_KINDS] = kinds
    return d


def _merge_late(d: SeriesDict, t: int, v: float | None, h: bytes | None) -> None:
    """An update older than the shortest retention: skipped where beyond retention (the
    caller records in ``_KINDS`` that the series has values / digests)."""
    newest = d[_NEWEST]
    tf = float(t)
    ct = 1.0 + tf * 1j
    for i, (size, retention) in enumerate(zip(_BUCKET_US, _RETENTION_US, strict=True)):
        b = t // size
        if b < (newest - retention + 1) // size:
            continue  # late beyond this resolution's retention: skipped here only
        k = bucket_key(i, b)
        d[k] = _bumped(d.get(k), tf, ct, v)
        if h is not None:
            z = d.get(k + _HSH)
            if z is None:
                d[k + _HSH] = h
            elif z != h:
                _add_digest(d, k + _HSH, z, h)


def prune_series(d: SeriesDict) -> None:
    """Drop every entry of a bucket beyond its resolution's retention, in one pass."""
    newest = d[_NEWEST]
    keep = [(newest - ret + 1) // size for size, ret in zip(_BUCKET_US, _RETENTION_US, strict=True)]
    stale = [k for k in d if k >= 0 and (k & _LOW) - _OFFSET < keep[(k >> 32) & 7]]
    for k in stale:
        del d[k]
    left = len(d)
    d[_PRUNE_AT] = max(_PRUNE_MIN, left + left // 4 + _PRUNE_MIN)


def bucket_counts(d: SeriesDict) -> list[int]:
    """Buckets a series dict holds at each resolution, finest first."""
    counts = [0] * len(RESOLUTIONS)
    for k in d:
        if 0 <= k < _HSH:
            counts[k >> 32] += 1
    return counts


PlanSpec: TypeAlias = tuple[tuple[int, ...], tuple[int, ...], int, int, int, int, int, int, int]
"""One resolution of a read: ``(windows, lowest key of each window, key base, bucket_us,
retention_us - 1, oldest bucket, newest bucket, start of the oldest bucket, end of the newest
bucket)`` (times in µs)."""


def plan_specs(window_s: Iterable[int], as_of_us: int) -> list[PlanSpec]:
    """The resolutions of a read (as :func:`~riskops.core.state.windows.plan_windows` groups
    them) in the form the summary uses."""
    specs: list[PlanSpec] = []
    for index, windows in group_windows(window_s):
        res = RESOLUTIONS[index]
        size = res.bucket_s * 1_000_000
        base = bucket_key(index, 0)
        los = [(as_of_us - w * 1_000_000 + 1) // size for w in windows]  # == bucket_range
        hi = as_of_us // size
        oldest = los[-1]
        lo_keys = tuple(base + lo for lo in los)
        retention_less_1 = res.retention_s * 1_000_000 - 1
        specs.append(
            (
                windows,
                lo_keys,
                base,
                size,
                retention_less_1,
                oldest,
                hi,
                oldest * size,
                (hi + 1) * size,
            )
        )
    return specs


def summarize(
    d: SeriesDict, specs: Sequence[PlanSpec], as_of_us: int, out: dict[int, WindowStats]
) -> None:
    """Write into ``out`` the stats of every window of ``specs`` of series dict ``d``.

    Per resolution, the buckets from ``max(lo, keep_from)`` to ``hi`` are taken newest first;
    windows (nested, smallest first) are running totals over them. They are found in the
    sorted keys of the series dict when it is smaller than the ranges, else by looking each
    bucket of the ranges up. ``last_seen_us`` is that of the newest bucket, clamped to
    ``as_of`` (it can only exceed it when the newest bucket also holds updates later than
    ``as_of``); ``distinct`` is the size of the union of the buckets' digests.
    """
    newest = d[_NEWEST]
    ranges: list[tuple[PlanSpec, int, int]] = []
    span = 0
    for spec in specs:
        windows, _, base, size, retention_less_1, oldest, hi, oldest_us, hi_end_us = spec
        if newest < oldest_us:  # idle series: nothing this recent
            for w in windows:
                out[w] = EMPTY
            continue
        # lo = max(oldest, keep_from_bucket(newest)); hi = min(hi, newest's bucket)
        kept_from = newest - retention_less_1
        lo = oldest if kept_from < oldest_us else kept_from // size
        if newest < hi_end_us:
            hi = newest // size
        if lo > hi:
            for w in windows:
                out[w] = EMPTY
            continue
        ranges.append((spec, base + lo, base + hi))
        span += hi - lo
    if not ranges:
        return
    get = d.get
    kinds = get(_KINDS, 0)
    values, hashes = kinds & _HAS_VALUES, kinds & _HAS_HASHES
    ordered = sorted(d) if len(d) <= span else None  # meta keys first, digest keys last
    for (windows, lo_keys, *_), lo_key, hi_key in ranges:
        if ordered is not None:
            a = bisect_left(ordered, lo_key)
            keys = ordered[a : bisect_right(ordered, hi_key, a)]
        else:
            span_keys = range(lo_key, hi_key + 1)
            keys = list(compress(span_keys, map(d.__contains__, span_keys)))
        if not keys:
            for w in windows:
                out[w] = EMPTY
            continue
        newest_bucket = d[keys[-1]]  # buckets are disjoint: the newest has the last time
        last_f = newest_bucket.imag if type(newest_bucket) is complex else _unpack(newest_bucket)[1]
        last = min(int(last_f), as_of_us)
        i = len(keys) - 1
        c, s = 0.0, 0.0
        mn: float | None = None
        mx: float | None = None
        union: set[int] = set()
        stats = EMPTY
        for window_lo, w in zip(lo_keys, windows, strict=True):
            begin = i
            while i >= 0 and keys[i] >= window_lo:
                i -= 1
            if i == begin:  # no bucket beyond the previous window: the same stats
                out[w] = stats
                continue
            run = keys[i + 1 : begin + 1]
            if not values:
                c += sum(map(d.__getitem__, run)).real  # C-level: complex(count, ...) sums
            else:
                for x in map(d.__getitem__, run):
                    if type(x) is complex:
                        c += x.real
                    else:
                        bc, _, bs, low, high = _unpack(x)
                        c += bc
                        s += bs
                        if mn is None or low < mn:
                            mn = low
                        if mx is None or high > mx:
                            mx = high
            if hashes:
                _union(union, map(get, map(_HSH.__add__, run)))
            out[w] = stats = window_stats(int(c), s, mn, mx, len(union), last)


def _union(union: set[int], entries: Iterable[Any]) -> None:
    """Add the digests of distinct entries (None, packed digests, a set) as ints."""
    add = union.add
    for z in entries:
        if z is None:
            continue
        if type(z) is not bytes:
            union |= z
        elif len(z) == 8:
            add(_from_bytes(z, _BYTEORDER))
        else:
            union.update(memoryview(z).cast("Q"))


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
            if newest is None or d[_NEWEST] > newest:
                newest = d[_NEWEST]
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
        self, entity_type: str, entity_id: str, window_s: Iterable[int], as_of_us: int
    ) -> dict[str, dict[int, WindowStats]]:
        metrics = self._metrics.get((entity_type, entity_id), ())
        return self._windows(entity_type, entity_id, metrics, window_s, as_of_us)

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
        cutoff = watermark_us - _MAX_RETENTION_US
        idle = [key for key, d in self._series.items() if d[_NEWEST] <= cutoff]
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
    "bucket_bound",
    "bucket_counts",
    "bucket_key",
    "distinct_digest",
    "distinct_hash",
    "group_updates",
    "merge_series",
    "new_series",
    "plan_specs",
    "prune_series",
    "series_entry_bound",
    "summarize",
    "validate_update",
    "window_stats",
]
