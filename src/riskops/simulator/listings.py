"""Attacks by merchants on their listings: fake discounts (an inflated "was" price before each
week's promotion) and counterfeits (fakes listed cheap, then complaints), with labels."""

from __future__ import annotations

import numpy as np

from riskops.simulator.config import MARKETS
from riskops.simulator.emit import DAY_US, Emitter
from riskops.simulator.world import MERCHANT_KINDS, World

HOUR_US = 3_600_000_000


def fake_discounts(world: World, em: Emitter, rng: np.random.Generator, day: int) -> None:
    """Before the sale, some merchants raise the "was" price of their listings so the sale
    price looks like a deep discount."""
    if day % 7:  # before each week's promotion
        return
    fakers = np.flatnonzero(world.merchants.kind == MERCHANT_KINDS.index("fake_discount"))
    for merchant in fakers:
        m = int(merchant)
        market = world.markets[int(world.merchants.market[m])]
        scale = MARKETS[market].price_scale
        for sku in np.flatnonzero(world.skus.merchant == m)[:5]:
            price = round(float(world.skus.price[sku]) * scale, 2)
            listing = f"l{int(sku)}-w{day // 7}"
            at = em.day_start_us(day) + int(rng.integers(0, 6)) * HOUR_US
            em.emit(
                "listing.created",
                at,
                market,
                {
                    "listing_id": listing,
                    "merchant_id": f"m{m:05d}",
                    "sku": f"sku{int(sku)}",
                    "title": f"Item {int(sku)}",
                    "price": price,
                    "currency": MARKETS[market].currency,
                },
            )
            em.emit(
                "listing.updated",
                at + 2 * HOUR_US,
                market,
                {
                    "listing_id": listing,
                    "merchant_id": f"m{m:05d}",
                    "was_price": round(price * (2.5 if world.config.generation == 1 else 1.6), 2),
                    "price": price,
                },
            )
            em.label("listing", listing, "fake_discount", "fake_discount")
        em.label("merchant", f"m{m:05d}", "fake_discount", "fake_discount")


def counterfeits(world: World, em: Emitter, rng: np.random.Generator, day: int) -> None:
    """Counterfeit sellers list branded goods far below their usual price; buyers complain."""
    sellers = np.flatnonzero(world.merchants.kind == MERCHANT_KINDS.index("counterfeit"))
    for merchant in sellers:
        m = int(merchant)
        if rng.random() > 0.3:
            continue
        market = world.markets[int(world.merchants.market[m])]
        currency = MARKETS[market].currency
        listing = em.new_id("cf")
        at = em.day_start_us(day) + int(rng.integers(0, 24)) * HOUR_US
        price = round(float(rng.uniform(5, 20)) * MARKETS[market].price_scale, 2)
        em.emit(
            "listing.created",
            at,
            market,
            {
                "listing_id": listing,
                "merchant_id": f"m{m:05d}",
                "sku": f"cf-{listing}",
                "title": "Original designer handbag, authentic",
                "category": "fashion",
                "price": price,
                "currency": currency,
            },
        )
        em.label("listing", listing, "counterfeit", "counterfeit")
        em.emit(
            "complaint.filed",
            at + int(rng.integers(2, 9)) * DAY_US,
            market,
            {
                "category": "counterfeit",
                "merchant_id": f"m{m:05d}",
                "text": "Fake product, not authentic / 假货",
            },
        )
        em.label("merchant", f"m{m:05d}", "counterfeit", "counterfeit")
