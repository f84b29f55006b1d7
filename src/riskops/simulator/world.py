"""The marketplace's population, drawn at once in arrays (numpy, seeded): users with their
market, channel, age, devices, network, address and habits; merchants and their kind; the
catalogue with prices."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from riskops.simulator.config import MARKETS, SimConfig

CHANNELS = ("search", "ads", "content", "live", "social", "referral", "private_domain")
CHANNEL_WEIGHTS = (0.30, 0.20, 0.15, 0.10, 0.10, 0.08, 0.07)
MARKET_WEIGHTS = {"ID": 0.35, "TH": 0.20, "MY": 0.15, "SG": 0.10, "CN": 0.10, "DE": 0.10}
CATEGORIES = ("fashion", "beauty", "electronics", "home", "grocery", "toys", "sports", "books")
STREETS = (
    "Jalan Sudirman",
    "Sukhumvit Road",
    "Jalan Ampang",
    "Orchard Road",
    "Nanjing Road",
    "Friedrichstrasse",
    "Main Street",
    "Market Lane",
    "Harbour View",
    "Station Road",
)
MERCHANT_KINDS = ("honest", "brushing", "fake_discount", "counterfeit")


@dataclass(frozen=True)
class Users:
    market: np.ndarray  # index into markets
    channel: np.ndarray  # index into CHANNELS
    signup_day: np.ndarray  # day of signup relative to the start (negative: before)
    activity: np.ndarray  # expected sessions per day
    device: np.ndarray  # device number
    second_device: np.ndarray  # -1 or a second device number
    ip_host: np.ndarray  # last octet of the home ip
    street: np.ndarray  # address: street index
    house: np.ndarray  # address: house number
    refuses_cod: np.ndarray  # probability to refuse a COD parcel
    returns: np.ndarray  # probability to return a delivered order
    cod_pref: np.ndarray  # probability to choose COD where offered

    def __len__(self) -> int:
        return int(self.market.shape[0])


@dataclass(frozen=True)
class Merchants:
    market: np.ndarray
    kind: np.ndarray  # index into MERCHANT_KINDS
    category: np.ndarray


@dataclass(frozen=True)
class Catalogue:
    merchant: np.ndarray
    price: np.ndarray  # in units (about 1 USD)
    category: np.ndarray


@dataclass(frozen=True)
class World:
    config: SimConfig
    markets: tuple[str, ...]
    users: Users
    merchants: Merchants
    skus: Catalogue


def build_world(config: SimConfig, rng: np.random.Generator) -> World:
    markets = config.markets
    weights = np.array([MARKET_WEIGHTS.get(m, 0.1) for m in markets])
    weights /= weights.sum()
    n = config.users
    market = rng.choice(len(markets), size=n, p=weights)
    channel = rng.choice(len(CHANNELS), size=n, p=np.array(CHANNEL_WEIGHTS))
    aged = rng.random(n) < 0.75  # most users registered before the window
    signup_day = np.where(aged, -rng.integers(1, 730, size=n), rng.integers(0, config.days, size=n))
    activity = rng.lognormal(mean=np.log(0.22), sigma=0.9, size=n).clip(0.01, 4.0)
    device = np.arange(n) + 1  # one device each; some share below (families, offices)
    shared = rng.random(n) < 0.03
    device = np.where(shared, rng.integers(1, n + 1, size=n), device)
    second_device = np.where(rng.random(n) < 0.2, n + 1 + np.arange(n), -1)
    ip_host = rng.integers(2, 250, size=n)
    street = rng.integers(0, len(STREETS), size=n)
    house = rng.integers(1, 10_000, size=n)  # with the street: about unique per city
    cod_markets = np.array([MARKETS[m].cod_share for m in markets])[market]
    # about one COD parcel in five is refused, most of them by a few habitual refusers
    refusers = rng.random(n) < 0.12 * config.intensity.get("cod_refusal", 1.0) * (cod_markets > 0.1)
    activity = np.where(refusers, activity * 3, activity)  # impulsive buyers order often
    # serial refusers open several accounts: three accounts share each refusing household
    refuser_ids = np.flatnonzero(refusers)
    for k in range(0, len(refuser_ids) - 2, 3):
        head, rest = refuser_ids[k], refuser_ids[k + 1 : k + 3]
        market[rest] = market[head]
        street[rest] = street[head]
        house[rest] = house[head]
    refuses_cod = np.where(refusers, rng.uniform(0.6, 0.95, size=n), rng.uniform(0.0, 0.06, size=n))
    returns = rng.beta(1.2, 14.0, size=n)
    cod_pref = (cod_markets * rng.uniform(0.5, 1.5, size=n)).clip(0, 0.95)
    users = Users(
        market,
        channel,
        signup_day,
        activity,
        device,
        second_device,
        ip_host,
        street,
        house,
        refuses_cod,
        returns,
        cod_pref,
    )
    m = config.merchants
    kind_weights = np.array([0.95, 0.02, 0.02, 0.01])
    kind_weights[1] *= config.intensity.get("brushing", 1.0)
    kind_weights[2] *= config.intensity.get("fake_discount", 1.0)
    kind_weights[3] *= config.intensity.get("counterfeit", 1.0)
    kind_weights /= kind_weights.sum()
    merchants = Merchants(
        market=rng.choice(len(markets), size=m, p=weights),
        kind=rng.choice(len(MERCHANT_KINDS), size=m, p=kind_weights),
        category=rng.integers(0, len(CATEGORIES), size=m),
    )
    sku_merchant = rng.integers(0, m, size=config.skus)
    skus = Catalogue(
        merchant=sku_merchant,
        price=np.round(rng.lognormal(mean=np.log(18.0), sigma=1.0, size=config.skus), 2).clip(
            0.5, 2_000
        ),
        category=merchants.category[sku_merchant],
    )
    return World(config, markets, users, merchants, skus)
