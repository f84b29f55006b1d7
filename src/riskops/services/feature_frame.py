"""Point-in-time training data: one row per checkpoint event with its decision-context
features as of just before it, and the labels that arrived for it at any time later.

The features are those of the columnar backtest (:mod:`riskops.core.decisions.columnar`): each
window reads the rows of the same entity with times in ``[ts - window, ts - 1 µs]``, exactly
what the decision API reads from the online state - never the event itself, never anything
later. Event fields (``event.amount``, ``device.emulator`` …) are the event's own, as the
decision context holds them.

A label column ``label_<kind>`` per label kind of the catalogue is 1 when a label of that kind
(a ``label.reported`` event, a chargeback - ``fraud`` - or a COD refusal - ``cod_refusal``)
names the event, its order, its user or its device, whenever it arrived; else 0. A label of
a kind whose account is the victim (``account_takeover``) counts only on the event or order it
names, never on the owner's other events.

The log setup mirrors ``BacktestService._decide`` (read once, Arrow tables into DuckDB, the
features query); lists are not read: ``graph.*.blocked_users`` is not point-in-time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import get_args

import duckdb
import pyarrow as pa

from riskops.core.decisions.columnar import features_query
from riskops.core.decisions.features import feature_table
from riskops.core.decisions.schema import CHECKPOINTS, blocked_users_entity, context_schema
from riskops.core.entities.extract import metric_name
from riskops.core.events.catalogue import CATALOGUE, LabelKind
from riskops.core.rules.sql import quote_ident
from riskops.services.analytics.inputs import AnalyticsInputError
from riskops.services.backtest_load import Request, arrow_tables, load, needed_entities
from riskops.services.log_scan import Progress
from riskops.stores.base import Store

LABEL_KINDS: tuple[str, ...] = (*get_args(LabelKind), "returned")
"""Every label kind of the catalogue, in its order, then ``returned``: an order the buyer asked
to return (a ``return.requested`` event) - an outcome to predict, not abuse."""
BASE_COLUMNS: tuple[str, ...] = (
    "event_id",
    "seq",
    "ts",
    "event_type",
    "market",
    "user_id",
    "payment_method",
    "amount",
)
"""The columns of every frame before its feature paths (``ts``: TIMESTAMP, UTC, µs)."""


VICTIM_KINDS = frozenset({"account_takeover"})
"""Label kinds whose user is a victim, not the culprit."""


def label_column(kind: str) -> str:
    """The frame's column of a label kind."""
    return f"label_{kind}"


@dataclass(frozen=True, slots=True)
class FeatureFrame:
    checkpoint: str
    paths: tuple[str, ...]
    table: pa.Table
    """``BASE_COLUMNS``, one column per path (named by it), then ``label_<kind>`` per kind;
    rows in time order (then log order). A feature is NULL where the event lacks the entity
    it is read for (no device, say) or the field."""

    @property
    def rows(self) -> int:
        return int(self.table.num_rows)


def feature_frame(
    store: Store,
    secret: bytes,
    checkpoint: str,
    paths: Sequence[str],
    *,
    since_us: int | None = None,
    until_us: int | None = None,
    event_types: Iterable[str] | None = None,
    progress: Progress | None = None,
    labels_until_us: int | None = None,
) -> FeatureFrame:
    """The frame of the checkpoint's events that occurred in ``[since_us, until_us)`` (µs;
    None: unbounded), with the features ``paths`` (context paths of the checkpoint).
    ``event_types``: only these of the checkpoint's event types. AnalyticsInputError on an
    unknown checkpoint, path or event type, or a path that is not point-in-time.
    ``labels_until_us``: only labels that arrived before it (None: whenever they arrived)."""
    with duckdb.connect() as con:
        frame_into(
            con,
            store,
            secret,
            checkpoint,
            paths,
            since_us=since_us,
            until_us=until_us,
            event_types=event_types,
            progress=progress,
            labels_until_us=labels_until_us,
        )
        table = con.sql("SELECT * FROM frame ORDER BY ts, seq").to_arrow_table()
    return FeatureFrame(checkpoint, tuple(paths), table)


def frame_into(
    con: duckdb.DuckDBPyConnection,
    store: Store,
    secret: bytes,
    checkpoint: str,
    paths: Sequence[str],
    *,
    since_us: int | None = None,
    until_us: int | None = None,
    event_types: Iterable[str] | None = None,
    progress: Progress | None = None,
    labels_until_us: int | None = None,
) -> None:
    """Leave the frame in ``con`` as table ``frame`` (and its inputs ``ev``, ``cp``, ``keys``,
    ``labels``); the arguments are those of :func:`feature_frame`."""
    types = _event_types(checkpoint, event_types)
    schema = context_schema(checkpoint)
    features = feature_table()
    _check_paths(checkpoint, paths, schema)
    if since_us is not None and until_us is not None and until_us <= since_us:
        raise AnalyticsInputError("until_us", "must be later than since_us")
    windows = [features[p][3] for p in paths if p in features]
    addresses, instruments, phones = needed_entities(paths)
    req = Request(
        types=types,
        event_fields={p: schema[p] for p in paths if p not in features},
        since_us=since_us,
        until_us=until_us,
        history_us=max(windows, default=0) * 1_000_000,
        addresses=addresses,
        instruments=instruments,
        phones=phones,
        labels_until_us=labels_until_us,
        outcomes=True,
    )
    cols = load(store, secret, req, progress)
    for name, table in arrow_tables(cols, req.event_fields).items():
        con.register(f"{name}_arrow", table)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM {name}_arrow")
        con.unregister(f"{name}_arrow")
    types_of: dict[str, list[str]] = {}
    for event_type in CATALOGUE:
        types_of.setdefault(metric_name(event_type), []).append(event_type)
    picked = [
        f"{'f' if p in features else 'cp'}.{quote_ident(p)} AS {quote_ident(p)}" for p in paths
    ]
    # a victim kind (account takeover) marks only the events and orders it names: through
    # the user or the device it would mark the owner's own earlier, innocent events too
    flags = [
        f"COALESCE(MAX(CASE WHEN l.kind = '{k}'"
        + (" AND k.key_type IN ('event', 'order')" if k in VICTIM_KINDS else "")
        + f" THEN 1 END), 0) AS {label_column(k)}"
        for k in LABEL_KINDS
    ]
    found = ", ".join(
        f"COALESCE(lab.{label_column(k)}, 0) AS {label_column(k)}" for k in LABEL_KINDS
    )
    con.execute(
        "CREATE TABLE frame AS SELECT ev.event_id, cp.seq, make_timestamp(ev.ts) AS ts, "
        "ev.type AS event_type, cp.market, ev.user_id, cp.payment_method, cp.amount"
        + "".join(f", {c}" for c in picked)
        + f", {found} FROM cp JOIN ev USING (seq) "
        f"JOIN ({features_query(paths, types_of)}) f USING (seq) "
        "LEFT JOIN (SELECT k.seq, " + ", ".join(flags) + " FROM keys k "
        "JOIN labels l USING (key_type, key_id) GROUP BY k.seq) lab USING (seq)"
    )


def _event_types(checkpoint: str, event_types: Iterable[str] | None) -> frozenset[str]:
    if checkpoint not in CHECKPOINTS:
        raise AnalyticsInputError("checkpoint", f"unknown (use {', '.join(CHECKPOINTS)})")
    allowed = CHECKPOINTS[checkpoint].event_types
    if event_types is None:
        return frozenset(allowed)
    chosen = frozenset(event_types)
    for t in sorted(chosen):
        if t not in allowed:
            raise AnalyticsInputError(
                "event_types", f"{t} is not an event type of the {checkpoint} checkpoint"
            )
    if not chosen:
        raise AnalyticsInputError("event_types", "empty: give at least one event type")
    return chosen


def _check_paths(checkpoint: str, paths: Sequence[str], schema: dict[str, str]) -> None:
    if not paths:
        raise AnalyticsInputError("paths", "empty: give at least one feature path")
    seen: set[str] = set()
    for p in paths:
        if p in seen:
            raise AnalyticsInputError(p, "repeated")
        seen.add(p)
        if p not in schema:
            raise AnalyticsInputError(p, f"not a field of the {checkpoint} checkpoint's context")
        if blocked_users_entity(p):
            raise AnalyticsInputError(p, "not point-in-time (reads today's block lists)")
        if p in BASE_COLUMNS or p.startswith("label_"):
            raise AnalyticsInputError(p, "clashes with a frame column")
