"""Sliding windows over multi-resolution time buckets (pure: no I/O, clock or randomness).

Resolutions
-----------
Every (entity, metric) series is kept at several bucket resolutions at once (:data:`RESOLUTIONS`):

=========  ====================  =======================
bucket     retention             serves windows up to
=========  ====================  =======================
5 s        16 min                15 min 55 s
60 s       6 h 5 min             6 h 4 min
600 s      2 days + 1 h          48 h 50 min
3600 s     8 days                7 days 23 h
86400 s    91 days               90 days
=========  ====================  =======================

Bucket ``b`` of a resolution of ``R`` seconds holds the updates with
``b * R * 1_000_000 <= occurred_at_us < (b + 1) * R * 1_000_000``, i.e. ``b = t_us // R_us``.
A window of ``W`` seconds uses the *finest* resolution whose retention covers ``W`` plus one
bucket (:func:`resolution_for`).

Window membership and edge granularity
--------------------------------------
A window ``W`` at ``as_of`` is the interval ``(as_of - W, as_of]``. It is answered by every
bucket whose interval intersects it: ``lo <= b <= hi`` with ``lo = (as_of - W + 1) // R_us`` and
``hi = as_of // R_us`` (:func:`bucket_range`). Hence, with ``R`` the resolution's bucket:

* every update with ``as_of - W < t <= as_of`` is counted (nothing inside the window is lost);
* at the old edge, updates with ``as_of - W - R_us + 1 < t <= as_of - W`` *may* also be counted
  (those sharing bucket ``lo``): the old edge is early by at most one bucket minus 1 µs, and an
  update at or before ``as_of - W - R_us + 1`` is never counted;
* at the new edge, updates later than ``as_of`` that share bucket ``hi`` are counted too - this
  only happens when the state already holds updates newer than ``as_of`` (reading the past);
* the answer is exact when ``as_of + 1 µs`` and ``W`` are multiples of ``R`` (the window is then
  a union of whole buckets), e.g. for every standard window when ``as_of`` is the last
  microsecond of a UTC day.

Statistics of a window
----------------------
``count`` counts every update of the window's buckets; ``sum`` / ``min`` / ``max`` cover those that
carried a ``value`` (0.0 / None / None without any); ``distinct`` is the number of different
``distinct`` values among them (see each backend for its precision); ``last_seen_us`` is the
newest ``occurred_at`` among them, clamped to ``as_of``. An empty window is
:meth:`~riskops.core.state.model.WindowStats.empty`.

Retention
---------
Each resolution keeps, per series, the buckets intersecting ``(newest - retention, newest]``
where ``newest`` is the latest ``occurred_at`` the series has ever received
(:func:`keep_from_bucket`). Reads ignore older buckets and writes skip them, *for that
resolution only*: an update 20 min older than the series' newest is not in the 5 s buckets but is
in every coarser one. Since ``retention >= W + R``, a read at ``as_of >= newest`` never loses data.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

MIN_WINDOW_S = 60
MAX_WINDOW_S = 90 * 86_400
_US = 1_000_000


@dataclass(frozen=True, slots=True)
class Resolution:
    """A bucket width and how long (relative to a series' newest update) its buckets are kept."""

    bucket_s: int
    retention_s: int

    @property
    def bucket_us(self) -> int:
        return self.bucket_s * _US

    @property
    def retention_us(self) -> int:
        return self.retention_s * _US

    @property
    def keep_buckets(self) -> int:
        """Most buckets that can intersect the retention interval: ``ceil(ret / R) + 1``."""
        return -(-self.retention_s // self.bucket_s) + 1

    @property
    def max_window_s(self) -> int:
        """Largest window this resolution serves (its retention minus one bucket)."""
        return self.retention_s - self.bucket_s


RESOLUTIONS: tuple[Resolution, ...] = (
    Resolution(5, 16 * 60),
    Resolution(60, 6 * 3600 + 5 * 60),
    Resolution(600, 2 * 86_400 + 3600),
    Resolution(3600, 8 * 86_400),
    Resolution(86_400, 91 * 86_400),
)
"""From finest to coarsest. Redis stores every update at each of these; the in-process store
writes it once, at the finest that keeps it, and rolls aged buckets up (see ``series.py``)."""

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
_WINDOW_RE = re.compile(r"([1-9][0-9]{0,8})([smhd])")

STANDARD_WINDOWS: tuple[int, ...] = (60, 300, 3600, 86_400, 7 * 86_400, 30 * 86_400, 90 * 86_400)
"""1m, 5m, 1h, 24h, 7d, 30d, 90d in seconds."""


def validate_window(window_s: int) -> int:
    """Return ``window_s`` if it is an int of seconds within [60 s, 90 days]; else ValueError."""
    if isinstance(window_s, bool) or not isinstance(window_s, int):
        raise ValueError(f"window_s must be an int of seconds, got {window_s!r}")
    if not MIN_WINDOW_S <= window_s <= MAX_WINDOW_S:
        raise ValueError(
            f"window_s must be between {MIN_WINDOW_S} s (1m) and {MAX_WINDOW_S} s (90d), "
            f"got {window_s}"
        )
    return window_s


def parse_window(text: str) -> int:
    """``"24h"`` -> 86400. A positive integer and one unit of s, m, h, d; 60 s .. 90 days."""
    match = _WINDOW_RE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(
            f"invalid window {text!r}: expected a positive integer and a unit s, m, h or d "
            "(e.g. '5m', '24h', '7d')"
        )
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if not MIN_WINDOW_S <= seconds <= MAX_WINDOW_S:
        raise ValueError(f"invalid window {text!r}: must be between 1m and 90d")
    return seconds


def format_window(window_s: int) -> str:
    """Inverse of :func:`parse_window`: 60 -> "1m", 86400 -> "24h", 604800 -> "7d".

    Days are used from two days on, so the usual names come out ("24h", not "1d").
    """
    if isinstance(window_s, bool) or not isinstance(window_s, int) or window_s <= 0:
        raise ValueError(f"window_s must be a positive int of seconds, got {window_s!r}")
    if window_s % 86_400 == 0 and window_s >= 2 * 86_400:
        return f"{window_s // 86_400}d"
    for unit, size in (("h", 3600), ("m", 60)):
        if window_s % size == 0:
            return f"{window_s // size}{unit}"
    return f"{window_s}s"


def resolution_index(window_s: int) -> int:
    """Index in :data:`RESOLUTIONS` of the finest resolution covering ``window_s`` + one bucket."""
    validate_window(window_s)
    for index, res in enumerate(RESOLUTIONS):
        if window_s + res.bucket_s <= res.retention_s:
            return index
    raise AssertionError("RESOLUTIONS must cover MAX_WINDOW_S")  # pragma: no cover


def resolution_for(window_s: int) -> Resolution:
    """The resolution a window of ``window_s`` seconds is answered from."""
    return RESOLUTIONS[resolution_index(window_s)]


def bucket_of(occurred_at_us: int, res: Resolution) -> int:
    return occurred_at_us // res.bucket_us


def bucket_range(window_s: int, as_of_us: int, res: Resolution) -> tuple[int, int]:
    """``(lo, hi)`` inclusive: the buckets intersecting ``(as_of - W, as_of]``."""
    return (as_of_us - window_s * _US + 1) // res.bucket_us, as_of_us // res.bucket_us


def keep_from_bucket(newest_us: int, res: Resolution) -> int:
    """Oldest bucket kept for a series whose newest update is at ``newest_us``.

    The kept buckets are those intersecting ``(newest - retention, newest]``; an update is
    stored at ``res`` only if its bucket is ``>= keep_from_bucket(newest, res)`` where ``newest``
    already includes the update itself.
    """
    return (newest_us - res.retention_us + 1) // res.bucket_us


@dataclass(frozen=True, slots=True)
class ResolutionPlan:
    """The windows of one read that share a resolution, answered in one pass over its buckets.

    ``windows`` are sorted ascending, so ``los`` (the oldest bucket of each) is non-increasing and
    every window's buckets contain the previous window's.
    """

    index: int
    resolution: Resolution
    hi: int
    windows: tuple[int, ...]
    los: tuple[int, ...]


def plan_windows(window_s: Iterable[int], as_of_us: int) -> tuple[ResolutionPlan, ...]:
    """Group the (validated, de-duplicated) windows by resolution, finest first."""
    plans = []
    for index, ws in group_windows(window_s):
        res = RESOLUTIONS[index]
        size = res.bucket_s * _US
        los = tuple((as_of_us - w * _US + 1) // size for w in ws)  # == bucket_range()[0]
        plans.append(ResolutionPlan(index, res, as_of_us // size, ws, los))
    return tuple(plans)


def group_windows(window_s: Iterable[int]) -> tuple[tuple[int, tuple[int, ...]], ...]:
    """``((resolution index, sorted windows), ...)``, finest first; validates every window.
    The usual few window sets are grouped once (cached)."""
    windows = tuple(window_s)
    if all(type(w) is int for w in windows):
        return _group_windows(windows)
    return _group_windows.__wrapped__(windows)  # not cached: validation names the bad one


@lru_cache(maxsize=256)
def _group_windows(windows: tuple[int, ...]) -> tuple[tuple[int, tuple[int, ...]], ...]:
    by_res: dict[int, list[int]] = {}
    for w in set(windows):
        by_res.setdefault(resolution_index(w), []).append(w)
    return tuple((index, tuple(sorted(by_res[index]))) for index in sorted(by_res))
