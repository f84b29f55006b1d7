"""The analytics tables read from event records: orders with their merchant and USD amount,
order outcomes with their merchant, SKUs with the latest category, labels, touches."""

from __future__ import annotations

from riskops.services.analytics.log_tables import LogTables


def test_orders_outcomes_skus_and_touches() -> None:
    tables = LogTables(b"secret", {"USD": 1.0, "IDR": 15_000.0})
    item = {"sku": "k1", "merchant_id": "m1", "price": 150_000.0, "qty": 2, "category": "home"}
    order = {
        "type": "order.placed",
        "market": "ID",
        "user_id": "u1",
        "device": {"fingerprint": "d1"},
        "payload": {
            "order_id": "o1",
            "items": [item],
            "currency": "IDR",
            "payment_method": "card",
            "payment_instrument": "tok-1",
        },
    }
    listing = {
        "type": "listing.updated",
        "market": "ID",
        "payload": {"listing_id": "l1", "sku": "k1", "title": "Lamp", "category": "lighting"},
    }
    delivered = {
        "type": "order.delivered",
        "market": "ID",
        "user_id": "u1",
        "payload": {"order_id": "o1", "merchant_id": "m1"},
    }
    cart = {"type": "cart.item_added", "market": "ID", "payload": {"sku": "k2", "price": 30_000.0}}
    stray = {"type": "cart.item_added", "market": "ZZ", "payload": {"sku": "k3", "price": 1.0}}
    for n, record in enumerate((order, listing, delivered, cart, stray)):
        tables.add(record, 1_000_000 * n)
    got = {name: t.to_pylist() for name, t in tables.tables().items()}
    assert got["orders"][0]["merchant_id"] == "m1"
    assert got["orders"][0]["amount_usd"] == 20.0  # 300,000 IDR
    assert got["order_events"][0]["merchant_id"] == "m1"
    assert got["skus"] == [
        {"sku": "k1", "merchant_id": "m1", "category": "lighting", "title": "Lamp"}
    ]  # the listing's later category wins
    assert {(t["kind"], t["user_id"]) for t in got["touches"]} == {
        ("device", "u1"),
        ("instrument", "u1"),
    }
    assert got["cart_items"][0]["price_usd"] == 2.0  # no currency: the market's (IDR)
    assert got["cart_items"][1]["price_usd"] is None  # a market without a known currency
    assert tables.unknown_currencies == set()
    assert tables.events == 5
