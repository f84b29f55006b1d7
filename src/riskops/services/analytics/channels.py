"""Acquisition channels and referrals.

:func:`channel_report` compares channels by what their users did: conversion, orders and
revenue per acquired user, 30/90-day repeat purchase, order value and (when given) expected
customer value. :func:`referrals` walks referral chains and flags self-referrals: a referred
account that shares a device, address or payment instrument (the ``touches`` table) with its
referrer. Definitions and edge cases are in ``docs/analytics-channels-reviews.md``."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa

from riskops.services.analytics.data import AnalyticsData
from riskops.services.analytics.inputs import AnalyticsInputError

UNKNOWN = "(unknown)"
TOUCH_KINDS = ("device", "address", "instrument")

_FIRST = "arg_min({col}, coalesce({ts}, 'infinity'::TIMESTAMP)) FILTER (WHERE {col} IS NOT NULL)"
USERS_SQL = f"""
SELECT k.user_id, coalesce(r.channel, s.channel, '{UNKNOWN}') AS channel,
       coalesce(r.market, s.market, o.market) AS market
FROM (SELECT user_id FROM users UNION SELECT user_id FROM sessions
      UNION SELECT user_id FROM orders) k
LEFT JOIN (SELECT user_id, {_FIRST.format(col="nullif(trim(channel), '')", ts="registered_at")}
             AS channel, {_FIRST.format(col="market", ts="registered_at")} AS market
           FROM users GROUP BY user_id) r USING (user_id)
LEFT JOIN (SELECT user_id, {_FIRST.format(col="nullif(trim(channel), '')", ts="ts")} AS channel,
             {_FIRST.format(col="market", ts="ts")} AS market
           FROM sessions GROUP BY user_id) s USING (user_id)
LEFT JOIN (SELECT user_id, {_FIRST.format(col="market", ts="ts")} AS market
           FROM orders GROUP BY user_id) o USING (user_id)
WHERE k.user_id IS NOT NULL"""
"""Every known user (registered, visiting or ordering) with its acquisition channel (the
registration's, else the first session's, else ``(unknown)``) and market."""


@dataclass(frozen=True, slots=True)
class ChannelRow:
    """One acquisition channel. Shares are 0..1; ``None`` where the denominator is zero."""

    channel: str
    users: int
    """Acquired users (excluded users left out unless ``include_abusers``)."""
    excluded_users: int
    """Users of this channel left out because they are in ``excluded``."""
    buyers: int
    conversion: float | None
    orders: int
    revenue_usd: float
    orders_per_user: float | None
    revenue_per_user: float | None
    aov_usd: float | None
    repeat_30d: float | None
    """Of buyers whose first order is at least 30 days before ``as_of``: share who ordered
    again within 30 days of their first order."""
    repeat_90d: float | None
    clv_mean: float | None
    """Mean of the given expected values over this channel's users that have one."""
    clv_users: int


def channel_report(
    data: AnalyticsData,
    *,
    market: str | None = None,
    clv: Mapping[str, float] | None = None,
    include_abusers: bool = False,
    as_of: date | None = None,
) -> list[ChannelRow]:
    """One row per acquisition channel, most users first."""
    con = data.con
    markets = [r[0] for r in con.execute(f"SELECT DISTINCT market FROM ({USERS_SQL})").fetchall()]
    if not markets:
        raise AnalyticsInputError("users", "no users in the data (users, sessions and orders)")
    if market is not None and market not in markets:
        known = ", ".join(sorted(str(m) for m in markets if m is not None))
        raise AnalyticsInputError("market", f"no users in market {market!r} (known: {known})")
    orders_sql = data.customer_orders(include_abusers=include_abusers)
    if as_of is not None:
        end = _naive_utc(as_of)
    else:
        last = con.execute(f"SELECT max(ts) FROM ({orders_sql})").fetchall()[0][0]
        end = last if last is not None else datetime(1970, 1, 1)
    con.register("_channel_clv", _clv_table(clv))
    try:
        rows = con.execute(
            f"""
            WITH u AS (SELECT * FROM ({USERS_SQL}) WHERE $market IS NULL OR market = $market),
            o AS (
              SELECT user_id, count(*) AS orders, sum(amount_usd) AS revenue,
                     min(ts) AS first_ts,
                     min(ts) FILTER (WHERE rn = 2) AS second_ts
              FROM (SELECT user_id, ts, amount_usd, row_number() OVER
                      (PARTITION BY user_id ORDER BY ts, order_id) AS rn FROM ({orders_sql}))
              GROUP BY user_id),
            x AS (
              SELECT u.channel, u.user_id IN (SELECT user_id FROM excluded) AS is_excluded,
                     o.orders, o.revenue, o.first_ts, o.second_ts, c.clv
              FROM u LEFT JOIN o USING (user_id) LEFT JOIN _channel_clv c USING (user_id))
            SELECT channel,
              count(*) FILTER (WHERE $all OR NOT is_excluded) AS users,
              count(*) FILTER (WHERE is_excluded AND NOT $all) AS excluded_users,
              count(orders) FILTER (WHERE $all OR NOT is_excluded) AS buyers,
              coalesce(sum(orders) FILTER (WHERE $all OR NOT is_excluded), 0) AS orders,
              coalesce(sum(revenue) FILTER (WHERE $all OR NOT is_excluded), 0) AS revenue,
              {_repeat(30)}, {_repeat(90)},
              avg(clv) FILTER (WHERE $all OR NOT is_excluded) AS clv_mean,
              count(clv) FILTER (WHERE $all OR NOT is_excluded) AS clv_users
            FROM x GROUP BY channel ORDER BY users DESC, channel""",
            {"market": market, "all": include_abusers, "as_of": end},
        ).fetchall()
    finally:
        con.unregister("_channel_clv")
    return [_channel_row(r, clv is not None) for r in rows]


def _naive_utc(moment: object) -> datetime:
    if isinstance(moment, datetime):
        return moment if moment.tzinfo is None else moment.astimezone(UTC).replace(tzinfo=None)
    if isinstance(moment, date):
        return datetime(moment.year, moment.month, moment.day)
    raise AnalyticsInputError("as_of", "must be a date or datetime (naive ones are UTC)")


def _repeat(days: int) -> str:
    eligible = f"first_ts <= $as_of - INTERVAL {days} DAY AND ($all OR NOT is_excluded)"
    again = f"second_ts <= first_ts + INTERVAL {days} DAY"
    return (
        f"count(*) FILTER (WHERE {eligible}) AS eligible_{days}, "
        f"count(*) FILTER (WHERE {eligible} AND {again}) AS repeat_{days}"
    )


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def _channel_row(r: tuple[Any, ...], with_clv: bool) -> ChannelRow:
    channel, users, excluded, buyers, orders, revenue, e30, r30, e90, r90, clv, clv_n = r
    return ChannelRow(
        channel=str(channel),
        users=int(users),
        excluded_users=int(excluded),
        buyers=int(buyers),
        conversion=_ratio(buyers, users),
        orders=int(orders),
        revenue_usd=float(revenue),
        orders_per_user=_ratio(orders, users),
        revenue_per_user=_ratio(float(revenue), users),
        aov_usd=_ratio(float(revenue), orders),
        repeat_30d=_ratio(r30, e30),
        repeat_90d=_ratio(r90, e90),
        clv_mean=float(clv) if with_clv and clv is not None else None,
        clv_users=int(clv_n) if with_clv else 0,
    )


def _clv_table(clv: Mapping[str, float] | None) -> pa.Table:
    if clv is not None and not isinstance(clv, Mapping):
        raise AnalyticsInputError("clv", "must map user ids to expected values")
    users: list[str] = []
    values: list[float] = []
    for user, value in (clv or {}).items():
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise AnalyticsInputError("clv", f"value for user {user!r} is not a finite number")
        users.append(str(user))
        values.append(float(value))
    return pa.table(
        {"user_id": pa.array(users, pa.string()), "clv": pa.array(values, pa.float64())}
    )


@dataclass(frozen=True, slots=True)
class ReferredUser:
    """One referred account and where it sits in its chain."""

    user_id: str
    referrer_user_id: str
    source: str
    """``registration`` (users.referrer_user_id) or ``session`` (first referred session)."""
    depth: int
    """1 = referred by someone nobody referred; 2 = C in A→B→C; and so on."""
    root_user_id: str
    """The top of the chain (the referrer at the greatest depth)."""
    in_cycle: bool
    """The chain loops back (A→B→A, or an account referring itself): depth is then where the
    walk stopped."""
    bought: bool
    self_referral: bool
    shared: str | None
    """Comma-separated kinds shared with the referrer (``account`` when it is the same one)."""
    excluded: bool
    referrer_excluded: bool


@dataclass(frozen=True, slots=True)
class Referrer:
    """One account that referred others."""

    referrer_user_id: str
    referred: int
    referred_buyers: int
    self_referrals: int
    downstream: int
    """Accounts below it in its chains, at any depth."""
    max_depth_below: int
    own_depth: int
    """0 when nobody referred this account."""
    excluded: bool
    excluded_reason: str | None


@dataclass(frozen=True, slots=True)
class Referrals:
    """Both tables: referrers (most referred first) and referred users (deepest first)."""

    referrers: list[Referrer]
    referred: list[ReferredUser]


_REF = "nullif(trim(referrer_user_id), '')"
_REFERRAL_STEPS = (
    f"""CREATE OR REPLACE TEMP TABLE _ref_edges AS
    SELECT coalesce(r.user_id, s.user_id) AS user_id, coalesce(r.ref, s.ref) AS referrer,
      CASE WHEN r.ref IS NOT NULL THEN 'registration' ELSE 'session' END AS source
    FROM (SELECT user_id, {_FIRST.format(col=_REF, ts="registered_at")} AS ref FROM users
          WHERE user_id IS NOT NULL GROUP BY user_id) r
    FULL JOIN (SELECT user_id, {_FIRST.format(col=_REF, ts="ts")} AS ref FROM sessions
          WHERE user_id IS NOT NULL GROUP BY user_id) s ON r.user_id = s.user_id
    WHERE coalesce(r.ref, s.ref) IS NOT NULL""",
    """CREATE OR REPLACE TEMP TABLE _ref_walk AS
    WITH RECURSIVE walk(user_id, ancestor, depth, path, cycle) AS (
      SELECT user_id, referrer, 1, [user_id], referrer = user_id FROM _ref_edges
      UNION ALL
      SELECT w.user_id, e.referrer, w.depth + 1, list_append(w.path, w.ancestor),
             list_contains(list_append(w.path, w.ancestor), e.referrer)
      FROM walk w JOIN _ref_edges e ON e.user_id = w.ancestor WHERE NOT w.cycle)
    SELECT user_id, ancestor, depth, cycle FROM walk""",
    """CREATE OR REPLACE TEMP TABLE _referral AS
    WITH t AS (SELECT user_id, kind, value FROM touches WHERE list_contains($kinds, kind)
               UNION SELECT user_id, 'device', device FROM users
               WHERE list_contains($kinds, 'device')),
    shared AS (SELECT e.user_id, string_agg(DISTINCT a.kind, ',' ORDER BY a.kind) AS kinds
      FROM _ref_edges e JOIN t a ON a.user_id = e.user_id
      JOIN t b ON b.user_id = e.referrer AND b.kind = a.kind AND b.value = a.value
      WHERE e.user_id <> e.referrer GROUP BY e.user_id),
    w AS (SELECT user_id, max(depth) AS depth, arg_max(ancestor, depth) AS root,
            bool_or(cycle) AS in_cycle FROM _ref_walk GROUP BY user_id)
    SELECT e.user_id, e.referrer, e.source, w.depth, w.root, w.in_cycle,
      e.user_id IN (SELECT user_id FROM ({orders})) AS bought,
      CASE WHEN e.user_id = e.referrer THEN 'account' ELSE shared.kinds END AS shared,
      e.user_id IN (SELECT user_id FROM excluded) AS excluded,
      e.referrer IN (SELECT user_id FROM excluded) AS referrer_excluded
    FROM _ref_edges e JOIN w USING (user_id) LEFT JOIN shared USING (user_id)""",
)
_REFERRERS_SQL = """
WITH down AS (SELECT ancestor, count(DISTINCT user_id) FILTER (WHERE user_id <> ancestor) AS n,
                max(depth) FILTER (WHERE user_id <> ancestor) AS max_d
              FROM _ref_walk GROUP BY ancestor)
SELECT r.referrer, count(*), count(*) FILTER (WHERE r.bought),
  count(*) FILTER (WHERE r.shared IS NOT NULL), coalesce(any_value(down.n), 0),
  coalesce(any_value(down.max_d), 0), coalesce(any_value(me.depth), 0),
  any_value(x.reason) IS NOT NULL, any_value(x.reason)
FROM _referral r LEFT JOIN down ON down.ancestor = r.referrer
LEFT JOIN _referral me ON me.user_id = r.referrer
LEFT JOIN excluded x ON x.user_id = r.referrer
GROUP BY r.referrer ORDER BY count(*) DESC, r.referrer"""


def referrals(data: AnalyticsData, *, kinds: Sequence[str] = TOUCH_KINDS) -> Referrals:
    """Referral chains and self-referral flags; empty tables when no one was referred.

    ``bought`` counts purchases of excluded users too (a reward trigger is what matters here);
    ``kinds`` are the touch kinds compared with the referrer."""
    kinds = list(kinds)
    if not kinds or any(not isinstance(k, str) or not k for k in kinds):
        raise AnalyticsInputError("kinds", "give one or more touch kinds (device, address...)")
    con = data.con
    orders_sql = data.customer_orders(include_abusers=True)
    try:
        con.execute(_REFERRAL_STEPS[0])
        con.execute(_REFERRAL_STEPS[1])
        con.execute(_REFERRAL_STEPS[2].format(orders=orders_sql), {"kinds": kinds})
        referred = [
            ReferredUser(*r)
            for r in con.execute(
                """SELECT user_id, referrer, source, depth, root, in_cycle, bought,
                   shared IS NOT NULL, shared, excluded, referrer_excluded FROM _referral
                   ORDER BY depth DESC, referrer, user_id"""
            ).fetchall()
        ]
        referrers = [Referrer(*r) for r in con.execute(_REFERRERS_SQL).fetchall()]
    finally:
        for name in ("_referral", "_ref_walk", "_ref_edges"):
            con.execute(f"DROP TABLE IF EXISTS {name}")
    return Referrals(referrers=referrers, referred=referred)
