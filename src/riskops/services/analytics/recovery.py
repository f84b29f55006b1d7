"""Recovery actions for abandoned carts (a time-limited discount or similar items), with a
deterministic random holdout, and the uplift they bring, measured against the holdout. See
docs/analytics-carts.md."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import pyarrow as pa

from riskops.core.analytics.uplift import UpliftResult, in_holdout, uplift
from riskops.services.analytics.carts import (
    AbandonedCart,
    AbandonedCarts,
    episodes,
    positive,
    utc,
)
from riskops.services.analytics.data import AnalyticsData
from riskops.services.analytics.inputs import AnalyticsInputError

_TS, _STR, _F64 = pa.timestamp("us"), pa.string(), pa.float64()
ActionKind = Literal["discount", "similar_items"]


@dataclass(frozen=True, slots=True)
class RecoveryOptions:
    """How a campaign treats abandoned carts. ``similar_items`` falls back to the discount for
    a cart whose SKUs were never bought with another."""

    campaign_id: str
    kind: ActionKind = "discount"
    discount_percent: float = 10.0
    max_discount_usd: float | None = None
    valid_for: timedelta = timedelta(hours=48)
    similar_count: int = 3
    holdout_share: float = 0.10
    salt: str = "riskops.holdout"
    include_abusers: bool = False


@dataclass(frozen=True, slots=True)
class RecoveryAction:
    """The action planned for a cart. ``group`` "holdout" carts get nothing: the action is
    recorded as it would have been, never delivered."""

    action_id: str
    campaign_id: str
    group: Literal["treated", "holdout"]
    kind: ActionKind
    user_id: str
    cart_id: str
    cart_last_change: datetime
    cart_value_usd: float | None
    action_at: datetime
    discount_percent: float | None = None
    discount_usd: float | None = None
    """percent × value, capped by ``max_discount_usd`` and the value; ``None`` if no value."""
    expires_at: datetime | None = None
    similar_skus: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RecoveryPlan:
    actions: tuple[RecoveryAction, ...]
    skipped: tuple[tuple[str, str, str], ...] = field(default=())
    """(user_id, cart_id, reason) of carts given no action: excluded users, ordered since."""


@dataclass(frozen=True, slots=True)
class RecoveryMeasurement:
    uplift: UpliftResult
    window: timedelta
    pending: int
    """Actions whose measurement window had not ended by ``as_of`` (left out)."""


def _check_options(options: RecoveryOptions) -> None:
    if not options.campaign_id:
        raise AnalyticsInputError("campaign_id", "required: names the campaign and its split")
    if options.kind not in ("discount", "similar_items"):
        raise AnalyticsInputError("kind", "use discount or similar_items")
    if not 0 < options.discount_percent <= 100:
        raise AnalyticsInputError("discount_percent", "must be in (0, 100]")
    if options.max_discount_usd is not None and options.max_discount_usd <= 0:
        raise AnalyticsInputError("max_discount_usd", "must be positive (or None: no cap)")
    if options.similar_count < 1:
        raise AnalyticsInputError("similar_count", "must be at least 1")
    if not 0 <= options.holdout_share < 1:
        raise AnalyticsInputError("holdout_share", "must be in [0, 1)")
    positive(options.valid_for, "valid_for")


def _similar(
    data: AnalyticsData, carts: AbandonedCarts, targets: list[AbandonedCart], count: int
) -> dict[int, tuple[str, ...]]:
    """Top ``count`` SKUs held together with each target's SKUs in carts followed by an order
    (of users not excluded), by number of such carts summed over the target's SKUs."""
    wanted = [(i, item.sku) for i, cart in enumerate(targets) for item in cart.items]
    table = pa.table(
        {"idx": [i for i, _ in wanted], "sku": [s for _, s in wanted]},
        schema=pa.schema([("idx", pa.int64()), ("sku", pa.string())]),
    )
    with data.con.cursor() as cur:
        episodes(cur, data, carts.as_of, positive(carts.idle, "idle"))
        cur.register("targets", table)
        found = cur.execute(
            """WITH bought AS (
              SELECT DISTINCT user_id, cart_id, epoch, sku FROM cart_rows
              WHERE next_buy IS NOT NULL AND qty > 0
                AND user_id NOT IN (SELECT user_id FROM excluded)
            ), pairs AS (
              SELECT a.sku, b.sku AS other, count(*) AS n FROM bought a
              JOIN bought b USING (user_id, cart_id, epoch)
              WHERE a.sku <> b.sku AND a.sku IN (SELECT sku FROM targets) GROUP BY ALL
            ), scored AS (
              SELECT t.idx, p.other, sum(p.n) AS score FROM targets t JOIN pairs p USING (sku)
              ANTI JOIN targets own ON own.idx = t.idx AND own.sku = p.other GROUP BY ALL
            )
            SELECT idx, list(other ORDER BY score DESC, other)[:$k] FROM scored GROUP BY idx""",
            {"k": count},
        ).fetchall()
    return {int(i): tuple(skus) for i, skus in found}


def _discount(value: float | None, options: RecoveryOptions) -> float | None:
    """percent × value (never above the value: percent <= 100), capped by max_discount_usd."""
    if value is None:
        return None
    amount = value * options.discount_percent / 100
    cap = options.max_discount_usd
    return round(amount if cap is None else min(amount, cap), 2)


def plan_recovery(
    data: AnalyticsData,
    carts: AbandonedCarts,
    options: RecoveryOptions,
    *,
    action_at: datetime | None = None,
) -> RecoveryPlan:
    """An action for every abandoned cart that may get one, each in the treated group or the
    holdout (``options.holdout_share`` of users, by :func:`in_holdout`). ``action_at``
    (default: ``carts.as_of``) starts the discount's validity and the measurement window."""
    _check_options(options)
    at = carts.as_of if action_at is None else utc(action_at, "action_at")
    targets, skipped = [], []
    for cart in carts.carts:
        if cart.excluded is not None and not options.include_abusers:
            skipped.append((cart.user_id, cart.cart_id, f"excluded: {cart.excluded}"))
        elif cart.ordered_since is not None:
            skipped.append((cart.user_id, cart.cart_id, "ordered since"))
        elif (
            cart.value_usd is None
            and options.max_discount_usd is not None
            and options.kind == "discount"
        ):  # a percentage of an unknown value could exceed the cap
            skipped.append((cart.user_id, cart.cart_id, "value unknown: the cap cannot hold"))
        else:
            targets.append(cart)
    similar = (
        _similar(data, carts, targets, options.similar_count)
        if options.kind == "similar_items" and targets
        else {}
    )
    actions = []
    for i, cart in enumerate(targets):
        held = in_holdout(options.campaign_id, cart.user_id, options.holdout_share, options.salt)
        key = f"{options.campaign_id}\x00{cart.user_id}\x00{cart.cart_id}\x00"
        key += cart.last_change.isoformat()
        common: dict[str, Any] = {
            "action_id": hashlib.sha256(key.encode()).hexdigest()[:32],
            "campaign_id": options.campaign_id,
            "group": "holdout" if held else "treated",
            "user_id": cart.user_id,
            "cart_id": cart.cart_id,
            "cart_last_change": cart.last_change,
            "cart_value_usd": cart.value_usd,
            "action_at": at,
        }
        if similar.get(i):
            actions.append(RecoveryAction(kind="similar_items", similar_skus=similar[i], **common))
        elif cart.value_usd is None and options.max_discount_usd is not None:
            skipped.append((cart.user_id, cart.cart_id, "value unknown: the cap cannot hold"))
        else:
            pct, amount = options.discount_percent, _discount(cart.value_usd, options)
            expires = at + options.valid_for
            actions.append(
                RecoveryAction(
                    kind="discount",
                    discount_percent=pct,
                    discount_usd=amount,
                    expires_at=expires,
                    **common,
                )
            )
    return RecoveryPlan(tuple(actions), tuple(skipped))


def action_payload(action: RecoveryAction) -> dict[str, Any]:
    """The action as JSON-ready values (times as ISO 8601 with ``Z``), for webhooks."""
    out: dict[str, Any] = {}
    for f in fields(action):
        value = getattr(action, f.name)
        if isinstance(value, datetime):
            value = value.isoformat() + "Z"
        out[f.name] = list(value) if isinstance(value, tuple) else value
    return out


def measure_recovery(
    data: AnalyticsData,
    actions: tuple[RecoveryAction, ...] | list[RecoveryAction],
    *,
    as_of: datetime,
    window: timedelta = timedelta(days=7),
    confidence: float = 0.95,
) -> RecoveryMeasurement:
    """Recovery rate of treated vs holdout carts: a cart is recovered when its user placed an
    order after ``action_at`` and at most ``window`` later (``customer_orders`` with abusers'
    own). Actions whose window ends after ``as_of`` are pending and left out."""
    as_of = utc(as_of, "as_of")
    window_us = positive(window, "window")
    table = pa.table(
        {
            "user_id": [a.user_id for a in actions],
            "grp": [a.group for a in actions],
            "action_at": [a.action_at for a in actions],
        },
        schema=pa.schema(
            [("user_id", pa.string()), ("grp", pa.string()), ("action_at", pa.timestamp("us"))]
        ),
    )
    orders = data.customer_orders(include_abusers=True)
    with data.con.cursor() as cur:
        cur.register("actions", table)
        rows = cur.execute(
            f"""SELECT grp, count(*) FILTER (WHERE NOT due), count(*) FILTER (WHERE due),
              count(*) FILTER (WHERE due AND EXISTS (SELECT 1 FROM ({orders}) o
                WHERE o.user_id = a.user_id AND o.ts > a.action_at
                  AND o.ts <= a.action_at + to_microseconds($w)))
            FROM (SELECT *, action_at + to_microseconds($w) <= $as_of AS due FROM actions) a
            GROUP BY grp""",
            {"w": window_us, "as_of": as_of},
        ).fetchall()
    by = {str(g): (int(p), int(n), int(r)) for g, p, n, r in rows}
    t, h = by.get("treated", (0, 0, 0)), by.get("holdout", (0, 0, 0))
    result = uplift(t[2], t[1], h[2], h[1], confidence)
    return RecoveryMeasurement(result, window, t[0] + h[0])


_ACTION_COLUMNS = {
    "action_id": _STR, "campaign_id": _STR, "group": _STR, "kind": _STR, "user_id": _STR,
    "cart_id": _STR, "cart_last_change": _TS, "cart_value_usd": _F64, "action_at": _TS,
    "discount_percent": _F64, "discount_usd": _F64, "expires_at": _TS, "similar_skus": _STR,
}  # fmt: skip


def actions_table(plan: RecoveryPlan) -> pa.Table:
    """The planned actions as a flat table (similar SKUs joined by ", ") for export."""
    rows = [
        {f.name: getattr(a, f.name) for f in fields(a)}
        | {"similar_skus": ", ".join(a.similar_skus)}
        for a in plan.actions
    ]
    return pa.Table.from_pylist(rows, schema=pa.schema(list(_ACTION_COLUMNS.items())))


def actions_from_rows(rows: list[dict[str, Any]]) -> list[RecoveryAction]:
    """Actions back from the rows of :func:`actions_table` (a file written when the campaign
    was planned) or of :func:`action_payload` (JSON), to measure them later. A row that does
    not fit names the row and the field."""
    out = []
    for n, row in enumerate(rows, 1):
        try:
            similar = row.get("similar_skus") or ()
            if isinstance(similar, str):
                similar = tuple(s.strip() for s in similar.split(",") if s.strip())
            out.append(
                RecoveryAction(
                    action_id=str(row["action_id"]),
                    campaign_id=str(row["campaign_id"]),
                    group="holdout" if row["group"] == "holdout" else "treated",
                    kind="similar_items" if row["kind"] == "similar_items" else "discount",
                    user_id=str(row["user_id"]),
                    cart_id=str(row["cart_id"]),
                    cart_last_change=_time(row["cart_last_change"]),
                    cart_value_usd=_float(row.get("cart_value_usd")),
                    action_at=_time(row["action_at"]),
                    discount_percent=_float(row.get("discount_percent")),
                    discount_usd=_float(row.get("discount_usd")),
                    expires_at=None if row.get("expires_at") is None else _time(row["expires_at"]),
                    similar_skus=tuple(similar),
                )
            )
            if row["group"] not in ("treated", "holdout"):
                raise ValueError(f"group {row['group']!r}: treated or holdout")
        except KeyError as exc:
            raise AnalyticsInputError(f"actions[{n}].{exc.args[0]}", "missing") from None
        except (TypeError, ValueError) as exc:
            raise AnalyticsInputError(f"actions[{n}]", str(exc)) from None
    return out


def _time(value: object) -> datetime:
    """A naive UTC time (as the analytics tables hold), from a datetime or ISO 8601 text."""
    if not isinstance(value, datetime):
        value = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def _float(value: object) -> float | None:
    return None if value is None else float(str(value))
