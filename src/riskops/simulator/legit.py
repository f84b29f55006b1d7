"""A day of honest traffic: sign-ups, sessions by channel, browsing with dwell, carts,
checkouts and orders with realistic drop-off, payment (COD where the market uses it), delivery
or refusal, returns and refunds, reviews in English and Chinese, and coupon claims."""

from __future__ import annotations

from typing import Any

import numpy as np

from riskops.simulator.config import MARKETS
from riskops.simulator.emit import DAY_US, Emitter
from riskops.simulator.world import CHANNELS, World

HOUR_WEIGHTS = np.array(
    [1, 0.6, 0.4, 0.3, 0.3, 0.5, 1, 2, 3, 3.5, 3.5, 4, 4.5, 4, 3.5, 3.5, 4, 4.5, 5, 6, 7, 7, 5, 3],
    dtype=float,
)
HOUR_WEIGHTS /= HOUR_WEIGHTS.sum()
CAMPAIGN = "mega-sale"
GOOD_REVIEWS = (
    ("Great quality, fast delivery", "en"),
    ("质量很好，物流很快", "zh"),
    ("Exactly as described", "en"),
    ("物美价廉，会回购", "zh"),
)
BAD_REVIEWS = (
    ("Poor quality, broke after a week", "en"),
    ("质量差，和描述不符", "zh"),
    ("Late delivery and rude seller", "en"),
    ("发货太慢", "zh"),
)


def _price(world: World, sku: int, market: str) -> float:
    return round(float(world.skus.price[sku]) * MARKETS[market].price_scale, 2)


def generate_day(world: World, em: Emitter, rng: np.random.Generator, day: int) -> None:
    _price_changes(world, em, rng, day)
    u = world.users
    registered = u.signup_day <= day
    sessions = np.where(registered, rng.poisson(u.activity), 0)
    for user in np.flatnonzero(u.signup_day == day):
        _register(em, rng, int(user), day)
    for user in np.flatnonzero(sessions):
        for _ in range(int(sessions[user])):
            hour = rng.choice(24, p=HOUR_WEIGHTS)
            at = em.day_start_us(day) + int((hour + rng.random()) * 3_600_000_000)
            _session(world, em, rng, int(user), at)


def _price_changes(world: World, em: Emitter, rng: np.random.Generator, day: int) -> None:
    """Honest merchants move some prices every day (up or down by up to 15 %), with an
    honest "was" price when they cut one."""
    skus = world.skus
    honest = world.merchants.kind[skus.merchant] == 0
    changing = np.flatnonzero(honest & (rng.random(len(skus.price)) < 0.01))
    for sku in changing:
        m = int(skus.merchant[sku])
        market = world.markets[int(world.merchants.market[m])]
        old = round(float(skus.price[sku]) * MARKETS[market].price_scale, 2)
        factor = float(rng.uniform(0.85, 1.15))
        skus.price[sku] = round(float(skus.price[sku]) * factor, 2)
        new = round(float(skus.price[sku]) * MARKETS[market].price_scale, 2)
        payload: dict[str, Any] = {
            "listing_id": f"l{int(sku)}",
            "merchant_id": f"m{m:05d}",
            "sku": f"sku{int(sku)}",
            "price": new,
        }
        if new < old:
            payload["was_price"] = old
        at = em.day_start_us(day) + int(rng.integers(0, 24)) * 3_600_000_000
        em.emit("listing.updated", at, market, payload)


def _register(em: Emitter, rng: np.random.Generator, user: int, day: int) -> None:
    market = em.market_of(user)
    at = em.day_start_us(day) + int(rng.random() * DAY_US)
    channel = CHANNELS[int(em.world.users.channel[user])]
    payload: dict[str, Any] = {
        "email": f"user{user}@mail.example",
        "phone": f"{MARKETS[market].phone_prefix}{user:07d}",
        "channel": channel,
        "signup_method": "email",
    }
    if channel == "referral":
        payload["referrer_user_id"] = em.user_id(int(rng.integers(0, len(em.world.users))))
    em.emit(
        "user.registered",
        at,
        market,
        payload,
        user=em.user_id(user),
        device=_device(em, user),
        ip=em.home_ip(user),
    )


def _device(em: Emitter, user: int) -> str:
    u = em.world.users
    second = int(u.second_device[user])
    return em.device_id(second if second > 0 and user % 3 == 0 else int(u.device[user]))


def _session(world: World, em: Emitter, rng: np.random.Generator, user: int, at: int) -> None:
    market = em.market_of(user)
    who = {"user": em.user_id(user), "device": _device(em, user), "ip": em.home_ip(user)}
    if rng.random() < 0.03:  # a mistyped password now and then
        em.emit("login.failed", at - 20_000_000, market, {"reason": "bad_password"}, **who)
    if rng.random() < 0.8:
        em.emit("login.succeeded", at, market, {"method": "password"}, **who)
    session_id = em.new_id("ss")
    channel = CHANNELS[int(world.users.channel[user])] if rng.random() < 0.6 else "search"
    em.emit(
        "session.started",
        at + 1_000_000,
        market,
        {"session_id": session_id, "channel": channel},
        **who,
    )
    t = at + 2_000_000
    viewed: list[int] = []
    for _ in range(min(int(rng.geometric(0.25)), 25)):
        sku = int(rng.integers(0, len(world.skus.price)))
        dwell = int(rng.lognormal(np.log(15_000), 0.8))
        em.emit(
            "page.viewed",
            t,
            market,
            {
                "page": f"/p/{sku}",
                "page_type": "product",
                "sku": f"sku{sku}",
                "dwell_ms": min(dwell, 3_600_000),
                "session_id": session_id,
            },
            **who,
        )
        viewed.append(sku)
        t += dwell * 1000 + int(rng.integers(500_000, 5_000_000))
    if rng.random() < 0.04:  # the sale's coupon (the sale runs all through the window)
        em.emit(
            "coupon.claimed",
            t,
            market,
            {"coupon_code": "SALE10", "campaign_id": CAMPAIGN, "value": 10.0},
            **who,
        )
    if rng.random() > 0.45:
        return
    cart = viewed[-int(rng.integers(1, 4)) :]
    for sku in cart:
        t += int(rng.integers(2_000_000, 30_000_000))
        em.emit(
            "cart.item_added",
            t,
            market,
            {
                "sku": f"sku{sku}",
                "qty": 1,
                "price": _price(world, sku, market),
                "session_id": session_id,
            },
            **who,
        )
    if rng.random() > 0.65:
        return  # abandoned cart
    total = round(sum(_price(world, s, market) for s in cart), 2)
    t += int(rng.integers(5_000_000, 120_000_000))
    em.emit(
        "checkout.started",
        t,
        market,
        {"session_id": session_id, "amount": total, "items_count": len(cart)},
        **who,
    )
    if rng.random() > 0.75:
        return
    t += int(rng.integers(10_000_000, 300_000_000))
    place_order(world, em, rng, user, t, cart, who, session_id=session_id)


def place_order(
    world: World,
    em: Emitter,
    rng: np.random.Generator,
    user: int,
    at: int,
    cart: list[int],
    who: dict[str, Any],
    *,
    session_id: str | None = None,
    address: dict[str, Any] | None = None,
    method: str | None = None,
    refuse: float | None = None,
    follow_up: bool = True,
    aftercare: bool = True,
) -> str:
    """An order and what follows it (payment, shipping, delivery or refusal, return, review);
    returns the order id."""
    market = em.market_of(user)
    order_id = em.new_id("o")
    u = world.users
    if method is None:
        cod = MARKETS[market].cod_share > 0.1 and rng.random() < float(u.cod_pref[user])
        method = "cod" if cod else ("card" if rng.random() < 0.6 else "wallet")
    items: list[dict[str, Any]] = [
        {
            "sku": f"sku{s}",
            "merchant_id": f"m{int(world.skus.merchant[s]):05d}",
            "price": _price(world, s, market),
            "qty": 1,
        }
        for s in cart
    ]
    amount = round(sum(i["price"] for i in items), 2)
    payload: dict[str, Any] = {
        "order_id": order_id,
        "items": items,
        "currency": MARKETS[market].currency,
        "payment_method": method,
        "shipping_address": address or em.address(user),
    }
    if method != "cod":
        payload["payment_instrument"] = f"tok-{who['user']}"
    if session_id:
        payload["session_id"] = session_id
    em.emit("order.placed", at, market, payload, **who)
    if not follow_up:
        return order_id
    merchant = items[0]["merchant_id"]
    if method != "cod":
        em.emit(
            "payment.succeeded",
            at + 3_000_000,
            market,
            {
                "order_id": order_id,
                "amount": amount,
                "currency": MARKETS[market].currency,
                "payment_method": method,
            },
            **who,
        )
    shipped = at + int(rng.integers(6, 30)) * 3_600_000_000
    em.emit("order.shipped", shipped, market, {"order_id": order_id, "merchant_id": merchant})
    arrives = shipped + int(rng.integers(24, 96)) * 3_600_000_000
    p_refuse = float(u.refuses_cod[user]) if refuse is None else refuse
    if method == "cod" and rng.random() < p_refuse:
        em.emit(  # the carrier's report names the buyer
            "order.cod_refused",
            arrives,
            market,
            {
                "order_id": order_id,
                "merchant_id": merchant,
                "shipping_address": payload["shipping_address"],
            },
            user=who["user"],
        )
        if p_refuse > 0.4:
            em.label("order", order_id, "cod_refusal", "cod_refusal")
        return order_id
    em.emit(
        "order.delivered",
        arrives,
        market,
        {
            "order_id": order_id,
            "merchant_id": merchant,
            "shipping_address": payload["shipping_address"],
        },
        user=who["user"],
    )
    if not aftercare:  # e.g. a brushed (empty) parcel: no return, the ring writes the review
        return order_id
    if rng.random() < float(u.returns[user]):
        back = arrives + int(rng.integers(1, 6)) * DAY_US
        em.emit(
            "return.requested",
            back,
            market,
            {
                "order_id": order_id,
                "merchant_id": merchant,
                "amount": amount,
                "reason": "changed_mind",
                "currency": MARKETS[market].currency,
            },
            **who,
        )
        em.emit(  # the merchant accepts the return and refunds it
            "refund.issued",
            back + int(rng.integers(2, 6)) * DAY_US,
            market,
            {
                "order_id": order_id,
                "merchant_id": merchant,
                "amount": amount,
                "currency": MARKETS[market].currency,
                "reason": "returned",
            },
            user=who["user"],
        )
    elif rng.random() < 0.01:  # a dispute: not as described
        opened = arrives + int(rng.integers(1, 10)) * DAY_US
        dispute_id = em.new_id("dp")
        em.emit(
            "dispute.opened",
            opened,
            market,
            {
                "order_id": order_id,
                "merchant_id": merchant,
                "dispute_id": dispute_id,
                "reason": "not_as_described",
                "amount": amount,
                "currency": MARKETS[market].currency,
            },
            **who,
        )
        em.emit(
            "dispute.resolved",
            opened + int(rng.integers(2, 8)) * DAY_US,
            market,
            {
                "dispute_id": dispute_id,
                "order_id": order_id,
                "merchant_id": merchant,
                "outcome": "buyer_won" if rng.random() < 0.6 else "merchant_won",
            },
        )
    elif rng.random() < 0.3:
        good = rng.random() < 0.85
        text, lang = (
            GOOD_REVIEWS[int(rng.integers(0, 4))] if good else BAD_REVIEWS[int(rng.integers(0, 4))]
        )
        em.emit(
            "review.posted",
            arrives + int(rng.integers(1, 72)) * 3_600_000_000,
            market,
            {
                "sku": items[0]["sku"],
                "rating": int(rng.integers(4, 6)) if good else int(rng.integers(1, 3)),
                "order_id": order_id,
                "merchant_id": merchant,
                "text": text,
                "language": lang,
            },
            **who,
        )
    return order_id
