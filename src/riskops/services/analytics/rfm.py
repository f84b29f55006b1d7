"""RFM over the orders that count as purchases (``AnalyticsData.customer_orders``): per customer
recency (days since the last purchase, as of ``as_of``), frequency (orders) and monetary value
(total spend in US dollars, net of refunds and cancellations, never below zero), their quintile
scores and named segment (:mod:`riskops.core.analytics.rfm`), and the benefit package of the
segment. Blocked users and labelled abusers are left out unless ``include_abusers``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb
import pyarrow as pa

from riskops.core.analytics.rfm import SEGMENT_NAMES, SEGMENTS, benefits, segment_table
from riskops.services.analytics.data import AnalyticsData
from riskops.services.analytics.inputs import AnalyticsInputError


@dataclass(frozen=True, slots=True)
class SegmentRow:
    segment: str
    name_en: str
    name_zh: str
    customers: int
    share: float
    recency_days: float
    frequency: float
    monetary_usd: float
    revenue_usd: float
    benefit: str | None


@dataclass(frozen=True)
class RfmResult:
    as_of: datetime
    customers: pa.Table
    """user_id, recency_days, frequency, monetary_usd, r, f, m, segment, benefit."""
    segments: list[SegmentRow]
    excluded_users: int
    warnings: list[str] = field(default_factory=list)


def rfm(
    data: AnalyticsData,
    *,
    as_of: datetime | None = None,
    include_abusers: bool = False,
    benefit_map: Mapping[str, object] | None = None,
) -> RfmResult:
    packages = benefits(benefit_map)
    con = data.con
    orders = data.customer_orders(include_abusers=include_abusers)
    row = con.execute(f"SELECT count(*), max(ts) FROM ({orders})").fetchone()
    if not row or not row[0]:
        raise AnalyticsInputError("orders", "no purchases to score (after exclusions)")
    when: datetime = as_of if as_of is not None else row[1]
    if as_of is not None and as_of.tzinfo is not None:  # stored times are UTC without a zone
        when = as_of.astimezone(UTC).replace(tzinfo=None)
    refunds = data.refunds_by_user(include_abusers=include_abusers)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE rfm_base AS
        WITH bought AS (
          SELECT user_id,
                 date_diff('second', max(ts), ?::TIMESTAMP) / 86400.0 AS recency_days,
                 count(DISTINCT order_id) AS frequency, sum(amount_usd) AS spent
          FROM ({orders}) WHERE ts <= ?::TIMESTAMP GROUP BY user_id)
        SELECT b.user_id, b.recency_days, b.frequency,
               greatest(b.spent - coalesce(r.refunded_usd, 0), 0) AS monetary_usd,
               coalesce(r.refunded_usd, 0) AS refunded_usd
        FROM bought b LEFT JOIN ({refunds}) r USING (user_id)""",
        [when, when, when],
    )
    n = _one(con, "SELECT count(*) FROM rfm_base")
    if n == 0:
        raise AnalyticsInputError("as_of", f"no purchases on or before {when:%Y-%m-%d %H:%M}")
    warnings: list[str] = []
    if n < 5:
        warnings.append(f"only {n} customer(s): scores are ranks, not quintiles")
    flat = []
    for column, label in (
        ("recency_days", "recency"),
        ("frequency", "frequency"),
        ("monetary_usd", "monetary"),
    ):
        if _one(con, f"SELECT count(DISTINCT {column}) FROM rfm_base") == 1:
            flat.append(column)
            warnings.append(f"every customer has the same {label}: its score is 3 for all")
    con.execute("CREATE OR REPLACE TEMP TABLE rfm_segments (r INT, f INT, m INT, segment VARCHAR)")
    con.executemany("INSERT INTO rfm_segments VALUES (?, ?, ?, ?)", segment_table())
    con.execute("CREATE OR REPLACE TEMP TABLE rfm_benefits (segment VARCHAR, benefit VARCHAR)")
    con.executemany("INSERT INTO rfm_benefits VALUES (?, ?)", list(packages.items()))
    table = con.sql(
        f"""WITH scored AS (
          SELECT *,
            {_score("recency_days", "DESC", flat)} AS r,
            {_score("frequency", "ASC", flat)} AS f,
            {_score("monetary_usd", "ASC", flat)} AS m
          FROM rfm_base)
        SELECT s.user_id, round(s.recency_days, 2) AS recency_days, s.frequency,
               round(s.monetary_usd, 2) AS monetary_usd, round(s.refunded_usd, 2) AS refunded_usd,
               s.r, s.f, s.m, g.segment, b.benefit
        FROM scored s JOIN rfm_segments g USING (r, f, m) JOIN rfm_benefits b USING (segment)
        ORDER BY s.r DESC, s.f DESC, s.m DESC, s.user_id"""
    ).to_arrow_table()
    con.register("rfm_scored", table)
    stats = {
        str(r[0]): r[1:]
        for r in con.execute(
            """SELECT segment, count(*), avg(recency_days), avg(frequency), avg(monetary_usd),
                      sum(monetary_usd)
               FROM rfm_scored GROUP BY segment"""
        ).fetchall()
    }
    con.unregister("rfm_scored")
    segments = []
    for name in SEGMENTS:
        count, recency, frequency, monetary, revenue = stats.get(name, (0, 0.0, 0.0, 0.0, 0.0))
        en, zh = SEGMENT_NAMES[name]
        segments.append(
            SegmentRow(
                name,
                en,
                zh,
                int(count),
                round(int(count) / n, 4),
                round(float(recency), 1),
                round(float(frequency), 2),
                round(float(monetary), 2),
                round(float(revenue), 2),
                packages[name],
            )
        )
    excluded = 0 if include_abusers else _one(con, "SELECT count(*) FROM excluded")
    return RfmResult(when, table, segments, excluded, warnings)


def _score(column: str, order: str, flat: list[str]) -> str:
    """1-5: one plus the quintile of the customers strictly worse on ``column`` (ties share a
    score); 3 for everyone when nobody differs."""
    if column in flat:
        return "3"
    return f"(1 + floor(5 * (rank() OVER (ORDER BY {column} {order}) - 1) / count(*) OVER ()))::INT"


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    got = con.execute(sql).fetchone()
    return int(got[0]) if got else 0
