"""Abandoned carts, recovery actions with a random holdout, and the uplift they bring.

A *cart* is the lines of ``cart_items`` of one user and one ``cart_id`` (``session_id`` where
the line has no cart id). An order of the user checks out every cart of that user: lines after
it start a new cart, even under the same id. Contents are added minus removed quantities per
SKU (never below 0; a missing ``qty`` is 1); a SKU's price is the latest price it was added at.
Only what happened at or before ``as_of`` is read, and the orders are ``customer_orders`` with
the abusers' own (an attack-labelled order checks nothing out).

As of ``as_of`` a cart is ``empty`` (holds nothing), ``ordered`` (an order of its user came at
or after its last change and at most ``idle`` later), ``open`` (its idle time has not passed:
``last_change + idle > as_of``) or ``abandoned``. An abandoned cart's ``ordered_since`` is the
first later order before ``as_of`` (the user came back by themselves; such carts get no
action). See docs/analytics-carts.md."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta

import pyarrow as pa
from duckdb import DuckDBPyConnection as Cursor

from riskops.services.analytics.data import AnalyticsData
from riskops.services.analytics.inputs import AnalyticsInputError

_EPISODES = """
WITH lines AS (
  SELECT user_id, coalesce(cart_id, session_id) AS cart_id, sku, ts,
    CASE WHEN added THEN coalesce(qty, 1) ELSE -coalesce(qty, 1) END AS delta,
    CASE WHEN added THEN price_usd END AS price
  FROM cart_items WHERE ts <= $as_of AND user_id IS NOT NULL AND sku IS NOT NULL
    AND added IS NOT NULL AND coalesce(cart_id, session_id) IS NOT NULL AND coalesce(qty, 1) > 0
), buys AS (
  SELECT user_id, ts, row_number() OVER (PARTITION BY user_id ORDER BY ts) AS n
  FROM (SELECT DISTINCT user_id, ts FROM ({orders}) WHERE ts <= $as_of)
), marked AS (
  SELECT l.*, coalesce(b.n, 0) AS epoch
  FROM lines l ASOF LEFT JOIN buys b ON l.user_id = b.user_id AND l.ts > b.ts
), held AS (
  SELECT user_id, cart_id, epoch, sku, greatest(sum(delta), 0) AS qty, max(ts) AS sku_ts,
    arg_max(price, ts) FILTER (WHERE price IS NOT NULL) AS price
  FROM marked GROUP BY ALL
), episodes AS (
  SELECT user_id, cart_id, epoch, max(sku_ts) AS last_change, sum(qty) AS items
  FROM held GROUP BY ALL
)
SELECT e.user_id, e.cart_id, e.epoch, e.last_change, nb.ts AS next_buy, h.sku, h.qty, h.price,
  CASE WHEN e.items = 0 THEN 'empty'
    WHEN nb.ts <= e.last_change + to_microseconds($idle) THEN 'ordered'
    WHEN e.last_change + to_microseconds($idle) > $as_of THEN 'open'
    ELSE 'abandoned' END AS status
FROM episodes e JOIN held h USING (user_id, cart_id, epoch)
LEFT JOIN buys nb ON nb.user_id = e.user_id AND nb.n = e.epoch + 1
"""


@dataclass(frozen=True, slots=True)
class CartItem:
    sku: str
    qty: int
    price_usd: float | None
    """Latest price the SKU was added at; ``None`` when no line gave one."""


@dataclass(frozen=True, slots=True)
class AbandonedCart:
    """One abandoned cart. Times are naive UTC, like the tables."""

    user_id: str
    cart_id: str
    items: tuple[CartItem, ...]
    value_usd: float | None
    """Sum of qty × price; ``None`` when an item has no price."""
    last_change: datetime
    idle_hours: float
    """Hours from the last change to ``as_of``."""
    ordered_since: datetime | None
    excluded: str | None
    """Why the user is in ``excluded`` (blocked, labelled ...), else ``None``."""


@dataclass(frozen=True, slots=True)
class AbandonedCarts:
    as_of: datetime
    idle: timedelta
    carts: tuple[AbandonedCart, ...]
    counts: dict[str, int]
    """Carts by status: empty, ordered, open, abandoned."""


def utc(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise AnalyticsInputError(name, "must be a datetime")
    return value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)


def positive(value: timedelta, name: str) -> int:
    if not isinstance(value, timedelta) or value <= timedelta(0):
        raise AnalyticsInputError(name, "must be a positive timedelta")
    return value // timedelta(microseconds=1)


def episodes(cur: Cursor, data: AnalyticsData, as_of: datetime, idle_us: int) -> int:
    """Fills temp table ``cart_rows`` (one row per cart and SKU) on ``cur``; its row count."""
    sql = _EPISODES.format(orders=data.customer_orders(include_abusers=True))
    cur.execute(f"CREATE TEMP TABLE cart_rows AS {sql}", {"as_of": as_of, "idle": idle_us})
    return int(cur.execute("SELECT count(*) FROM cart_rows").fetchall()[0][0])


def find_abandoned_carts(
    data: AnalyticsData, *, as_of: datetime, idle: timedelta = timedelta(hours=1)
) -> AbandonedCarts:
    """The carts abandoned as of ``as_of`` (oldest last change first) and the count of carts
    by status. Raises :class:`AnalyticsInputError` when no cart line exists up to ``as_of``."""
    as_of = utc(as_of, "as_of")
    idle_us = positive(idle, "idle")
    with data.con.cursor() as cur:
        if episodes(cur, data, as_of, idle_us) == 0:
            raise AnalyticsInputError(
                "cart_items", "no usable cart line at or before as_of (cart events are needed)"
            )
        counts = dict.fromkeys(("empty", "ordered", "open", "abandoned"), 0)
        found = cur.execute(
            "SELECT status, count(*) FROM (SELECT DISTINCT user_id, cart_id, epoch, status "
            "FROM cart_rows) GROUP BY status"
        ).fetchall()
        counts.update({str(s): int(n) for s, n in found})
        lines = cur.execute(
            """SELECT r.user_id, r.cart_id, r.epoch, r.last_change, r.next_buy, x.reason,
              list({'s': r.sku, 'q': r.qty, 'p': r.price} ORDER BY r.sku) FILTER (WHERE r.qty > 0)
            FROM cart_rows r LEFT JOIN excluded x USING (user_id) WHERE r.status = 'abandoned'
            GROUP BY ALL ORDER BY r.last_change, r.user_id, r.cart_id, r.epoch"""
        ).fetchall()
    carts = []
    for user, cart, _, last, next_buy, reason, held in lines:
        items = tuple(CartItem(str(i["s"]), int(i["q"]), i["p"]) for i in held)
        priced = [i.qty * i.price_usd for i in items if i.price_usd is not None]
        value = round(sum(priced), 2) if len(priced) == len(items) else None
        idle_hours = (as_of - last) / timedelta(hours=1)
        carts.append(AbandonedCart(user, cart, items, value, last, idle_hours, next_buy, reason))
    return AbandonedCarts(as_of, idle, tuple(carts), counts)


_TS, _STR, _F64 = pa.timestamp("us"), pa.string(), pa.float64()
_CART_COLUMNS = {
    "user_id": _STR, "cart_id": _STR, "items": _STR, "value_usd": _F64, "last_change": _TS,
    "idle_hours": _F64, "ordered_since": _TS, "excluded": _STR,
}  # fmt: skip


def carts_table(carts: AbandonedCarts) -> pa.Table:
    """The abandoned carts as a flat table (items as "sku×qty" joined by ", ") for export."""
    rows = [
        {f.name: getattr(c, f.name) for f in fields(c)}
        | {"items": ", ".join(f"{i.sku}×{i.qty}" for i in c.items)}
        for c in carts.carts
    ]
    return pa.Table.from_pylist(rows, schema=pa.schema(list(_CART_COLUMNS.items())))
