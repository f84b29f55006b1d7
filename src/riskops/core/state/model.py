"""Value types of the online state, shared by every backend.

A *metric* of an entity (e.g. ``orders`` of ``user:u1``) receives :class:`StateUpdate` s. Each
update always counts once and records its time as last-seen; when it carries ``value`` it also
feeds sum / min / max, and when it carries ``distinct`` it feeds the distinct count.
Windows are sliding and end at ``as_of``: an update belongs to window ``W`` at ``as_of`` when
``as_of - W < occurred_at <= as_of`` (to the granularity of the bucket resolution used for W).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StateUpdate:
    entity_type: str
    entity_id: str
    metric: str
    occurred_at_us: int  # UTC, microseconds since the Unix epoch
    value: float | None = None
    distinct: str | None = None


@dataclass(frozen=True, slots=True)
class WindowStats:
    count: int
    sum: float
    min: float | None
    max: float | None
    distinct: int
    last_seen_us: int | None  # last occurrence at or before as_of, within the retention

    @staticmethod
    def empty() -> WindowStats:
        return WindowStats(0, 0.0, None, None, 0, None)
