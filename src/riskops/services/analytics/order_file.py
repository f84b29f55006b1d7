"""A shop's order export (Parquet or CSV) into the ``orders`` table, by DuckDB alone.

Each line is checked and sorted into one of: a purchase line (summed into its order), a
cancellation or return (counted in ``order_events`` as ``return.requested``, never a purchase),
a zero-amount line (set aside and counted) or a rejected line - no customer id, a time or amount
that does not parse, an unknown currency - written with its reason to the rejected-rows file."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import duckdb

from riskops.services.analytics.inputs import AnalyticsInputError, LoadReport, OrderColumns

_READERS = {".parquet": "read_parquet", ".csv": "read_csv", ".tsv": "read_csv"}


def _reader(path: Path) -> str:
    if not path.exists():
        raise AnalyticsInputError("file", f"{path} does not exist")
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise AnalyticsInputError("file", f"{path.name}: use a .parquet or .csv file")
    return reader


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def load_orders(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    cols: OrderColumns,
    per_usd: Mapping[str, float],
    rejected_path: Path | None,
) -> LoadReport:
    reader = _reader(path)
    # a view, not a copy: the file is scanned where it is needed (half the memory at 10M rows)
    source = f"{reader}('{_sql_path(path)}')"
    try:
        numbered = f"SELECT row_number() OVER () AS _line, * FROM {source}"
        con.execute(f"CREATE TEMP VIEW raw AS {numbered}")
        types = {str(r[0]): str(r[1]) for r in con.execute("DESCRIBE raw").fetchall()}
    except duckdb.Error as exc:
        raise AnalyticsInputError("file", f"{path.name} cannot be read: {exc}") from None
    roles = {
        role: getattr(cols, role)
        for role in (
            "customer_id",
            "ordered_at",
            "amount",
            "quantity",
            "unit_price",
            "order_id",
            "currency",
            "market",
            "channel",
        )
        if getattr(cols, role) is not None
    }
    for role, column in roles.items():
        if column not in types:
            have = ", ".join(c for c in types if c != "_line")
            raise AnalyticsInputError(
                role, f"column {column!r} is not in the file (it has: {have})"
            )
    con.execute("CREATE TEMP TABLE fx (currency VARCHAR, per_usd DOUBLE)")
    con.executemany("INSERT INTO fx VALUES (?, ?)", list(per_usd.items()))
    try:
        con.execute(_lines_sql(cols, types), [cols.default_currency])
    except duckdb.Error as exc:
        raise AnalyticsInputError("file", f"{path.name} cannot be read: {exc}") from None
    report = LoadReport(f"{path.name}", rows=_one(con, "SELECT count(*) FROM raw"))
    for reason, n in con.execute(
        "SELECT reason, count(*) FROM lines WHERE reason <> 'purchase' GROUP BY 1 ORDER BY 1"
    ).fetchall():
        report.set_aside[str(reason)] = int(n)
    rejected = _one(con, "SELECT count(*) FROM lines WHERE reason LIKE 'rejected:%'")
    if rejected and rejected_path is not None:
        con.execute(
            "COPY (SELECT l.reason, r.* FROM lines l JOIN raw r USING (_line) "
            "WHERE l.reason LIKE 'rejected:%' ORDER BY _line) TO "
            f"'{_sql_path(rejected_path)}' (HEADER, DELIMITER ',')"
        )
        report.rejected_path = rejected_path
    con.execute(
        """INSERT INTO orders (order_id, user_id, ts, amount, currency, amount_usd, market, items,
                               coupon)
        SELECT order_id, any_value(customer_id), min(ts), sum(amount), any_value(currency),
               sum(amount) / any_value(per_usd), any_value(market), sum(qty)::BIGINT, false
        FROM lines WHERE reason = 'purchase' GROUP BY order_id"""
    )
    con.execute(
        """INSERT INTO order_events (order_id, user_id, type, ts, amount_usd)
        SELECT order_id, customer_id, 'return.requested', ts, -amount / per_usd
        FROM lines WHERE reason = 'cancellation or return'"""
    )
    con.execute(
        """INSERT INTO users (user_id, registered_at, channel, market)
        SELECT customer_id, min(ts), arg_min(channel, ts), arg_min(market, ts)
        FROM lines WHERE reason = 'purchase' GROUP BY customer_id"""
    )
    con.execute("DROP TABLE lines")
    con.execute("DROP VIEW raw")
    return report


def _lines_sql(cols: OrderColumns, types: Mapping[str, str]) -> str:
    def col(role: str) -> str:
        return _quote(str(getattr(cols, role)))

    customer = col("customer_id")
    if types[str(cols.customer_id)] in ("DOUBLE", "FLOAT", "DECIMAL"):
        # exports often write ids as 17850.0: the id is the integer
        customer = f"CAST(TRY_CAST({customer} AS BIGINT) AS VARCHAR)"
    else:
        customer = f"NULLIF(TRIM(CAST({customer} AS VARCHAR)), '')"
    if cols.date_format:
        fmt = cols.date_format.replace("'", "''")
        at = f"TRY_STRPTIME(CAST({col('ordered_at')} AS VARCHAR), '{fmt}')"
    else:
        at = f"TRY_CAST({col('ordered_at')} AS TIMESTAMP)"
    qty = f"TRY_CAST({col('quantity')} AS DOUBLE)" if cols.quantity else "1.0"
    if cols.amount:
        amount = f"TRY_CAST({col('amount')} AS DOUBLE)"
    else:
        amount = f"TRY_CAST({col('quantity')} AS DOUBLE) * TRY_CAST({col('unit_price')} AS DOUBLE)"
    order_id = f"CAST({col('order_id')} AS VARCHAR)" if cols.order_id else "CAST(_line AS VARCHAR)"
    currency = f"UPPER(TRIM(CAST({col('currency')} AS VARCHAR)))" if cols.currency else "NULL"
    market = f"CAST({col('market')} AS VARCHAR)" if cols.market else "NULL"
    channel = f"CAST({col('channel')} AS VARCHAR)" if cols.channel else "NULL"
    prefix = (cols.cancel_prefix or "").replace("'", "''")
    cancelled = f"starts_with(order_id, '{prefix}')" if prefix and cols.order_id else "false"
    return f"""CREATE TEMP TABLE lines AS
    WITH typed AS (
      SELECT _line, {customer} AS customer_id, {at} AS ts, {amount} AS amount, {qty} AS qty,
             {order_id} AS order_id, COALESCE({currency}, ?) AS currency,
             {market} AS market, {channel} AS channel
      FROM raw)
    SELECT t.*, fx.per_usd, CASE
        WHEN t.customer_id IS NULL THEN 'rejected: no customer id'
        WHEN t.ts IS NULL THEN 'rejected: the time does not parse'
        WHEN t.amount IS NULL OR isnan(t.amount) OR isinf(t.amount)
          THEN 'rejected: the amount does not parse'
        WHEN fx.per_usd IS NULL THEN 'rejected: no rate for currency ' || t.currency
        WHEN {cancelled} OR t.amount < 0 OR t.qty < 0 THEN 'cancellation or return'
        WHEN t.amount = 0 THEN 'zero amount'
        ELSE 'purchase' END AS reason
    FROM typed t LEFT JOIN fx USING (currency)"""


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row else 0
