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
    CAMPAIGN_FEATURE_SCOPES,
    CAMPAIGN_FEATURES,
    LAST,
    LAST_WINDOW_S,
    SHARED_ENTITIES,
    VELOCITY,
    VELOCITY_ENTITIES,
    WINDOWS,
    window_suffix,
)
from riskops.core.entities.counters import EVENTS, TYPE_COUNTERS, with_derived
from riskops.core.entities.extract import CAMPAIGN_SCOPES, campaign_key, ip24_of
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
        for name in LAST:
            metric = VELOCITY[name][0]
            table[f"last.{entity}.{name}"] = (entity, metric, "ago", LAST_WINDOW_S)
    for scope in CAMPAIGN_FEATURE_SCOPES:
        entity = "campaign" if scope == "total" else f"campaign_{scope}"
        for name in CAMPAIGN_FEATURES:
            metric, stat = VELOCITY[name]
            for w in WINDOWS:
                table[f"campaign.{scope}.{name}_{window_suffix(w)}"] = (entity, metric, stat, w)
    for entity in SHARED_ENTITIES:
        for w in WINDOWS:
            table[f"graph.{entity}.distinct_users_{window_suffix(w)}"] = (
                entity,
                "users",
                "distinct",
                w,
            )
    return table


def entity_ids(
    record: Mapping[str, Any], nodes: Iterable[tuple[str, str]]
) -> dict[str, str | None]:
    """The ids of the entities an event's features are read for: its user, device, ip; the
    network, address, phone and instrument among its graph ``nodes``; its campaign, and the
    campaign-scoped keys."""
    ids: dict[str, str | None] = {
        "user": record.get("user_id"),
        "device": (record.get("device") or {}).get("fingerprint"),
        "ip": record.get("ip"),
    }
    found: dict[str, str] = {}
    for kind, node_id in nodes:
        if kind in ("ip24", "address", "phone", "instrument") and (
            kind not in found or node_id < found[kind]
        ):
            found[kind] = node_id
    for kind in ("ip24", "address", "phone", "instrument"):
        ids[kind] = found.get(kind)
    campaign = (record.get("payload") or {}).get("campaign_id")
    ids["campaign"] = campaign
    for scope in CAMPAIGN_SCOPES:
        scope_id = ids.get(scope)
        ids[f"campaign_{scope}"] = (
            campaign_key(campaign, scope_id) if campaign and scope_id else None
        )
    return ids


def event_fields(record: Mapping[str, Any], at_us: int) -> dict[str, Any]:
    """``event.*`` and the identity fields of a stored event record that occurred at
    ``at_us`` (µs since the epoch, UTC)."""
    device = record.get("device") or {}
    out: dict[str, Any] = {
        "event.type": record["type"],
        "event.market": record["market"],
        "event.hour": (at_us // 3_600_000_000) % 24,
        "event.time": at_us // 1_000_000,
        "user.id": record.get("user_id"),
        "device.fingerprint": device.get("fingerprint"),
        "device.lat": device.get("lat"),
        "device.lon": device.get("lon"),
        "device.emulator": device.get("emulator"),
        "device.model": device.get("model"),
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
    paths: Iterable[str],
    entity_ids: Mapping[str, str | None],
    windows_of: WindowsOf,
    at_us: int = 0,
) -> dict[str, Any]:
    """The velocity / sharing / last-seen features among ``paths`` (others are ignored), for
    an event at ``at_us``. An entity the event does not carry (no device, say) gives None: a
    rule using it fails, and the checkpoint's fail mode applies."""
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
        if EVENTS in names:  # derived from every per-type counter (not the distinct sets)
            names = (names - {EVENTS}) | TYPE_COUNTERS
        metrics = tuple(sorted(names))
        stats = with_derived(windows_of(entity, entity_id, windows, metrics))
        for path, (_, metric, stat, w) in features:
            found = stats.get(metric, {}).get(w)
            if stat == "ago":  # seconds since the latest one; None when there was none
                last = found.last_seen_us if found is not None and found.count else None
                out[path] = None if last is None else (at_us - last) // 1_000_000
            else:
                out[path] = _stat(found, stat)
    return out
