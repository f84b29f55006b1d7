"""The attacks, each with ground-truth labels, in two generations: the first as the field
describes them, the second adapted to what detection keys on (slower, more devices, address
variants, aged accounts, residential networks)."""

from __future__ import annotations

from typing import Any

import numpy as np

from riskops.simulator.config import MARKETS
from riskops.simulator.emit import DAY_US, Emitter
from riskops.simulator.legit import CAMPAIGN, place_order
from riskops.simulator.listings import counterfeits, fake_discounts
from riskops.simulator.world import MERCHANT_KINDS, STREETS, World

MIN_US = 60_000_000
HOUR_US = 3_600_000_000
FARM_BASE = 9_000_000  # attacker-made users and devices are numbered from here, each attack
BRUSH, FARM, FARM_DEVICE, TAKEOVER, SCRAPER = (FARM_BASE + k * 2_000_000 for k in range(5))
# in its own block of 2 million numbers (SimConfig caps the population below FARM_BASE / 2)


def generate_day(world: World, em: Emitter, rng: np.random.Generator, day: int) -> None:
    level = world.config.intensity
    if level.get("brushing", 0):
        _brushing(world, em, rng, day, level["brushing"])
    if level.get("coupon_abuse", 0):
        _coupon_farm(world, em, rng, day, level["coupon_abuse"])
    if level.get("account_takeover", 0):
        _takeovers(world, em, rng, day, level["account_takeover"])
    if level.get("refund_abuse", 0):
        _refund_abuse(world, em, rng, day, level["refund_abuse"])
    if level.get("scraping", 0):
        _scrapers(world, em, rng, day, level["scraping"])
    if level.get("fake_discount", 0):
        fake_discounts(world, em, rng, day)
    if level.get("counterfeit", 0):
        counterfeits(world, em, rng, day)


def _gen2(world: World) -> bool:
    return world.config.generation == 2


def _brushing(world: World, em: Emitter, rng: np.random.Generator, day: int, level: float) -> None:
    """Merchant-run rings of buyer accounts sharing devices and an address place fast repeat
    low-value orders of the merchant's items, then five-star reviews right after delivery."""
    brushers = np.flatnonzero(world.merchants.kind == MERCHANT_KINDS.index("brushing"))
    for merchant in brushers:
        m = int(merchant)
        ring = 14 if _gen2(world) else 8
        devices = 7 if _gen2(world) else 2
        skus = np.flatnonzero(world.skus.merchant == m)
        if not len(skus):
            continue
        orders = int(rng.poisson(6 * level))
        start = em.day_start_us(day) + int(rng.integers(8, 20)) * HOUR_US
        for k in range(orders):
            buyer = BRUSH + m * 100 + int(rng.integers(0, ring))
            user = _attacker_user(em, buyer, int(world.merchants.market[m]))
            device = em.device_id(BRUSH + m * 100 + buyer % devices)
            gap = (
                int(rng.integers(2, 50)) * HOUR_US // 10
                if _gen2(world)
                else int(rng.integers(1, 4)) * MIN_US
            )
            at = start + k * gap
            who: dict[str, Any] = {
                "user": em.user_id(buyer),
                "device": device,
                "ip": f"{_ip_block(m)}.{buyer % (30 if _gen2(world) else 3) + 2}",
            }
            house = 7 + (k % 3 if _gen2(world) else 0)
            address = em.address(user, house=house, street=STREETS[m % len(STREETS)])
            sku = int(skus[int(rng.integers(0, len(skus)))])
            order = place_order(
                world,
                em,
                rng,
                user,
                at,
                [sku],
                who,
                address=address,
                method="wallet",
                refuse=0.0,
                aftercare=False,
            )
            em.label("order", order, "brushing", "brushing")
            em.label("user", who["user"], "brushing", "brushing")
            stars_at = (
                at
                + (int(rng.integers(40, 90)) if not _gen2(world) else int(rng.integers(90, 200)))
                * HOUR_US
            )
            em.emit(
                "review.posted",
                stars_at,
                em.market_of(user),
                {
                    "sku": f"sku{sku}",
                    "rating": 5,
                    "order_id": order,
                    "merchant_id": f"m{m:05d}",
                    "text": "Perfect!! 完美",
                    "language": "en",
                },
                **who,
            )
        em.label("merchant", f"m{m:05d}", "brushing", "brushing")


def _attacker_user(em: Emitter, number: int, market_index: int) -> int:
    """Attacker accounts are numbered beyond the population; each borrows the market and
    habits of a real user of ``market_index``."""
    in_market = np.flatnonzero(em.world.users.market == market_index)
    if not len(in_market):
        return number % len(em.world.users)
    return int(in_market[number % len(in_market)])


def _ip_block(seed: int) -> str:
    return f"45.{(seed * 7) % 200 + 20}.{(seed * 13) % 250}"


def _coupon_farm(
    world: World, em: Emitter, rng: np.random.Generator, day: int, level: float
) -> None:
    """Scripted new accounts on emulators or a few shared devices claim the sale's coupon and
    redeem it within seconds, shipping to many spellings of one drop address."""
    gen2 = _gen2(world)
    accounts = int(40 * level)
    market = world.markets[day % len(world.markets)]
    spellings = ("Jalan Sudirman", "Jl. Sudirman", "JL SUDIRMAN", "Jln Sudirman", "Sudirman St.")
    start = em.day_start_us(day) + int(rng.integers(1, 5)) * HOUR_US
    for k in range(accounts):
        number = FARM + day * 1000 + k
        device_n = FARM_DEVICE + (k // 2 if gen2 else k % 3)
        device: dict[str, Any] = {
            "fingerprint": em.device_id(device_n),
            "emulator": not gen2,
            "model": "Pixel 7" if gen2 else "generic_x86",
        }
        who: dict[str, Any] = {
            "user": em.user_id(number),
            "device": device,
            "ip": f"{_ip_block(day + 99)}.{(k if gen2 else k % 4) % 250 + 2}",
        }
        at = start + k * (int(rng.integers(20, 90)) * MIN_US if gen2 else 15_000_000)
        if not gen2:  # fresh accounts; the adapted farm uses accounts aged for weeks
            em.emit(
                "user.registered",
                at - 30_000_000,
                market,
                {
                    "email": f"promo{number}@mail.example",
                    "channel": "ads",
                    "phone": f"{MARKETS[market].phone_prefix}{number % 10_000_000:07d}",
                },
                **who,
            )
        claim = em.emit(
            "coupon.claimed",
            at,
            market,
            {"coupon_code": "SALE10", "campaign_id": CAMPAIGN, "value": 10.0},
            **who,
        )
        em.label("event", claim["event_id"], "coupon_abuse", "coupon_abuse")
        em.label("user", who["user"], "coupon_abuse", "coupon_abuse")
        redeem_at = at + (int(rng.integers(2, 8)) * HOUR_US if gen2 else 8_000_000)
        address = {
            "line1": f"{12 + (k % 2 if gen2 else 0)} {spellings[k % len(spellings)]}",
            "city": MARKETS[market].city,
            "country": market,
            "phone": f"{MARKETS[market].phone_prefix}{number % 10_000_000:07d}",
        }
        user = _attacker_user(em, number, world.markets.index(market))  # the claim's market
        sku = int(rng.integers(0, len(world.skus.price)))
        order = place_order(
            world,
            em,
            rng,
            user,
            redeem_at,
            [sku],
            who,
            address=address,
            method="cod" if MARKETS[market].cod_share > 0.1 else "wallet",
            refuse=0.0,
            aftercare=False,
        )
        em.emit(
            "coupon.redeemed",
            redeem_at + 1_000_000,
            market,
            {
                "coupon_code": "SALE10",
                "campaign_id": CAMPAIGN,
                "order_id": order,
                "discount_amount": 10.0,
            },
            **who,
        )
        em.label("order", order, "coupon_abuse", "coupon_abuse")


def _takeovers(world: World, em: Emitter, rng: np.random.Generator, day: int, level: float) -> None:
    """Failed logins, then a login from a new device and place, an address change, and a
    high-value order soon after."""
    u = world.users
    aged = np.flatnonzero(u.signup_day < -30)
    gen2 = _gen2(world)
    for _ in range(int(rng.poisson(5 * level))):
        victim = int(aged[int(rng.integers(0, len(aged)))])
        market = em.market_of(victim)
        device = em.device_id(TAKEOVER + int(rng.integers(0, 10_000)))
        ip = (
            em.home_ip(victim).rsplit(".", 1)[0] + ".251"
            if gen2
            else f"185.220.{day % 250}.{victim % 250}"
        )
        who: dict[str, Any] = {"user": em.user_id(victim), "device": device, "ip": ip}
        at = em.day_start_us(day) + int(rng.integers(0, 24)) * HOUR_US
        for k in range(1 if gen2 else int(rng.integers(4, 9))):
            em.emit("login.failed", at + k * 10_000_000, market, {"reason": "bad_password"}, **who)
        at += (30 if gen2 else 1) * MIN_US
        login = em.emit("login.succeeded", at, market, {"method": "password"}, **who)
        em.label("event", login["event_id"], "account_takeover", "account_takeover")
        drop = {
            "line1": f"{int(rng.integers(1, 99))} Harbour View",
            "city": MARKETS[market].city,
            "country": market,
        }
        em.emit("address.changed", at + 2 * MIN_US, market, {"address": drop}, **who)
        expensive = np.flatnonzero(world.skus.price > 150)
        cart = [int(s) for s in rng.choice(expensive, size=2)] if len(expensive) else [0]
        order_at = at + (int(rng.integers(2, 6)) * HOUR_US if gen2 else 5 * MIN_US)
        order = place_order(
            world, em, rng, victim, order_at, cart, who, address=drop, method="card", refuse=0.0
        )
        em.label("order", order, "account_takeover", "account_takeover")
        em.emit(
            "chargeback.received",
            order_at + int(rng.integers(5, 20)) * DAY_US,
            market,
            {
                "order_id": order,
                "amount": 1.0,
                "currency": MARKETS[market].currency,
                "reason_code": "unauthorized",
            },
        )


def _refund_abuse(
    world: World, em: Emitter, rng: np.random.Generator, day: int, level: float
) -> None:
    """A pool of accounts (0.4 % of users) that order and then claim "item not received"
    refunds, again and again (the adapted ones wait longer and also keep some orders)."""
    pool = max(4, int(len(world.users) * 0.004 * level))
    abusers = (np.arange(pool) * 7919 + FARM_BASE) % len(world.users)
    for abuser in abusers[rng.random(pool) < 0.3]:  # each acts every few days
        user = int(abuser)
        market = em.market_of(user)
        who: dict[str, Any] = {
            "user": em.user_id(user),
            "ip": em.home_ip(user),
            "device": em.device_id(int(world.users.device[user])),
        }
        at = em.day_start_us(day) + int(rng.integers(8, 22)) * HOUR_US
        sku = int(rng.integers(0, len(world.skus.price)))
        order = place_order(
            world, em, rng, user, at, [sku], who, method="card", refuse=0.0, follow_up=False
        )
        em.label("user", who["user"], "refund_abuse", "refund_abuse")
        if _gen2(world) and rng.random() < 0.3:
            continue  # the adapted abuser keeps some orders to look normal
        amount = round(float(world.skus.price[sku]) * MARKETS[market].price_scale, 2)
        wait = int(rng.integers(6, 12) if _gen2(world) else rng.integers(2, 5)) * DAY_US
        refund = em.emit(
            "refund.requested",
            at + wait,
            market,
            {
                "order_id": order,
                "amount": amount,
                "reason": "item_not_received",
                "currency": MARKETS[market].currency,
            },
            **who,
        )
        em.label("event", refund["event_id"], "refund_abuse", "refund_abuse")
        em.label("order", order, "refund_abuse", "refund_abuse")


def _scrapers(world: World, em: Emitter, rng: np.random.Generator, day: int, level: float) -> None:
    """High-rate page views at a regular cadence (the adapted ones jitter and rotate IPs)."""
    gen2 = _gen2(world)
    for s in range(max(1, int(2 * level))):
        device = em.device_id(SCRAPER + s)
        market = world.markets[s % len(world.markets)]
        at = em.day_start_us(day) + int(rng.integers(0, 12)) * HOUR_US
        views = int(400 * level)
        for k in range(views):
            gap = int(rng.integers(3, 20)) * 1_000_000 if gen2 else 1_000_000
            at += gap
            ip = f"{_ip_block(s + 7)}.{(k // 20) % 250 + 2}" if gen2 else f"{_ip_block(s + 7)}.9"
            view = em.emit(
                "page.viewed",
                at,
                market,
                {
                    "page": f"/p/{k % len(world.skus.price)}",
                    "page_type": "product",
                    "dwell_ms": 200 if not gen2 else int(rng.integers(800, 4000)),
                },
                device=device,
                ip=ip,
            )
            if k % 50 == 0:
                em.label("event", view["event_id"], "scraping", "scraping")
        em.label("device", device, "scraping", "scraping")
