"""User and merchant credit from the analytics tables: the facts of each account as of a time,
counted by DuckDB over an :class:`AnalyticsData`, scored by :mod:`riskops.core.credit`.

User facts come from ``orders``, ``order_events``, ``users``, ``sessions``, ``labels`` and
``blocked``; orders labelled ``account_takeover`` are the attacker's and count neither for nor
against the account. Merchant facts need each order's merchant: ``orders.merchant_id`` and
``order_events.merchant_id`` when the tables have them (checked with ``DESCRIBE``), else the
merchant named by the order's reviews; what the data cannot tell is listed in the report's
warnings and moves no points (see docs/credit.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa

from riskops.core.analytics.abuse import ABUSE_LABELS
from riskops.core.credit import (
    CreditInputError,
    MerchantCredit,
    MerchantFacts,
    Reason,
    UserCredit,
    UserFacts,
    merchant_exposure,
    score_merchant,
    score_user,
    user_privileges,
)
from riskops.services.analytics.data import AnalyticsData
from riskops.services.analytics.inputs import AnalyticsInputError

FINDINGS = ("fake_discount", "counterfeit", "brushing")
"""Label kinds that count as compliance findings against a merchant."""

_ATO = """ato AS (SELECT DISTINCT entity_id AS order_id FROM labels
    WHERE entity_type = 'order' AND label = 'account_takeover' AND entity_id IS NOT NULL)"""
_USER_SQL = """WITH {ato},
buyer AS (SELECT order_id, any_value(user_id) AS user_id, min(ts) AS ts FROM orders
    WHERE order_id IS NOT NULL AND user_id IS NOT NULL GROUP BY order_id),
seen AS (SELECT user_id, min(ts) AS first_seen FROM (
    SELECT user_id, registered_at AS ts FROM users UNION ALL SELECT user_id, ts FROM orders
    UNION ALL SELECT user_id, ts FROM order_events UNION ALL SELECT user_id, ts FROM sessions)
  WHERE user_id IS NOT NULL AND ts <= $as_of GROUP BY user_id),
ev AS (SELECT coalesce(b.user_id, e.user_id) AS user_id, e.order_id, e.type, e.ts,
    {outcome} AS outcome FROM order_events e LEFT JOIN buyer b USING (order_id)
  WHERE e.ts <= $as_of AND e.order_id IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM ato a WHERE a.order_id = e.order_id)),
returned AS (SELECT DISTINCT order_id FROM ev WHERE type = 'return.requested'),
dropped AS (SELECT DISTINCT order_id FROM ev
  WHERE type IN ('order.cancelled', 'order.cod_refused')),
ord AS (SELECT o.user_id, count(DISTINCT o.order_id) AS orders,
    sum(coalesce(o.amount_usd, 0)) FILTER (o.amount_usd > 0
      AND NOT EXISTS (SELECT 1 FROM dropped d WHERE d.order_id = o.order_id)) AS spend
  FROM orders o WHERE o.ts <= $as_of AND o.ts > $year
    AND NOT EXISTS (SELECT 1 FROM ato a WHERE a.order_id = o.order_id) GROUP BY o.user_id),
win AS (SELECT user_id,
    count(DISTINCT order_id) FILTER (type = 'order.delivered') AS delivered,
    count(DISTINCT order_id) FILTER (type = 'order.cod_refused' AND ts > $recent) AS cod_90,
    count(DISTINCT order_id) FILTER (type = 'order.cod_refused') AS cod_365,
    count(DISTINCT order_id) FILTER (type = 'return.requested') AS returns,
    count(DISTINCT order_id) FILTER (type = 'refund.issued'
      AND order_id NOT IN (SELECT order_id FROM returned)) AS refunds,
    count(DISTINCT order_id) FILTER (type = 'dispute.opened') AS disputes,
    count(DISTINCT order_id) FILTER (type = 'dispute.resolved'
      AND outcome = 'merchant_won') AS lost,
    count(DISTINCT order_id) FILTER (type = 'chargeback.received' AND ts > $recent) AS cb_90,
    count(DISTINCT order_id) FILTER (type = 'chargeback.received') AS cb_365
  FROM ev WHERE ts > $year GROUP BY user_id),
lab AS (SELECT user_id, list(DISTINCT label ORDER BY label)
      FILTER (list_contains($abuse, label)) AS abuse,
    bool_or(label = 'account_takeover') AS ato FROM (
    SELECT entity_id AS user_id, label FROM labels WHERE entity_type = 'user'
    UNION ALL SELECT b.user_id, 'account_takeover' FROM ato JOIN buyer b USING (order_id)
      WHERE b.ts <= $as_of)
  GROUP BY user_id)
SELECT s.user_id, date_diff('second', s.first_seen, $as_of) / 86400.0,
  coalesce(o.orders, 0), coalesce(o.spend, 0.0), coalesce(w.delivered, 0),
  coalesce(w.cod_90, 0), coalesce(w.cod_365, 0), coalesce(w.returns, 0),
  coalesce(w.refunds, 0), coalesce(w.disputes, 0), coalesce(w.lost, 0),
  coalesce(w.cb_90, 0), coalesce(w.cb_365, 0), coalesce(l.ato, false),
  s.user_id IN (SELECT user_id FROM blocked WHERE user_id IS NOT NULL), coalesce(l.abuse, [])
FROM seen s LEFT JOIN ord o USING (user_id) LEFT JOIN win w USING (user_id)
  LEFT JOIN lab l USING (user_id)
WHERE $ids::VARCHAR[] IS NULL OR list_contains($ids, s.user_id)
ORDER BY s.user_id"""


@dataclass(frozen=True)
class MerchantCreditReport:
    """Merchant credit as of ``as_of``; ``warnings`` say which facts the data could not give."""

    as_of: datetime
    merchants: list[MerchantCredit]
    warnings: list[str] = field(default_factory=list)


def resolve_as_of(data: AnalyticsData, as_of: datetime | None) -> datetime:
    """``as_of`` as naive UTC (the tables' time), by default the latest record; an error when
    there is no record or ``as_of`` is before the first one."""
    row = data.con.execute(
        """SELECT min(ts), max(ts) FROM (SELECT ts FROM orders UNION ALL
        SELECT ts FROM order_events UNION ALL SELECT registered_at FROM users
        UNION ALL SELECT ts FROM sessions)"""
    ).fetchone()
    if row is None or row[0] is None:
        raise AnalyticsInputError("orders", "no orders, events, users or visits to score")
    if as_of is None:
        latest: datetime = row[1]
        return latest
    when = as_of.astimezone(UTC).replace(tzinfo=None) if as_of.tzinfo else as_of
    if when < row[0]:
        raise AnalyticsInputError("as_of", f"{when:%Y-%m-%d %H:%M} is before the first record "
                                  f"({row[0]:%Y-%m-%d %H:%M})")  # fmt: skip
    return when


def user_facts(
    data: AnalyticsData, *, as_of: datetime | None = None, user_ids: Sequence[str] | None = None
) -> list[UserFacts]:
    """The facts of every user first seen on or before ``as_of`` (or of ``user_ids``: an
    error names the ids not seen by then; an empty list gives an empty result)."""
    when = resolve_as_of(data, as_of)
    ids = None if user_ids is None else sorted(set(user_ids))
    if ids == []:
        return []
    outcome = "e.outcome" if "outcome" in _columns(data.con, "order_events") else "NULL"
    params = {
        "as_of": when,
        "year": when - timedelta(days=365),
        "recent": when - timedelta(days=90),
        "abuse": sorted(ABUSE_LABELS),
        "ids": ids,
    }
    sql = _USER_SQL.format(ato=_ATO, outcome=outcome)
    rows = data.con.execute(sql, params).fetchall()
    if ids is not None and len(rows) < len(ids):
        missing = sorted(set(ids) - {r[0] for r in rows})
        raise AnalyticsInputError(
            "user_ids", f"not seen on or before {when:%Y-%m-%d %H:%M}: {', '.join(missing[:5])}"
        )
    lost_known = outcome != "NULL" and _has_outcomes(data.con)
    return [_user_facts(r, lost_known, when) for r in rows]


def _user_facts(r: tuple[Any, ...], lost_known: bool, when: datetime) -> UserFacts:
    n = [int(v) for v in r[4:13]]
    return UserFacts(
        user_id=str(r[0]),
        tenure_days=float(r[1]),
        orders_365d=int(r[2]),
        spend_365d_usd=float(r[3]),
        delivered_365d=n[0],
        cod_refusals_90d=n[1],
        cod_refusals_365d=n[2],
        returns_365d=n[3],
        refunds_without_return_365d=n[4],
        disputes_opened_365d=n[5],
        disputes_lost_365d=n[6] if lost_known else None,
        chargebacks_90d=n[7],
        chargebacks_365d=n[8],
        ato_victim=bool(r[13]),
        blocked=bool(r[14]),
        abuse_labels=tuple(str(x) for x in r[15]),
        as_of=when,
    )


def user_credit(
    data: AnalyticsData,
    *,
    as_of: datetime | None = None,
    user_ids: Sequence[str] | None = None,
    privileges: Mapping[str, Mapping[str, object]] | None = None,
) -> list[UserCredit]:
    """Score, tier, privileges and reasons of each user (see :func:`user_facts`);
    ``privileges`` overrides the defaults per tier."""
    try:
        table = user_privileges(privileges)
    except CreditInputError as e:
        raise AnalyticsInputError(e.field, e.reason) from e
    return [score_user(f, table) for f in user_facts(data, as_of=as_of, user_ids=user_ids)]


def user_credit_table(rows: Sequence[UserCredit]) -> pa.Table:
    """One row per user: score, tier, privileges and the reasons (codes, English, Chinese)."""
    return pa.table(
        {
            "user_id": [r.user_id for r in rows],
            "score": pa.array([r.score for r in rows], pa.int64()),
            "tier": [r.tier for r in rows],
            "express_refund": pa.array([r.privileges.express_refund for r in rows], pa.bool_()),
            "password_free_limit_usd": pa.array(
                [r.privileges.password_free_limit_usd for r in rows], pa.float64()
            ),
            "pay_later": pa.array([r.privileges.pay_later for r in rows], pa.bool_()),
            "new_user_cap_usd": pa.array(
                [r.privileges.new_user_cap_usd for r in rows], pa.float64()
            ),
            **_reason_columns([r.reasons for r in rows]),
        }
    )


def _reason_columns(reasons: Sequence[tuple[Reason, ...]]) -> dict[str, pa.Array]:
    return {
        "reason_codes": pa.array([[x.code for x in r] for r in reasons], pa.list_(pa.string())),
        "reasons_en": pa.array(["; ".join(x.en for x in r) for r in reasons], pa.string()),
        "reasons_zh": pa.array(["；".join(x.zh for x in r) for r in reasons], pa.string()),
    }


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    return {str(r[0]) for r in con.execute(f"DESCRIBE {table}").fetchall()}


def _has_event(con: duckdb.DuckDBPyConnection, kind: str) -> bool:
    got = con.execute("SELECT count(*) FROM order_events WHERE type = ?", [kind]).fetchone()
    return bool(got and got[0])


_MERCHANT_SQL = """WITH brushed AS (SELECT DISTINCT entity_id AS order_id FROM labels
    WHERE entity_type = 'order' AND label = 'brushing' AND entity_id IS NOT NULL),
mo AS (SELECT o.order_id, m.merchant_id, o.ts, o.amount_usd FROM orders o
  JOIN credit_merchant_of m USING (order_id) WHERE o.ts <= $as_of),
win AS (SELECT * FROM mo WHERE ts > $year
  AND NOT EXISTS (SELECT 1 FROM brushed b WHERE b.order_id = mo.order_id)),
vol AS (SELECT merchant_id, count(DISTINCT order_id) AS orders,
    coalesce(sum(amount_usd) FILTER (amount_usd > 0), 0) AS gmv FROM win GROUP BY 1),
firsts AS (SELECT merchant_id, min(ts) AS first_order FROM mo GROUP BY 1),
ship AS (SELECT w.merchant_id, count(*) AS shipped,
    count(*) FILTER (s.shipped_at > w.ts + INTERVAL 48 HOUR) AS late
  FROM win w JOIN (SELECT order_id, min(ts) AS shipped_at FROM order_events
    WHERE type = 'order.shipped' AND ts <= $as_of GROUP BY 1) s USING (order_id) GROUP BY 1),
ref AS (SELECT merchant_id, count(DISTINCT order_id) AS refunds FROM win
  WHERE order_id IN (SELECT order_id FROM order_events
    WHERE type = 'refund.issued' AND ts <= $as_of AND order_id IS NOT NULL) GROUP BY 1),
ev AS (SELECT coalesce({event_merchant}, m.merchant_id) AS merchant_id, e.type,
    {outcome} AS outcome FROM order_events e LEFT JOIN credit_merchant_of m USING (order_id)
  WHERE e.ts <= $as_of AND e.ts > $year),
evc AS (SELECT merchant_id, count(*) FILTER (type = 'complaint.filed') AS complaints,
    count(*) FILTER (type = 'dispute.opened') AS disputes,
    count(*) FILTER (type = 'dispute.resolved' AND outcome = 'buyer_won') AS lost
  FROM ev WHERE merchant_id IS NOT NULL GROUP BY 1),
finds AS (SELECT merchant_id,
    count(DISTINCT what) FILTER (label = 'fake_discount') AS fake_discount,
    count(DISTINCT what) FILTER (label = 'counterfeit') AS counterfeit,
    count(DISTINCT what) FILTER (label = 'brushing') AS brushing FROM (
    SELECT entity_id AS merchant_id, label, 'merchant' AS what FROM labels
      WHERE entity_type = 'merchant'
    UNION ALL SELECT mo.merchant_id, l.label, l.entity_id FROM labels l
      JOIN mo ON l.entity_type = 'order' AND l.entity_id = mo.order_id
    UNION ALL SELECT li.merchant_id, l.label, 'listing:' || l.entity_id FROM labels l
      JOIN listings li ON l.entity_type = 'listing' AND l.entity_id = li.listing_id)
  WHERE merchant_id IS NOT NULL GROUP BY 1),
who AS (SELECT merchant_id FROM mo UNION SELECT merchant_id FROM finds)
SELECT w.merchant_id,
  coalesce(date_diff('second', f.first_order, $as_of) / 86400.0 / 30.4375, 0.0),
  coalesce(v.orders, 0), coalesce(v.gmv, 0.0), coalesce(c.complaints, 0),
  coalesce(c.disputes, 0), coalesce(c.lost, 0), coalesce(s.shipped, 0), coalesce(s.late, 0),
  coalesce(r.refunds, 0), coalesce(x.fake_discount, 0), coalesce(x.counterfeit, 0),
  coalesce(x.brushing, 0)
FROM who w LEFT JOIN firsts f USING (merchant_id) LEFT JOIN vol v USING (merchant_id)
  LEFT JOIN finds x USING (merchant_id)
  LEFT JOIN ship s USING (merchant_id) LEFT JOIN ref r USING (merchant_id)
  LEFT JOIN evc c USING (merchant_id)
ORDER BY w.merchant_id"""


def merchant_facts(
    data: AnalyticsData, *, as_of: datetime | None = None
) -> tuple[list[MerchantFacts], list[str]]:
    """The facts of every merchant with an order on or before ``as_of`` or a finding, and
    warnings on what the data could not tell (those facts are None and move no points)."""
    when = resolve_as_of(data, as_of)
    con = data.con
    warnings = _merchant_of(con, when)
    events = _columns(con, "order_events")
    sql = _MERCHANT_SQL.format(
        event_merchant="e.merchant_id" if "merchant_id" in events else "NULL",
        outcome="e.outcome" if "outcome" in events else "NULL",
    )
    rows = con.execute(sql, {"as_of": when, "year": when - timedelta(days=365)}).fetchall()
    known = {
        "complaints": _has_event(con, "complaint.filed"),
        "lost": "outcome" in events and _has_outcomes(con),
        "shipped": _has_event(con, "order.shipped"),
    }
    for fact, kind, what in (
        ("complaints", "complaint.filed", "complaints are"),
        ("shipped", "order.shipped", "shipping times are"),
    ):
        if not known[fact]:
            warnings.append(f"no {kind} events: {what} not known and move no points")
    if not known["lost"]:
        warnings.append(
            "no dispute outcomes (order_events needs dispute.resolved rows and an outcome "
            "column): disputes lost are not known and move no points"
        )
    listing = con.execute(
        """SELECT count(*) FROM labels WHERE entity_type = 'listing' AND list_contains(?, label)
           AND entity_id NOT IN (SELECT listing_id FROM listings WHERE listing_id IS NOT NULL)""",
        [list(FINDINGS)],
    ).fetchone()
    if listing and listing[0]:
        warnings.append(
            f"{listing[0]} finding(s) on listings are not counted: the data do not say whose "
            "listings they are"
        )
    facts = [
        MerchantFacts(
            str(r[0]), float(r[1]), int(r[2]), float(r[3]),
            int(r[4]) if known["complaints"] else None, int(r[5]),
            int(r[6]) if known["lost"] else None,
            int(r[7]) if known["shipped"] else None, int(r[8]) if known["shipped"] else None,
            int(r[9]), int(r[10]), int(r[11]), int(r[12]), when,
        )
        for r in rows
    ]  # fmt: skip
    return facts, warnings


def merchant_credit_report(
    data: AnalyticsData,
    *,
    as_of: datetime | None = None,
    exposure: Mapping[str, object] | None = None,
) -> MerchantCreditReport:
    """Score, tier, exposure multiplier and reasons of each merchant (see
    :func:`merchant_facts`); ``exposure`` overrides the multiplier per tier. An error when no
    order or finding can be tied to a merchant."""
    try:
        table = merchant_exposure(exposure)
    except CreditInputError as e:
        raise AnalyticsInputError(e.field, e.reason) from e
    facts, warnings = merchant_facts(data, as_of=as_of)
    if not facts:
        why = "".join(f"; {w}" for w in warnings if "name no merchant" in w)
        raise AnalyticsInputError(
            "orders.merchant_id", f"no order or finding can be tied to a merchant{why}"
        )
    when = facts[0].as_of or datetime.min
    return MerchantCreditReport(when, [score_merchant(f, table) for f in facts], warnings)


def merchant_credit_table(rows: Sequence[MerchantCredit]) -> pa.Table:
    """One row per merchant: score, tier, exposure multiplier and the reasons."""
    return pa.table(
        {
            "merchant_id": [r.merchant_id for r in rows],
            "score": pa.array([r.score for r in rows], pa.int64()),
            "tier": [r.tier for r in rows],
            "exposure": pa.array([r.exposure for r in rows], pa.float64()),
            **_reason_columns([r.reasons for r in rows]),
        }
    )


_MERCHANT_OF = """CREATE OR REPLACE TEMP TABLE credit_merchant_of AS
SELECT order_id, arg_min(merchant_id, prio) AS merchant_id FROM ({parts})
WHERE order_id IS NOT NULL AND merchant_id IS NOT NULL GROUP BY order_id"""


def _merchant_of(con: duckdb.DuckDBPyConnection, when: datetime) -> list[str]:
    """Fill ``credit_merchant_of`` (order → merchant): the order's own ``merchant_id``, else
    its events', else its reviews' (each used when the table has the column). Returns a
    warning when some orders have no merchant."""
    parts = ["SELECT order_id, merchant_id, 3 AS prio FROM reviews"]
    if "merchant_id" in _columns(con, "order_events"):
        parts.append("SELECT order_id, merchant_id, 2 FROM order_events")
    if "merchant_id" in _columns(con, "orders"):
        parts.append("SELECT order_id, merchant_id, 1 FROM orders")
    con.execute(_MERCHANT_OF.format(parts=" UNION ALL ".join(parts)))
    row = con.execute(
        """SELECT count(*), count(*) FILTER (order_id IS NULL OR order_id NOT IN
          (SELECT order_id FROM credit_merchant_of)) FROM orders WHERE ts <= ?""",
        [when],
    ).fetchone()
    total, untied = (int(row[0]), int(row[1])) if row else (0, 0)
    if not untied:
        return []
    return [
        f"{untied} of {total} orders name no merchant (in orders.merchant_id, their events or "
        "reviews) and are not counted"
    ]


def _has_outcomes(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether any dispute resolution records its outcome (else disputes lost are unknown)."""
    got = con.execute(
        "SELECT count(*) FROM order_events WHERE type = 'dispute.resolved' AND outcome IS NOT NULL"
    ).fetchone()
    return bool(got and got[0])
