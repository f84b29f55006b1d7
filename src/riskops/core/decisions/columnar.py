"""Backtests in columns (pure SQL text for DuckDB): point-in-time features for every event at
once, with window functions over the event table, and every rule of two rulesets as one
boolean column each.

The event table ``ev`` has one row per logged event: ``seq``, ``event_id``, ``type``, ``ts``
(occurred at, µs), ``market``, ``user_id``, ``device``, ``ip``, ``ip24``, ``address``,
``instrument`` and ``value`` (the amount a sum feature adds up). A feature of an event is read
over the rows of the same entity with ``ts`` in ``[ts - window, ts - 1]``: exactly the window
the decision API reads (the state as of one microsecond before the event), never the event
itself nor anything later. The live state answers from buckets (of 5 s to 1 day, by window), so
at a window's far edge it may count up to one bucket of older events that this exact window
leaves out.

A rule's column is NULL where its closure would fail at run time (an entity the event does not
carry, a division by zero): :mod:`riskops.core.rules.sql`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from riskops.core.decisions.features import feature_table
from riskops.core.decisions.ruleset import CompiledRule
from riskops.core.decisions.schema import blocked_users_entity
from riskops.core.entities.counters import EVENTS
from riskops.core.entities.extract import CAMPAIGN_SCOPES
from riskops.core.rules.sql import compile_sql, quote_ident

ENTITY_COLUMNS: dict[str, str] = {
    "user": "user_id",
    "device": "device",
    "ip": "ip",
    "ip24": "ip24",
    "address": "address",
    "phone": "phone",
    "instrument": "instrument",
    "campaign": "campaign",
}
"""The ``ev`` column that holds each entity type's id."""
for _scope in CAMPAIGN_SCOPES:  # campaign-scoped counters: keyed by the campaign and the entity
    ENTITY_COLUMNS[f"campaign_{_scope}"] = f"campaign, {ENTITY_COLUMNS[_scope]}"

_DISTINCT_OF: dict[str, str] = {
    "devices": "device",
    "ips": "ip",
    "addresses": "address",
    "instruments": "instrument",
    "users": "user_id",
}
_KEPT: dict[str, frozenset[str]] = {
    # the distinct metrics the online state keeps per entity type (see entities.extract)
    "user": frozenset({"devices", "ips", "addresses", "instruments"}),
    "device": frozenset({"ips", "users"}),
    "ip": frozenset({"devices", "users"}),
    "ip24": frozenset({"users"}),
    "address": frozenset({"users"}),
    "instrument": frozenset({"users"}),
}


def feature_sql(path: str, types_of_metric: Mapping[str, Sequence[str]]) -> str:
    """The window aggregate of one velocity / sharing feature over ``ev`` (KeyError: not a
    feature). ``types_of_metric``: the event types counted by each per-type metric."""
    entity, metric, stat, window_s = feature_table()[path]
    column = ENTITY_COLUMNS[entity]
    missing = " OR ".join(f"{c} IS NULL" for c in column.split(", "))
    frame = (
        f"OVER (PARTITION BY {column} ORDER BY ts "
        f"RANGE BETWEEN {window_s * 1_000_000} PRECEDING AND 1 PRECEDING)"
    )
    if stat == "ago":  # seconds since the latest such event; NULL when there was none
        if metric == EVENTS:
            latest = f"MAX(ts) {frame}"
        else:
            types = ", ".join(_quote(t) for t in types_of_metric.get(metric, ()))
            latest = f"MAX(ts) FILTER (WHERE type IN ({types or 'NULL'})) {frame}"
        value = f"(ts - {latest}) // 1000000"
    elif stat == "distinct":
        if metric in _KEPT.get(entity, frozenset()):
            value = f"COUNT(DISTINCT {_DISTINCT_OF[metric]}) {frame}"
        else:  # the state keeps no such set for this entity: always empty
            value = "CAST(0 AS BIGINT)"
    elif metric == EVENTS:
        value = f"COUNT(*) {frame}"
    else:
        types = ", ".join(_quote(t) for t in types_of_metric.get(metric, ()))
        where = f"type IN ({types})" if types else "FALSE"
        if stat == "sum":
            value = f"COALESCE(SUM(value) FILTER (WHERE {where}) {frame}, CAST(0 AS DOUBLE))"
        else:
            value = f"COUNT(*) FILTER (WHERE {where}) {frame}"
    return f"CASE WHEN {missing} THEN NULL ELSE {value} END"


def blocked_users_sql(path: str) -> str:
    """``graph.<entity>.blocked_users``: distinct accounts seen with the event's entity before
    it whose ``user_blocked`` column is true (KeyError: not such a path)."""
    entity = blocked_users_entity(path)
    if entity is None:
        raise KeyError(path)
    column = ENTITY_COLUMNS[entity]
    value = (
        f"COUNT(DISTINCT user_id) FILTER (WHERE user_blocked) OVER (PARTITION BY {column} "
        "ORDER BY ts RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)"
    )
    return f"CASE WHEN {column} IS NULL THEN NULL ELSE {value} END"


def features_query(
    paths: Iterable[str], types_of_metric: Mapping[str, Sequence[str]], source: str = "ev"
) -> str:
    """``SELECT seq, <feature> AS "<path>", … FROM <source>``, for the feature paths among
    ``paths`` (the others are event fields, loaded as columns). ``graph.*.blocked_users``
    needs a boolean ``user_blocked`` column in ``source``."""
    table = feature_table()
    columns = []
    for p in sorted(set(paths)):
        if p in table:
            columns.append(f"{feature_sql(p, types_of_metric)} AS {quote_ident(p)}")
        elif blocked_users_entity(p):
            columns.append(f"{blocked_users_sql(p)} AS {quote_ident(p)}")
    return "SELECT seq" + "".join(f", {c}" for c in columns) + f" FROM {source}"


def in_list_sql(name: str, value: str) -> str:
    """``in_list(name, value)`` against the ``lists`` table (``name``, ``value``,
    ``expires`` µs or NULL), as of the event's time: entries expire as they do live."""
    return (
        f"(CASE WHEN {value} IS NULL OR {name} IS NULL THEN NULL ELSE EXISTS (SELECT 1 FROM "
        f"lists l WHERE l.name = {name} AND l.value = CAST({value} AS VARCHAR) AND "
        f"(l.expires IS NULL OR l.expires > ts)) END)"
    )


def rule_sql(
    compiled: CompiledRule, schema: Mapping[str, str], allowed_columns: Mapping[str, str]
) -> str:
    """The rule's hit as SQL: TRUE, FALSE, or NULL for a run-time error. A rule that an
    allow-listed entity of the event may skip is FALSE on that event's row.
    ``allowed_columns``: entity type → boolean column "this event's entity is allow-listed"."""
    rule = compiled.rule
    body = compile_sql(compiled.expr, schema, in_list_sql)
    skips = [allowed_columns[t] for t in rule.skip_if_allowed if t in allowed_columns]
    if not skips:
        return f"CAST({body} AS BOOLEAN)"
    allowed = " OR ".join(skips)
    return f"(CASE WHEN {allowed} THEN FALSE ELSE CAST({body} AS BOOLEAN) END)"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
