"""The values of a decision's context: the event's own fields, and the velocity and sharing
features the rules ask for (pure: the online state is read through a function passed in).

Only the features that the active rules reference are computed, and each entity's windows are
read once for all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any

from riskops.core.decisions.schema import (
    SHARED_ENTITIES,
    VELOCITY,
    VELOCITY_ENTITIES,
    WINDOWS,
    window_suffix,
)
from riskops.core.entities.counters import EVENTS, with_derived
from riskops.core.entities.extract import ip24_of
from riskops.core.state.model import WindowStats

WindowsOf = Callable[
    [str, str, tuple[int, ...], tuple[str, ...] | None], Mapping[str, Mapping[int, WindowStats]]
]
"""``(entity_type, entity_id, windows, metrics or None for all) -> {metric: {window_s: stats}}``
(the online state)."""
Feature = tuple[str, str, str, int]
"""(entity type, state metric, statistic, window_s)"""


@lru_cache(maxsize=1)
def feature_table() -> dict[str, Feature]:
    """Every velocity / sharing feature path and what it reads."""
    table: dict[str, Feature] = {}
    for entity in VELOCITY_ENTITIES:
        for name, (metric, stat) in VELOCITY.items():
            for w in WINDOWS:
                table[f"velocity.{entity}.{name}_{window_suffix(w)}"] = (entity, metric, stat, w)
    for entity in SHARED_ENTITIES:
        for w in WINDOWS:
            table[f"graph.{entity}.distinct_users_{window_suffix(w)}"] = (
                entity,
                "users",
                "distinct",
                w,
            )
    return table


def event_fields(record: Mapping[str, Any], occurred_hour: int) -> dict[str, Any]:
    """``event.*`` and the identity fields of a stored event record."""
    out: dict[str, Any] = {
        "event.type": record["type"],
        "event.market": record["market"],
        "event.hour": occurred_hour,
        "user.id": record.get("user_id"),
        "device.fingerprint": (record.get("device") or {}).get("fingerprint"),
        "ip.address": record.get("ip"),
        "ip.prefix": ip24_of(record["ip"]) if record.get("ip") else None,
    }
    for name, value in (record.get("payload") or {}).items():
        if isinstance(value, dict):
            for sub, inner in value.items():
                if not isinstance(inner, dict | list):
                    out[f"event.{name}.{sub}"] = inner
        elif isinstance(value, list):
            if all(isinstance(v, str) for v in value):
                out[f"event.{name}"] = value
            else:
                out[f"event.{name}_count"] = len(value)
        else:
            out[f"event.{name}"] = value
    return out


def _stat(stats: WindowStats | None, stat: str) -> int | float:
    if stats is None:
        return 0.0 if stat == "sum" else 0
    if stat == "sum":
        return stats.sum
    return stats.distinct if stat == "distinct" else stats.count


def state_features(
    paths: Iterable[str], entity_ids: Mapping[str, str | None], windows_of: WindowsOf
) -> dict[str, Any]:
    """The velocity / sharing features among ``paths`` (others are ignored). An entity the
    event does not carry (no device, say) gives None: a rule using it fails, and the
    checkpoint's fail mode applies."""
    table = feature_table()
    wanted: dict[str, list[tuple[str, Feature]]] = {}
    for path in paths:
        feature = table.get(path)
        if feature is not None:
            wanted.setdefault(feature[0], []).append((path, feature))
    out: dict[str, Any] = {}
    for entity, features in wanted.items():
        entity_id = entity_ids.get(entity)
        if not entity_id:
            out.update((path, None) for path, _ in features)
            continue
        windows = tuple(sorted({f[3] for _, f in features}))
        names = {f[1] for _, f in features}
        metrics = None if EVENTS in names else tuple(sorted(names))  # events: every type's
        stats = with_derived(windows_of(entity, entity_id, windows, metrics))
        for path, (_, metric, stat, w) in features:
            out[path] = _stat(stats.get(metric, {}).get(w), stat)
    return out
