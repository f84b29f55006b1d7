"""What a simulation makes: the marketplace's size, its markets, how much of each attack, and
which generation of attackers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime


@dataclass(frozen=True, slots=True)
class Market:
    code: str
    currency: str
    price_scale: float
    """Local price of one "unit" (about 1 USD)."""
    cod_share: float
    """Share of honest orders paid cash on delivery."""
    city: str
    phone_prefix: str
    lat: float
    lon: float


MARKETS: dict[str, Market] = {
    m.code: m
    for m in (
        Market("ID", "IDR", 15_000.0, 0.45, "Jakarta", "0812", -6.2088, 106.8456),
        Market("TH", "THB", 35.0, 0.30, "Bangkok", "081", 13.7563, 100.5018),
        Market("MY", "MYR", 4.5, 0.20, "Kuala Lumpur", "012", 3.139, 101.6869),
        Market("SG", "SGD", 1.35, 0.05, "Singapore", "9123", 1.3521, 103.8198),
        Market("CN", "CNY", 7.2, 0.03, "Shanghai", "138", 31.2304, 121.4737),
        Market("DE", "EUR", 0.92, 0.04, "Berlin", "0151", 52.52, 13.405),
    )
}

ATTACKS: tuple[str, ...] = (
    "brushing",
    "coupon_abuse",
    "account_takeover",
    "cod_refusal",
    "refund_abuse",
    "scraping",
    "fake_discount",
    "counterfeit",
)


@dataclass(frozen=True, slots=True)
class SimConfig:
    seed: int = 7
    start: datetime = datetime(2026, 11, 1, tzinfo=UTC)
    days: int = 7
    users: int = 20_000
    merchants: int = 400
    skus: int = 8_000
    markets: tuple[str, ...] = ("ID", "TH", "MY", "SG", "CN", "DE")
    generation: int = 1
    """1: attackers as the field describes them; 2: adapted to evade what detection keys on
    (slower, more devices, address variants, aged accounts)."""
    intensity: dict[str, float] = field(
        default_factory=lambda: {
            "brushing": 1.0,
            "coupon_abuse": 1.0,
            "account_takeover": 1.0,
            "cod_refusal": 1.0,
            "refund_abuse": 1.0,
            "scraping": 1.0,
            "fake_discount": 1.0,
            "counterfeit": 1.0,
        }
    )
    """Multiplier of each attack's default volume (0 turns it off)."""

    def __post_init__(self) -> None:
        problems = []
        if self.days < 1 or self.days > 366:
            problems.append("days must be between 1 and 366")
        if not 100 <= self.users <= 4_000_000:
            problems.append("users must be between 100 and 4,000,000")
        if self.merchants < 10 or self.skus < self.merchants:
            problems.append("merchants must be at least 10, and skus at least merchants")
        if self.generation not in (1, 2):
            problems.append("generation must be 1 or 2")
        unknown = [m for m in self.markets if m not in MARKETS]
        if unknown or not self.markets:
            problems.append(f"markets must be among {', '.join(MARKETS)}")
        bad = [k for k in self.intensity if k not in ATTACKS]
        if bad or any(v < 0 for v in self.intensity.values()):
            problems.append(f"intensity keys must be among {', '.join(ATTACKS)}, each >= 0")
        if self.start.tzinfo is None:
            problems.append("start needs a time zone")
        if problems:
            raise ValueError("; ".join(problems))
