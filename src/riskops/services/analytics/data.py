"""The data every analysis reads, in one DuckDB database: the tables of
:mod:`riskops.services.analytics.log_tables`, filled from the event log or, for orders alone,
from a shop's own export (Parquet or CSV) read by DuckDB through an :class:`OrderColumns` map.

Whatever the source, ``excluded`` holds the users left out of audiences and rewards by
default - block-listed accounts and labelled abusers - and ``customer_orders`` is the orders
view that analyses read: without those users' orders (unless ``include_abusers``), without
orders labelled as an attack, and with a positive amount."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import duckdb
import pyarrow as pa

from riskops.core.analytics.abuse import ABUSE_LABELS
from riskops.core.analytics.fx import rates
from riskops.services.analytics.inputs import AnalyticsInputError, LoadReport, OrderColumns
from riskops.services.analytics.log_tables import SCHEMAS, read_log
from riskops.services.analytics.order_file import load_orders
from riskops.services.log_scan import Progress
from riskops.stores.base import Store


class AnalyticsData:
    """An open DuckDB database with the analytics tables; close it when done."""

    def __init__(self, con: duckdb.DuckDBPyConnection, report: LoadReport) -> None:
        self.con = con
        self.report = report

    @classmethod
    def from_log(
        cls,
        store: Store,
        secret: bytes,
        *,
        fx: Mapping[str, object] | None = None,
        progress: Progress | None = None,
        now_us: int,
    ) -> AnalyticsData:
        tables = read_log(store, secret, rates(fx), progress)
        with store.begin() as uow:
            entries = uow.lists.all()
        blocked = [
            e.entity_id
            for e in entries
            if e.kind == "block"
            and e.entity_type == "user"
            and (e.expires_at_us is None or e.expires_at_us > now_us)
        ]
        con = _connect()
        for name, table in tables.tables().items():
            con.register(f"_{name}", table)
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM _{name}")
            con.unregister(f"_{name}")
        report = LoadReport("event log", rows=tables.events)
        report.unknown_currencies = sorted(tables.unknown_currencies)
        return cls._finish(con, report, blocked)

    @classmethod
    def from_tables(
        cls, tables: Mapping[str, pa.Table], *, blocked: list[str] | None = None
    ) -> AnalyticsData:
        """From Arrow tables named as in ``SCHEMAS`` (missing ones are created empty; columns
        are cast to the schema's types): for tests and for callers that hold data in memory."""
        con = _connect()
        for name, schema in SCHEMAS.items():
            arrow = pa.schema(list(schema.items()))
            given = tables.get(name)
            table = arrow.empty_table() if given is None else _conform(given, arrow, name)
            con.register(f"_{name}", table)
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM _{name}")
            con.unregister(f"_{name}")
        unknown = sorted(set(tables) - set(SCHEMAS))
        if unknown:
            raise AnalyticsInputError(unknown[0], "not an analytics table")
        report = LoadReport("tables", rows=sum(t.num_rows for t in tables.values()))
        return cls._finish(con, report, list(blocked or []))

    @classmethod
    def from_orders_file(
        cls,
        path: Path,
        columns: OrderColumns,
        *,
        fx: Mapping[str, object] | None = None,
        rejected_path: Path | None = None,
    ) -> AnalyticsData:
        con = _connect()
        for name, schema in SCHEMAS.items():
            con.register(f"_{name}", pa.schema(list(schema.items())).empty_table())
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM _{name}")
            con.unregister(f"_{name}")
        report = load_orders(con, path, columns, rates(fx), rejected_path)
        return cls._finish(con, report, [])

    @classmethod
    def _finish(
        cls, con: duckdb.DuckDBPyConnection, report: LoadReport, blocked: list[str]
    ) -> AnalyticsData:
        con.execute("CREATE TABLE blocked (user_id VARCHAR)")
        if blocked:
            con.executemany("INSERT INTO blocked VALUES (?)", [(u,) for u in blocked])
        kinds = sorted(ABUSE_LABELS)
        marks = ", ".join("?" for _ in kinds)
        con.execute(
            f"""CREATE TABLE excluded AS
            SELECT user_id, min(reason) AS reason FROM (
              SELECT user_id, 'blocked' AS reason FROM blocked
              UNION ALL SELECT entity_id, 'labelled ' || label FROM labels
                WHERE entity_type = 'user' AND label IN ({marks})
              UNION ALL SELECT o.user_id, 'labelled ' || l.label FROM labels l
                JOIN orders o ON l.entity_type = 'order' AND l.entity_id = o.order_id
                WHERE l.label IN ({marks})
              UNION ALL SELECT e.user_id, 'labelled ' || l.label FROM labels l
                JOIN event_users e ON l.entity_type = 'event' AND l.entity_id = e.event_id
                WHERE l.label IN ({marks})
              UNION ALL SELECT t.user_id, 'labelled ' || l.label || ' (device)' FROM labels l
                JOIN touches t ON l.entity_type = 'device' AND t.kind = 'device'
                  AND l.entity_id = t.value
                WHERE l.label IN ({marks})
            ) WHERE user_id IS NOT NULL GROUP BY user_id""",
            [*kinds, *kinds, *kinds, *kinds],
        )
        con.execute(
            """CREATE TABLE attack_orders AS SELECT DISTINCT entity_id AS order_id FROM labels
            WHERE entity_type = 'order' AND label NOT IN ('legit')"""
        )
        report.orders = _count(con, "SELECT count(*) FROM orders")
        report.customers = _count(con, "SELECT count(DISTINCT user_id) FROM orders")
        report.excluded_users = _count(con, "SELECT count(*) FROM excluded")
        return cls(con, report)

    def customer_orders(self, *, include_abusers: bool = False) -> str:
        """SQL for the orders analyses count as purchases: a user's, with a positive amount,
        not labelled as an attack, not cancelled, and (by default) not an abuser's."""
        keep_users = "" if include_abusers else "AND user_id NOT IN (SELECT user_id FROM excluded)"
        return f"""SELECT * FROM orders WHERE user_id IS NOT NULL AND amount_usd > 0
            AND order_id NOT IN (SELECT order_id FROM attack_orders)
            AND order_id NOT IN (SELECT order_id FROM order_events
                                 WHERE type = 'order.cancelled' AND order_id IS NOT NULL)
            {keep_users}"""

    def refunds_by_user(self, *, include_abusers: bool = False) -> str:
        """SQL of ``(user_id, refunded_usd)`` up to the bound timestamp parameter: refunds paid
        (``refund.issued``) or, where a user has none - an order export - the value of their
        cancellation and return lines. A refund of a counted purchase goes to that order's
        buyer; one of an order that is not a purchase (an attack's, say) is not counted; one
        naming no known order (an export's cancellation line) goes to its own user."""
        counted = self.customer_orders(include_abusers=include_abusers)
        return f"""SELECT coalesce(c.user_id, e.user_id) AS user_id,
                CASE WHEN count(*) FILTER (WHERE e.type = 'refund.issued') > 0
                THEN sum(e.amount_usd) FILTER (WHERE e.type = 'refund.issued')
                ELSE coalesce(sum(e.amount_usd) FILTER (WHERE e.type = 'return.requested'), 0)
                END AS refunded_usd
            FROM order_events e
            LEFT JOIN ({counted}) c ON c.order_id = e.order_id
            WHERE e.amount_usd > 0 AND e.ts <= ?::TIMESTAMP
              AND e.type IN ('refund.issued', 'return.requested')
              AND (c.order_id IS NOT NULL
                   OR e.order_id IS NULL OR e.order_id NOT IN (SELECT order_id FROM orders))
              AND coalesce(c.user_id, e.user_id) IS NOT NULL
            GROUP BY 1"""

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> AnalyticsData:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _connect() -> duckdb.DuckDBPyConnection:
    """Times are UTC whatever the machine's zone (a zoned timestamp in a file is converted)."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    return con


def _conform(table: pa.Table, schema: pa.Schema, name: str) -> pa.Table:
    columns = []
    for f in schema:
        if f.name in table.column_names:
            columns.append(table.column(f.name).cast(f.type))
        else:
            columns.append(pa.nulls(table.num_rows, f.type))
    extra = sorted(set(table.column_names) - set(schema.names))
    if extra:
        raise AnalyticsInputError(f"{name}.{extra[0]}", "not a column of this table")
    return pa.Table.from_arrays(columns, schema=schema)


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row else 0
