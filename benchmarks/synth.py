"""Synthetic catalogue events for benchmarks (seeded; realistic mix of types and entities).
Not the marketplace simulator: just enough variety to exercise the log, graph and state."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

TYPES = [
    ("page.viewed", 40),
    ("login.succeeded", 8),
    ("login.failed", 3),
    ("cart.item_added", 12),
    ("order.placed", 10),
    ("payment.succeeded", 8),
    ("coupon.claimed", 5),
    ("session.started", 10),
    ("search.performed", 4),
]


def events(
    n: int,
    *,
    seed: int = 7,
    users: int = 20_000,
    start: datetime | None = None,
    span_s: int = 86_400,
    prefix: str = "b",
) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    start = start or datetime.now(UTC) - timedelta(seconds=span_s + 60)
    names = [t for t, _ in TYPES]
    weights = [w for _, w in TYPES]
    for i in range(n):
        u = rng.randrange(users)
        kind = rng.choices(names, weights)[0]
        at = start + timedelta(seconds=span_s * i / max(1, n))
        event: dict[str, Any] = {
            "event_id": f"{prefix}-{seed}-{i}",
            "type": kind,
            "occurred_at": at.isoformat().replace("+00:00", "Z"),
            "market": rng.choice(["ID", "TH", "MY", "SG"]),
            "user_id": f"u{u}",
            "device": {"fingerprint": f"dev-{u % 15000:05d}"},
            "ip": _ip(u, rng),
        }
        event["payload"] = _payload(kind, rng, u, i)
        yield event


def _ip(u: int, rng: random.Random) -> str:
    """Most users keep to one or two addresses; one event in ten comes from elsewhere."""
    last = (u % 2) + 1 if rng.random() > 0.1 else rng.randrange(3, 250)
    return f"10.{u % 200}.{(u // 200) % 250}.{last}"


def _payload(kind: str, rng: random.Random, u: int, i: int) -> dict[str, Any]:
    if kind == "page.viewed":
        return {"page": f"/p/{rng.randrange(5000)}", "dwell_ms": rng.randrange(200, 60_000)}
    if kind in ("login.succeeded", "login.failed"):
        return {}
    if kind == "cart.item_added":
        return {"sku": f"sku-{rng.randrange(5000)}", "qty": 1, "price": 9.5}
    if kind == "order.placed":
        return {
            "order_id": f"o-{i}",
            "items": [
                {
                    "sku": f"sku-{rng.randrange(5000)}",
                    "merchant_id": f"m{rng.randrange(300)}",
                    "price": round(rng.uniform(1, 200), 2),
                    "qty": rng.randrange(1, 3),
                }
            ],
            "currency": "USD",
            "payment_method": rng.choice(["card", "wallet", "cod"]),
            "payment_instrument": f"tok-{u}",
            "shipping_address": {
                "line1": f"{u % 5000} Main Street",
                "city": "Jakarta",
                "country": "ID",
            },
        }
    if kind == "payment.succeeded":
        return {"order_id": f"o-{i}", "amount": 20.0, "currency": "USD"}
    if kind == "coupon.claimed":
        return {"coupon_code": f"C{rng.randrange(50)}", "campaign_id": "11.11"}
    if kind == "session.started":
        return {"session_id": f"s-{i}", "channel": rng.choice(["search", "ads", "social"])}
    return {"query": "shoes"}
