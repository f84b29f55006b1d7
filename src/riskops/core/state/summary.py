"""The one-pass window summary of a series dict (pure): for each level a read needs, the buckets
of that level and the finer buckets lying inside them, newest first, as running totals over
the nested windows. The layout is described in :mod:`riskops.core.state.series`."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from typing import Any, TypeAlias

from riskops.core.state.model import WindowStats
from riskops.core.state.series import (
    _BASE,
    _BYTEORDER,
    _HAS_HASHES,
    _HAS_VALUES,
    _KINDS,
    _RATIO,
    EMPTY,
    HSH,
    NEWEST,
    SeriesDict,
    _from_bytes,
    _unpack,
    window_stats,
)
from riskops.core.state.windows import RESOLUTIONS, group_windows

PlanSpec: TypeAlias = tuple[int, tuple[int, ...], tuple[int, ...], int, int, int, int, int]
"""One level of a read: ``(level, windows, oldest bucket of each window, bucket_us,
retention_us - 1, newest bucket, start of the oldest bucket, end of the newest bucket)``
(times in µs, buckets at that level)."""


def plan_specs(window_s: Iterable[int], as_of_us: int) -> list[PlanSpec]:
    """The levels of a read (as :func:`~riskops.core.state.windows.plan_windows` groups
    the windows) in the form :func:`summarize` uses."""
    specs: list[PlanSpec] = []
    for level, windows in group_windows(window_s):
        res = RESOLUTIONS[level]
        size = res.bucket_us
        los = tuple((as_of_us - w * 1_000_000 + 1) // size for w in windows)  # == bucket_range
        hi = as_of_us // size
        specs.append(
            (level, windows, los, size, res.retention_us - 1, hi, los[-1] * size, (hi + 1) * size)
        )
    return specs


def _gather(ordered: list[int], level: int, lo: int, hi: int) -> list[tuple[int, int]]:
    """``(level-bucket, key)`` of every bucket of levels 0..``level`` inside level-``level``
    buckets ``lo..hi``, oldest first."""
    found: list[tuple[int, int]] = []
    parts = 0
    for j, ratio in enumerate(_RATIO[level]):
        base = _BASE[j]
        a = bisect_left(ordered, base + lo * ratio)
        b = bisect_right(ordered, base + (hi + 1) * ratio - 1, a)
        if a == b:
            continue
        parts += 1
        if ratio == 1:
            found.extend((k - base, k) for k in ordered[a:b])
        else:
            found.extend(((k - base) // ratio, k) for k in ordered[a:b])
    if parts > 1:
        found.sort()
    return found


def summarize(
    d: SeriesDict, specs: Sequence[PlanSpec], as_of_us: int, out: dict[int, WindowStats]
) -> None:
    """Write into ``out`` the stats of every window of ``specs`` of series dict ``d``.

    Per level, the buckets from ``max(lo, kept from)`` to ``hi`` - and the finer buckets inside
    them - are taken newest first; windows (nested, smallest first) are running totals over
    them. ``last_seen_us`` is that of the newest bucket, clamped to ``as_of`` (it only exceeds
    it when the newest bucket also holds updates later than ``as_of``); ``distinct`` is the
    size of the union of the buckets' digests.
    """
    newest = d[NEWEST]
    get = d.get
    kinds = get(_KINDS, 0)
    values, hashes = kinds & _HAS_VALUES, kinds & _HAS_HASHES
    ordered: list[int] | None = None
    for level, windows, los, size, retention_less_1, hi, oldest_us, hi_end_us in specs:
        if newest < oldest_us:  # idle series: nothing this recent
            for w in windows:
                out[w] = EMPTY
            continue
        kept_from = newest - retention_less_1
        lo = los[-1] if kept_from < oldest_us else kept_from // size
        if newest < hi_end_us:
            hi = newest // size
        if ordered is None:
            ordered = sorted(k for k in d if 0 <= k < HSH)
        found = _gather(ordered, level, lo, hi) if lo <= hi else []
        if not found:
            for w in windows:
                out[w] = EMPTY
            continue
        buckets, keys = zip(*found, strict=True)  # ascending level-buckets, their keys
        if newest <= as_of_us:  # the series' newest update is in its newest bucket, found
            last = newest
        else:
            last_f = max(  # the newest bucket's parts are at the end
                float(x.imag) if type(x) is complex else float(_unpack(x)[1])
                for x in map(d.__getitem__, keys[bisect_left(buckets, buckets[-1]) :])
            )
            last = min(int(last_f), as_of_us)
        end = len(found)
        c, s = 0.0, 0.0
        mn: float | None = None
        mx: float | None = None
        union: set[int] = set()
        stats = EMPTY
        for window_lo, w in zip(los, windows, strict=True):
            start = bisect_left(buckets, window_lo, 0, end)
            if start == end:  # no bucket beyond the previous window: the same stats
                out[w] = stats
                continue
            run = keys[start:end]
            end = start
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
                _union(union, map(get, map(HSH.__add__, run)))
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
