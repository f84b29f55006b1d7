"""Counters derived on read from the ones the state stores.

Every subject entity (user, device, ip, ip24) keeps one counter per event type
(``order_placed``, ``login_failed``, ...). Its ``events`` counter - every event of any type - is
not stored separately (it would be one more state update per subject and event, about a
quarter of all updates); a read adds up the per-type counters instead. The windows of a read
are the same for every metric, so the sum is exact: the count of each window is the total of the
per-type counts and last-seen is the newest of them.
"""

from __future__ import annotations

from collections.abc import Mapping

from riskops.core.events.catalogue import CATALOGUE
from riskops.core.state.model import WindowStats

EVENTS = "events"
"""Name of the derived every-event counter."""
TYPE_COUNTERS: frozenset[str] = frozenset(name.replace(".", "_") for name in CATALOGUE)
"""The per-event-type metric names (``order.placed`` → ``order_placed``)."""


def events_total(stats: Mapping[str, Mapping[int, WindowStats]]) -> dict[int, WindowStats]:
    """The ``events`` windows of an entity from its per-type counters (``{}`` when it has none).
    A window is the sum of the per-type counts; sum / min / max / distinct stay empty."""
    per_type = [windows for metric, windows in stats.items() if metric in TYPE_COUNTERS]
    if not per_type:
        return {}
    total: dict[int, WindowStats] = {}
    for window in per_type[0]:
        count = 0
        last: int | None = None
        for windows in per_type:
            s = windows.get(window)
            if s is None:
                continue
            count += s.count
            if s.last_seen_us is not None and (last is None or s.last_seen_us > last):
                last = s.last_seen_us
        total[window] = WindowStats(count, 0.0, None, None, 0, last)
    return total


def with_derived(
    stats: Mapping[str, Mapping[int, WindowStats]],
) -> dict[str, Mapping[int, WindowStats]]:
    """``stats`` plus the derived ``events`` counter (when the entity has per-type counters)."""
    out: dict[str, Mapping[int, WindowStats]] = dict(stats)
    total = events_total(stats)
    if total:
        out[EVENTS] = total
    return out
