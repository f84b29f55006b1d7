"""Acquisition cohorts and retention over the orders that count as purchases.

A customer's cohort is the month (or ISO week, from Monday) of their first purchase, or of their
registration (``users.registered_at``). Period offset k is the k-th period after the cohort's
own (k = 0 is the cohort period). A retention cell is the share of the cohort's members who
bought in period k, with their orders and revenue; the matrix lists every offset from 0 up to
the last period of the data (zero cells included), so cohorts form a triangle. The period that
holds the end of the data is flagged ``partial``: it may not be complete.

Purchases are ``data.customer_orders()``: labelled abusers and block-listed users are left out
(of the orders and of registration cohorts) unless ``include_abusers``. Revenue is in US dollars.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from riskops.services.analytics.channels import USERS_SQL
from riskops.services.analytics.data import AnalyticsData
from riskops.services.analytics.inputs import AnalyticsInputError

PERIODS = ("month", "week")
COHORT_BY = ("first_purchase", "registration")
SPLITS = ("channel", "market")


@dataclass(frozen=True, slots=True)
class RetentionCell:
    """One cohort (of one split group) at one period offset."""

    group: str | None
    cohort: date
    offset: int
    period: date
    cohort_size: int
    customers: int
    """Members who bought in this period."""
    retention: float
    orders: int
    revenue_usd: float
    revenue_per_member: float
    partial: bool


@dataclass(frozen=True, slots=True)
class CohortSize:
    group: str | None
    cohort: date
    size: int


@dataclass(frozen=True, slots=True)
class PeriodMix:
    """Buyers of one period: new (their first purchase is in this period) and returning (their
    first purchase was in an earlier period), with their orders and revenue."""

    group: str | None
    period: date
    new_customers: int
    returning_customers: int
    new_orders: int
    returning_orders: int
    new_revenue_usd: float
    returning_revenue_usd: float
    partial: bool


def _check(period: str, cohort_by: str, split: str | None) -> None:
    if period not in PERIODS:
        raise AnalyticsInputError("period", f"{period!r}: use {' or '.join(PERIODS)}")
    if cohort_by not in COHORT_BY:
        raise AnalyticsInputError("cohort_by", f"{cohort_by!r}: use {' or '.join(COHORT_BY)}")
    if split is not None and split not in SPLITS:
        raise AnalyticsInputError("split", f"{split!r}: use {' or '.join(SPLITS)}")


def _base(
    data: AnalyticsData, period: str, cohort_by: str, split: str | None, include_abusers: bool
) -> str:
    """CTEs ``o`` (purchases with their period), ``members`` (user, group, cohort) and ``last``
    (the last period of the data), after checking there is something to build on."""
    _check(period, cohort_by, split)
    orders = data.customer_orders(include_abusers=include_abusers)
    o = f"o AS (SELECT user_id, ts, amount_usd, market, date_trunc('{period}', ts)::DATE AS per "
    o += f"FROM ({orders}) WHERE ts IS NOT NULL)"
    # the acquisition channel as channels.py defines it: registration, else first visit
    channel = f"(SELECT a.channel FROM ({USERS_SQL}) a WHERE a.user_id = m.user_id)"
    if cohort_by == "first_purchase":
        if _count(data, f"WITH {o} SELECT count(*) FROM o") == 0:
            raise AnalyticsInputError("orders", "no purchases to build cohorts from")
        members = f"""SELECT user_id, date_trunc('{period}', min(ts))::DATE AS cohort,
                      arg_min(market, ts) AS market FROM o GROUP BY user_id"""
        ends = "SELECT max(ts) FROM o"
    else:
        keep = "" if include_abusers else "AND user_id NOT IN (SELECT user_id FROM excluded)"
        users = f"FROM users WHERE user_id IS NOT NULL AND registered_at IS NOT NULL {keep}"
        if _count(data, f"SELECT count(*) {users}") == 0:
            raise AnalyticsInputError("users", "no registered users to build cohorts from")
        members = f"""SELECT user_id, date_trunc('{period}', min(registered_at))::DATE AS cohort,
                      first(market ORDER BY registered_at) AS market {users} GROUP BY user_id"""
        ends = f"SELECT max(registered_at) {users} UNION ALL SELECT max(ts) FROM o"
    group = {"channel": channel, "market": "m.market"}.get(split or "", "NULL")
    return f"""{o},
        m AS ({members}),
        members AS (SELECT user_id, cohort, {group}::VARCHAR AS grp FROM m),
        last AS (SELECT date_trunc('{period}', max(e))::DATE AS per FROM ({ends}) t(e))"""


def _offset(period: str, start: str, end: str) -> str:
    if period == "month":
        return f"date_diff('month', {start}, {end})"
    return f"(date_diff('day', {start}, {end}) // 7)"


def retention_matrix(
    data: AnalyticsData,
    *,
    period: str = "month",
    cohort_by: str = "first_purchase",
    split: str | None = None,
    max_offset: int | None = None,
    include_abusers: bool = False,
) -> list[RetentionCell]:
    """Every (group, cohort, offset) cell from offset 0 to the end of the data (or
    ``max_offset``), ordered by group, cohort and offset. Orders of a registration cohort placed
    before its registration period are not counted."""
    if max_offset is not None and (isinstance(max_offset, bool) or max_offset < 0):
        raise AnalyticsInputError("max_offset", "must be a whole number of periods, 0 or more")
    base = _base(data, period, cohort_by, split, include_abusers)
    limit = "" if max_offset is None else f"AND g.k <= {int(max_offset)}"
    step = "INTERVAL 1 MONTH" if period == "month" else "INTERVAL 7 DAY"
    rows = data.con.execute(
        f"""WITH {base},
        sizes AS (SELECT grp, cohort, count(*) AS size FROM members GROUP BY grp, cohort),
        act AS (
          SELECT m.grp, m.cohort, {_offset(period, "m.cohort", "o.per")} AS k,
                 count(DISTINCT o.user_id) AS customers, count(*) AS orders,
                 sum(o.amount_usd) AS revenue
          FROM o JOIN members m USING (user_id) WHERE o.per >= m.cohort GROUP BY ALL),
        grid AS (
          SELECT s.grp, s.cohort, s.size,
                 unnest(range(0, {_offset(period, "s.cohort", "last.per")} + 1)) AS k
          FROM sizes s, last)
        SELECT g.grp, g.cohort, g.k, (g.cohort + g.k * {step})::DATE AS per, g.size,
               coalesce(a.customers, 0), coalesce(a.orders, 0), coalesce(a.revenue, 0),
               (g.cohort + g.k * {step})::DATE = last.per
        FROM grid g CROSS JOIN last
        LEFT JOIN act a ON a.grp IS NOT DISTINCT FROM g.grp AND a.cohort = g.cohort AND a.k = g.k
        WHERE true {limit}
        ORDER BY g.grp NULLS LAST, g.cohort, g.k"""
    ).fetchall()
    return [
        RetentionCell(
            group=None if r[0] is None else str(r[0]),
            cohort=r[1],
            offset=int(r[2]),
            period=r[3],
            cohort_size=int(r[4]),
            customers=int(r[5]),
            retention=int(r[5]) / int(r[4]),
            orders=int(r[6]),
            revenue_usd=float(r[7]),
            revenue_per_member=float(r[7]) / int(r[4]),
            partial=bool(r[8]),
        )
        for r in rows
    ]


def cohort_sizes(
    data: AnalyticsData,
    *,
    period: str = "month",
    cohort_by: str = "first_purchase",
    split: str | None = None,
    include_abusers: bool = False,
) -> list[CohortSize]:
    """Members of each cohort (of each split group), by group and cohort."""
    base = _base(data, period, cohort_by, split, include_abusers)
    rows = data.con.execute(
        f"""WITH {base} SELECT grp, cohort, count(*) FROM members GROUP BY grp, cohort
        ORDER BY grp NULLS LAST, cohort"""
    ).fetchall()
    return [CohortSize(None if r[0] is None else str(r[0]), r[1], int(r[2])) for r in rows]


def new_vs_returning(
    data: AnalyticsData,
    *,
    period: str = "month",
    split: str | None = None,
    include_abusers: bool = False,
) -> list[PeriodMix]:
    """Per period with purchases: customers, orders and revenue from first-time buyers (first
    purchase in that period) and from returning ones. "First" means first in the data: in the
    data's first periods, long-standing customers are counted as new."""
    base = _base(data, period, "first_purchase", split, include_abusers)
    rows = data.con.execute(
        f"""WITH {base},
        tagged AS (SELECT o.*, m.grp, o.per = m.cohort AS is_new
                   FROM o JOIN members m USING (user_id))
        SELECT t.grp, t.per,
               count(DISTINCT user_id) FILTER (WHERE is_new),
               count(DISTINCT user_id) FILTER (WHERE NOT is_new),
               count(*) FILTER (WHERE is_new), count(*) FILTER (WHERE NOT is_new),
               coalesce(sum(amount_usd) FILTER (WHERE is_new), 0),
               coalesce(sum(amount_usd) FILTER (WHERE NOT is_new), 0),
               t.per = any_value(last.per)
        FROM tagged t CROSS JOIN last GROUP BY t.grp, t.per
        ORDER BY t.grp NULLS LAST, t.per"""
    ).fetchall()
    return [
        PeriodMix(
            group=None if r[0] is None else str(r[0]),
            period=r[1],
            new_customers=int(r[2]),
            returning_customers=int(r[3]),
            new_orders=int(r[4]),
            returning_orders=int(r[5]),
            new_revenue_usd=float(r[6]),
            returning_revenue_usd=float(r[7]),
            partial=bool(r[8]),
        )
        for r in rows
    ]


def pivot(cells: list[RetentionCell], value: str = "retention") -> list[dict[str, Any]]:
    """The matrix as one row per (group, cohort) with columns ``group``, ``cohort``,
    ``cohort_size`` and ``k0``, ``k1``, ...: the chosen field (``retention``, ``customers``,
    ``orders``, ``revenue_usd`` or ``revenue_per_member``); None where not yet observable."""
    fields = ("retention", "customers", "orders", "revenue_usd", "revenue_per_member")
    if value not in fields:
        raise AnalyticsInputError("value", f"{value!r}: use {', '.join(fields)}")
    width = max((c.offset for c in cells), default=-1) + 1
    out: dict[tuple[str | None, date], dict[str, Any]] = {}
    for c in cells:
        row = out.setdefault(
            (c.group, c.cohort),
            {"group": c.group, "cohort": c.cohort, "cohort_size": c.cohort_size}
            | {f"k{k}": None for k in range(width)},
        )
        row[f"k{c.offset}"] = getattr(c, value)
    return list(out.values())


def _count(data: AnalyticsData, sql: str) -> int:
    rows = data.con.execute(sql).fetchall()
    return int(rows[0][0]) if rows else 0
