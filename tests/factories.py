"""Valid catalogue events for tests, with overrides."""

from __future__ import annotations

import copy
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

_ids = itertools.count(1)

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


PAYLOADS: dict[str, dict[str, Any]] = {
    "order.placed": {
        "order_id": "o-1",
        "items": [{"sku": "sku-1", "merchant_id": "m-1", "price": 50.0, "qty": 2}],
        "currency": "IDR",
        "payment_method": "cod",
        "payment_instrument": "tok-1",
        "shipping_address": {"line1": "12 Main Street", "city": "Jakarta", "country": "ID"},
    },
    "login.failed": {"reason": "bad_password"},
    "login.succeeded": {"method": "password"},
    "page.viewed": {"page": "/p/1", "dwell_ms": 1200},
    "coupon.claimed": {"coupon_code": "NEW10", "campaign_id": "1111"},
    "user.registered": {"email": "A.B+x@gmail.com", "phone": "0812-3456-7890"},
}


def event(
    type: str = "order.placed",
    *,
    at: datetime | None = None,
    user: str | None = "u-1",
    device: str | None = "dev-1",
    ip: str | None = "203.0.113.7",
    market: str = "ID",
    payload: dict[str, Any] | None = None,
    event_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_id": event_id or f"evt-{next(_ids)}",
        "type": type,
        "occurred_at": iso(at or NOW - timedelta(minutes=1)),
        "market": market,
        "payload": copy.deepcopy(PAYLOADS.get(type, {})) if payload is None else payload,
    }
    if user:
        body["user_id"] = user
    if device:
        body["device"] = {"fingerprint": device}
    if ip:
        body["ip"] = ip
    body.update(extra)
    return body
