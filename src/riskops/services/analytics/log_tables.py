"""The analytics tables from the event log, in one pass: orders and what became of them,
accounts with their acquisition channel and referrer, visits, the steps of each visit (page
views, searches, cart changes, checkouts, orders), cart lines, reviews, labels and the
devices / addresses / instruments each account used (for self-referral checks).

Amounts are kept in the order's currency and in US dollars (``riskops.core.analytics.fx``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
import pyarrow as pa

from riskops.core.analytics.fx import MARKET_CURRENCY
from riskops.core.decisions.backtest import labels_of
from riskops.core.entities.extract import address_id, instrument_id
from riskops.services.log_scan import Progress, scan_log
from riskops.stores.base import Store

_S, _F, _I, _B, _T = pa.string(), pa.float64(), pa.int64(), pa.bool_(), pa.timestamp("us")

SCHEMAS: dict[str, dict[str, pa.DataType]] = {
    "orders": {
        "order_id": _S,
        "user_id": _S,
        "ts": _T,
        "amount": _F,
        "currency": _S,
        "amount_usd": _F,
        "market": _S,
        "payment_method": _S,
        "items": _I,
        "coupon": _B,
        "device": _S,
        "session_id": _S,
        "merchant_id": _S,
    },
    "order_events": {
        "order_id": _S,
        "user_id": _S,
        "type": _S,
        "ts": _T,
        "amount_usd": _F,
        "merchant_id": _S,
        "outcome": _S,
    },
    "users": {
        "user_id": _S,
        "registered_at": _T,
        "channel": _S,
        "referrer_user_id": _S,
        "market": _S,
        "device": _S,
    },
    "sessions": {
        "session_id": _S,
        "user_id": _S,
        "ts": _T,
        "channel": _S,
        "source": _S,
        "campaign": _S,
        "referrer_user_id": _S,
        "market": _S,
        "device": _S,
    },
    "steps": {
        "ts": _T,
        "user_id": _S,
        "session_id": _S,
        "type": _S,
        "page": _S,
        "page_type": _S,
        "dwell_ms": _I,
        "sku": _S,
        "device": _S,
        "market": _S,
    },
    "cart_items": {
        "ts": _T,
        "user_id": _S,
        "session_id": _S,
        "cart_id": _S,
        "sku": _S,
        "qty": _I,
        "price_usd": _F,
        "added": _B,
    },
    "reviews": {
        "ts": _T,
        "user_id": _S,
        "sku": _S,
        "merchant_id": _S,
        "order_id": _S,
        "rating": _I,
        "text": _S,
        "language": _S,
    },
    "labels": {"entity_type": _S, "entity_id": _S, "label": _S},
    "skus": {"sku": _S, "merchant_id": _S, "category": _S, "title": _S},
    "listings": {"listing_id": _S, "merchant_id": _S, "sku": _S},
    "event_users": {"event_id": _S, "user_id": _S},
    "touches": {"user_id": _S, "kind": _S, "value": _S},
}
"""Every analytics table and its columns; a source that lacks one still creates it, empty."""

_ORDER_OUTCOMES = frozenset(
    {
        "order.shipped",
        "dispute.resolved",
        "complaint.filed",
        "order.delivered",
        "order.cod_refused",
        "order.cancelled",
        "return.requested",
        "refund.issued",
        "dispute.opened",
        "chargeback.received",
    }
)
_USER_ACTS = frozenset(
    {
        "user.registered",
        "login.succeeded",
        "login.failed",
        "coupon.claimed",
        "coupon.redeemed",
        "refund.requested",
        "return.requested",
        "review.posted",
        "address.changed",
    }
)
"""Events a label may name by event id (a claim, a refund request, a login): kept with their
user, so such a label reaches the account."""
_STEPS = frozenset(
    {
        "session.started",
        "page.viewed",
        "search.performed",
        "cart.item_added",
        "cart.item_removed",
        "checkout.started",
        "order.placed",
    }
)


class LogTables:
    """Column lists filled row by row, then turned into Arrow tables."""

    def __init__(self, secret: bytes, per_usd: Mapping[str, float]) -> None:
        self._secret = secret
        self._per_usd = per_usd
        self.cols: dict[str, dict[str, list[Any]]] = {
            name: {c: [] for c in schema} for name, schema in SCHEMAS.items()
        }
        self._touched: set[tuple[str, str, str]] = set()
        self._skus: dict[str, dict[str, Any]] = {}
        self.unknown_currencies: set[str] = set()
        self.events = 0

    def _usd(self, amount: object, currency: object, market: object = None) -> float | None:
        if not isinstance(amount, int | float):
            return None
        if currency is None:  # the market's currency, else it cannot be added up
            currency = MARKET_CURRENCY.get(str(market))
            if currency is None:
                return None
        rate = self._per_usd.get(str(currency))
        if rate is None:
            self.unknown_currencies.add(str(currency))
            return None
        return float(amount) / rate

    def _append(self, table: str, **values: Any) -> None:
        for column, target in self.cols[table].items():
            target.append(values.get(column))

    def _touch(self, user: str | None, kind: str, value: str | None) -> None:
        if user and value and (user, kind, value) not in self._touched:
            self._touched.add((user, kind, value))
            self._append("touches", user_id=user, kind=kind, value=value)

    def add(self, record: Mapping[str, Any], at_us: int) -> None:
        self.events += 1
        kind: str = record["type"]
        payload: Mapping[str, Any] = record.get("payload") or {}
        user = record.get("user_id")
        device = (record.get("device") or {}).get("fingerprint")
        market = record.get("market")
        for (entity_type, entity_id), label in labels_of(record):
            self._append("labels", entity_type=entity_type, entity_id=entity_id, label=label)
        self._touch(user, "device", device)
        if user and kind in _USER_ACTS and record.get("event_id"):
            self._append("event_users", event_id=record["event_id"], user_id=user)
        if kind in _STEPS:
            self._append(
                "steps",
                ts=at_us,
                user_id=user,
                session_id=payload.get("session_id"),
                type=kind,
                page=payload.get("page") or payload.get("landing_page"),
                page_type=payload.get("page_type"),
                dwell_ms=payload.get("dwell_ms"),
                sku=payload.get("sku"),
                device=device,
                market=market,
            )
        if kind == "order.placed":
            self._order(record, payload, at_us, user, device, market)
        elif kind in _ORDER_OUTCOMES:
            amount = payload.get("amount")
            self._append(
                "order_events",
                order_id=payload.get("order_id"),
                user_id=user,
                type=kind,
                ts=at_us,
                amount_usd=self._usd(amount, payload.get("currency")),
                merchant_id=payload.get("merchant_id"),
                outcome=payload.get("outcome"),  # a dispute's resolution
            )
        elif kind == "user.registered":
            self._append(
                "users",
                user_id=user,
                registered_at=at_us,
                channel=payload.get("channel"),
                referrer_user_id=payload.get("referrer_user_id"),
                market=market,
                device=device,
            )
        elif kind == "session.started":
            self._append(
                "sessions", ts=at_us, user_id=user, market=market, device=device, **_visit(payload)
            )
        elif kind in ("cart.item_added", "cart.item_removed"):
            self._append(
                "cart_items",
                ts=at_us,
                user_id=user,
                session_id=payload.get("session_id"),
                cart_id=payload.get("cart_id"),
                sku=payload.get("sku"),
                qty=payload.get("qty", 1),
                price_usd=self._usd(payload.get("price"), payload.get("currency"), market),
                added=kind == "cart.item_added",
            )
        elif kind == "review.posted":
            self._append(
                "reviews",
                ts=at_us,
                user_id=user,
                **{k: payload.get(k) for k in ("sku", "merchant_id", "order_id", "rating")},
                text=payload.get("text"),
                language=payload.get("language"),
            )
        elif kind in ("listing.created", "listing.updated"):
            self._sku(payload)
            if kind == "listing.created":
                self._append(
                    "listings",
                    **{k: payload.get(k) for k in ("listing_id", "merchant_id", "sku")},
                )
        elif kind == "address.changed" and isinstance(payload.get("address"), dict):
            self._touch(user, "address", address_id(payload["address"], self._secret))

    def _order(
        self,
        record: Mapping[str, Any],
        payload: Mapping[str, Any],
        at_us: int,
        user: str | None,
        device: str | None,
        market: str | None,
    ) -> None:
        items = payload.get("items") or []
        amount = payload.get("amount")
        if amount is None:
            amount = round(sum(i.get("price", 0) * i.get("qty", 1) for i in items), 2)
        currency = payload.get("currency")
        self._append(
            "orders",
            order_id=payload.get("order_id"),
            user_id=user,
            ts=at_us,
            amount=float(amount),
            currency=currency,
            amount_usd=self._usd(amount, currency),
            market=market,
            payment_method=payload.get("payment_method"),
            items=sum(int(i.get("qty", 1)) for i in items),
            coupon=bool(payload.get("coupon_codes")),
            device=device,
            session_id=payload.get("session_id"),
            merchant_id=items[0].get("merchant_id") if items else None,
        )
        for item in items:
            self._sku(item)
        address = payload.get("shipping_address")
        if isinstance(address, dict):
            self._touch(user, "address", address_id(address, self._secret))
        token = payload.get("payment_instrument")
        if token:
            self._touch(user, "instrument", instrument_id(token, self._secret))

    def _sku(self, fields: Mapping[str, Any]) -> None:
        """The latest known merchant, category and title of a SKU (listings, order lines)."""
        sku = fields.get("sku")
        if not sku:
            return
        known = self._skus.setdefault(str(sku), {"sku": str(sku)})
        for key in ("merchant_id", "category", "title"):
            if fields.get(key):
                known[key] = fields[key]

    def tables(self) -> dict[str, pa.Table]:
        for known in self._skus.values():
            self._append("skus", **known)
        self._skus = {}
        return {
            name: pa.table(
                {c: pa.array(v, type=SCHEMAS[name][c]) for c, v in self.cols[name].items()}
            )
            for name in SCHEMAS
        }


def _visit(payload: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("session_id", "channel", "source", "campaign", "referrer_user_id")
    return {k: payload.get(k) for k in keys}


def read_log(
    store: Store, secret: bytes, per_usd: Mapping[str, float], progress: Progress | None = None
) -> LogTables:
    """Every event of the log, once, in log order."""
    out = LogTables(secret, per_usd)
    for row in scan_log(store, progress):
        out.add(orjson.loads(row.body), row.occurred_at_us)
    return out
