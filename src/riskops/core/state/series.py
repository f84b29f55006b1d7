"""One series of the in-memory state: its buckets and how updates merge in (pure: no I/O, clock or
randomness). Reads are in :mod:`riskops.core.state.summary`.

Layout
------
A series is one ``dict`` with ``int`` keys ``field << 35 | level << 32 | (bucket + 2**31)``
(:func:`bucket_key`; ``level`` indexes :data:`~riskops.core.state.windows.RESOLUTIONS`,
|bucket| < 2**31 for every time within ±2**53 µs):

* field 0, the aggregates: ``complex(count, last_us)``, or - once the bucket received a
  ``value`` - the five doubles ``count, last_us, sum, min, max`` packed in 40 ``bytes``;
* field 1, distinct values: one 8-byte digest, several concatenated (up to
  :data:`PACKED_HASHES`), then a ``set`` of them read as ints (up to
  :data:`MAX_DISTINCT_PER_BUCKET`);

and, under negative keys, the series' newest ``occurred_at_us``, the size at which it is rolled
up next and which fields it has (:data:`NEWEST`, :data:`_ROLL_AT`, :data:`_KINDS`).

A dict of numbers and bytes is never tracked by CPython's cyclic garbage collector, so however
many series and buckets the state holds it adds nothing to a collection (objects per bucket made
collections cost more than the updates themselves).

Roll-up: one bucket per update, not one per resolution
------------------------------------------------------
An update is written once, at the *finest* level whose retention (relative to the series'
newest update, the chunk included) still keeps it - nearly always the 5-second level. When a
series outgrows its roll-up size, one pass moves every bucket that has aged out of its level's
retention into the enclosing bucket of the next level that keeps it (merging counts, sums,
extremes, last-seen and digests), or drops it when no level keeps it.

A read for a window answered at level ``r`` therefore adds up the level-``r`` buckets *and* the
finer buckets lying inside them. The bucket widths nest (each a multiple of the finer one), so a
fine bucket lies inside exactly one level-``r`` bucket and the answer is the same as if every
level had received every update - whenever the roll-up runs. A bucket only moves up once it is
beyond its level's retention, i.e. once no read at that level may see it any more; so a level
never misses what was moved out of it. This keeps about one bucket per update in memory (five
when every level was written), and dense series collapse into the coarse levels.

Bounded memory: between merges a series holds at most :func:`series_entry_bound` entries (the
roll-up keeps only buckets within retention; the next roll-up size is a quarter more than what
is left, at least :data:`ROLL_MIN`, so its cost stays a constant per new entry).

Distinct values are 64-bit BLAKE2b digests, at most :data:`MAX_DISTINCT_PER_BUCKET` per bucket.
Past the cap a bucket still counts every update but remembers no new value, so a window
containing it reports a *lower bound* on the distinct count.
"""

from __future__ import annotations

import struct
import sys
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import fields
from itertools import islice, pairwise
from typing import Any, TypeAlias, TypeVar

from riskops.core.state.model import WindowStats
from riskops.core.state.windows import RESOLUTIONS

MAX_DISTINCT_PER_BUCKET = 4096
NEVER_US = -(2**63)
PACKED_HASHES = 64
"""Distinct digests of a bucket kept as one ``bytes`` (8 bytes each) before it becomes a set."""
ROLL_MIN = 64
"""Entries a series dict may reach before its first roll-up pass."""

_BUCKET_US = tuple(r.bucket_us for r in RESOLUTIONS)
_RETENTION_US = tuple(r.retention_us for r in RESOLUTIONS)
_LEVELS = len(RESOLUTIONS)
MIN_RETENTION_US = min(_RETENTION_US)
MAX_RETENTION_US = max(_RETENTION_US)

_OFFSET = 1 << 31  # bucket + _OFFSET >= 0 for every time within ±2**53 µs
_LOW = (1 << 32) - 1
HSH = 1 << 35  # key offset of the distinct field
_FIELDS = 2
_VALUES = struct.Struct("<ddddd")  # count, last_us, sum, min, max
_pack, _unpack = _VALUES.pack, _VALUES.unpack
_from_bytes, _BYTEORDER = int.from_bytes, sys.byteorder  # == memoryview.cast("Q") order
NEWEST, _ROLL_AT, _KINDS = -1, -2, -3  # per-series scalars
_HAS_VALUES, _HAS_HASHES = 1, 2  # bits of _KINDS
_BASE = tuple((i << 32) + _OFFSET for i in range(_LEVELS))
_B0, _K0 = _BUCKET_US[0], _BASE[0]
_RATIO = tuple(tuple(_BUCKET_US[r] // _BUCKET_US[j] for j in range(r + 1)) for r in range(_LEVELS))
"""``_RATIO[r][j]``: level-``j`` buckets per level-``r`` bucket (j <= r)."""
if HSH < _LEVELS << 32 or any(b % a for a, b in pairwise(_BUCKET_US)):
    raise AssertionError("the series layout needs nested resolutions below the digest field")

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


def bucket_key(level: int, bucket: int) -> int:
    """Key of a bucket's aggregates in a series dict (add :data:`HSH` for its digests)."""
    return (level << 32) + _OFFSET + bucket


def series_entry_bound() -> int:
    """Most entries a series dict holds after a merge: every field of every bucket within
    retention, a quarter more, the roll-up floor and the per-series scalars."""
    live = _FIELDS * sum(r.keep_buckets for r in RESOLUTIONS) + 3
    return max(ROLL_MIN, live + live // 4 + ROLL_MIN) + 1


def bucket_counts(d: SeriesDict) -> list[int]:
    """Buckets a series dict holds at each level, finest first."""
    counts = [0] * _LEVELS
    for k in d:
        if 0 <= k < HSH:
            counts[k >> 32] += 1
    return counts


# --- writing ---------------------------------------------------------------------------------


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


def _combined(a: Any, b: Any) -> Any:
    """The aggregates of two buckets together (``a`` may be None)."""
    if a is None:
        return b
    if type(a) is complex and type(b) is complex:
        return complex(a.real + b.real, max(a.imag, b.imag))
    if type(a) is complex:
        a, b = b, a
    ac, al, asum, amn, amx = _unpack(a)
    if type(b) is complex:
        return _pack(ac + b.real, max(al, b.imag), asum, amn, amx)
    bc, bl, bsum, bmn, bmx = _unpack(b)
    return _pack(ac + bc, max(al, bl), asum + bsum, min(amn, bmn), max(amx, bmx))


def _add_digest(d: SeriesDict, k: int, old: Any, h: bytes) -> None:
    """Add digest ``h`` to the distinct entry ``d[k] = old``: packed bytes, or past
    :data:`PACKED_HASHES` a set of the digests read as native-endian 64-bit ints."""
    if type(old) is bytes:
        i = old.find(h)
        while i > 0 and i & 7:  # only a match at a multiple of 8 bytes is a digest
            i = old.find(h, i + 1)
        if i >= 0:
            return
        if len(old) < 8 * PACKED_HASHES:
            d[k] = old + h
        else:
            d[k] = set(memoryview(old + h).cast("Q"))
    elif len(old) < MAX_DISTINCT_PER_BUCKET:
        old.add(_from_bytes(h, _BYTEORDER))


def _digest_ints(z: Any) -> Iterable[int]:
    return memoryview(z).cast("Q") if type(z) is bytes else z


def _merge_digests(d: SeriesDict, k: int, z: Any) -> None:
    """Union the distinct entry ``z`` (of a bucket rolled up) into ``d[k]``."""
    old = d.get(k)
    if old is None:
        d[k] = z
        return
    union = set(_digest_ints(old))
    union.update(_digest_ints(z))
    if len(union) > MAX_DISTINCT_PER_BUCKET:
        union = set(islice(union, MAX_DISTINCT_PER_BUCKET))
    d[k] = array("Q", union).tobytes() if len(union) <= PACKED_HASHES else union


def _late_key(newest: int, t: int) -> int | None:
    """Key of the finest level whose retention keeps an update at ``t``; None if none does."""
    for size, retention, base in zip(_BUCKET_US, _RETENTION_US, _BASE, strict=True):
        b = t // size
        if b >= (newest - retention + 1) // size:
            return b + base
    return None


def merge_series(d: SeriesDict, group: Group[bytes]) -> None:
    """Merge validated ``(occurred_at_us, value, digest)`` updates into series dict ``d``."""
    items: Sequence[Item[bytes]] = (group,) if type(group) is tuple else group  # type: ignore[assignment]
    get = d.get
    newest = get(NEWEST, NEVER_US)
    for item in items:
        if item[0] > newest:
            newest = item[0]
    d[NEWEST] = newest
    fast_after = newest - MIN_RETENTION_US  # later updates go to the finest level
    kinds = start_kinds = get(_KINDS, 0)
    for t, v, h in items:
        if t > fast_after:
            k = t // _B0 + _K0
        else:
            late = _late_key(newest, t)
            if late is None:
                continue  # beyond every retention
            k = late
        tf = float(t)  # exact: |t| <= 2**53
        if v is None and not kinds & _HAS_VALUES:  # counts only: count + 1, last = max
            x = get(k)
            d[k] = (
                1.0 + tf * 1j if x is None else x + 1.0 if x.imag >= tf else x.real + 1.0 + tf * 1j
            )
        else:
            kinds |= _HAS_VALUES if v is not None else 0
            d[k] = _bumped(get(k), tf, 1.0 + tf * 1j, v)
        if h is not None:
            kinds |= _HAS_HASHES
            k += HSH
            z = get(k)
            if z is None:
                d[k] = h
            elif z != h:
                _add_digest(d, k, z, h)
    if kinds != start_kinds:
        d[_KINDS] = kinds
    if len(d) > get(_ROLL_AT, ROLL_MIN):
        roll_up(d)


def new_series(t: int, v: float | None, h: bytes | None) -> SeriesDict:
    """A series dict holding one validated update (the most common merge of a chunk: a series
    seen for the first time, once). Same result as :func:`merge_series` on an empty dict."""
    tf = float(t)
    k = t // _B0 + _K0
    if v is None:
        d: SeriesDict = {NEWEST: t, k: 1.0 + tf * 1j}
        kinds = 0
    else:
        d = {NEWEST: t, k: _pack(1.0, tf, v, v, v)}
        kinds = _HAS_VALUES
    if h is not None:
        d[k + HSH] = h
        kinds |= _HAS_HASHES
    if kinds:
        d[_KINDS] = kinds
    return d


def roll_up(d: SeriesDict) -> None:
    """Move every bucket beyond its level's retention into the enclosing bucket of the next
    level that keeps it (or drop it when none does), in one pass; set the next roll-up size."""
    newest = d[NEWEST]
    keep = [(newest - ret + 1) // size for size, ret in zip(_BUCKET_US, _RETENTION_US, strict=True)]
    stale = sorted(k for k in d if 0 <= k < HSH and (k & _LOW) - _OFFSET < keep[k >> 32])
    for k in stale:  # finest level first: a moved bucket is never stale at its new level
        level = k >> 32
        b = (k & _LOW) - _OFFSET
        x = d.pop(k)
        z = d.pop(k + HSH, None)
        for up in range(level + 1, _LEVELS):
            bucket = b // (_BUCKET_US[up] // _BUCKET_US[level])
            if bucket >= keep[up]:
                target = bucket + _BASE[up]
                d[target] = _combined(d.get(target), x)
                if z is not None:
                    _merge_digests(d, target + HSH, z)
                break
    left = len(d)
    d[_ROLL_AT] = max(ROLL_MIN, left + left // 4 + ROLL_MIN)
