"""Merchant credit as a points scorecard (pure): operating facts in; score 0-100 from a base
of 70, tier ``A``-``D`` or ``suspended``, reasons in English and Chinese, and the tier's
traffic-exposure multiplier out. See docs/credit.md."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from riskops.core.credit.model import (
    CreditInputError,
    Factor,
    Reason,
    check_facts,
    note,
    ordered,
)

MERCHANT_BASE, MERCHANT_MIN, MERCHANT_MAX = 70, 0, 100
RATE_FLOOR = 100
"""Rates are counted over at least this many orders, so a handful of orders cannot swing them."""
LATE_HOURS = 48
"""An order shipped more than this many hours after it was placed shipped late."""

MERCHANT_SCORECARD: tuple[Factor, ...] = (
    Factor("MONTHS_ACTIVE", 1, 10, "per full month since the first order",
           "Selling for {months} month{s}", "经营{months}个月"),
    Factor("ORDERS", 1, 10, "per 100 orders (365 days)",
           "{orders} orders in the last 365 days", "近365天订单{orders}笔"),
    Factor("GMV", 1, 10, "per $10,000 of order value (365 days)",
           "GMV of ${usd} in the last 365 days", "近365天成交额{usd}美元"),
    Factor("COMPLAINTS", -2, 20, "per complaint per 1,000 orders above 5",
           "{rate} complaints per 1,000 orders", "每千单投诉{rate}次"),
    Factor("DISPUTES", -2, 20, "per dispute per 1,000 orders above 2",
           "{rate} disputes per 1,000 orders", "每千单纠纷{rate}次"),
    Factor("DISPUTES_LOST", -3, 15, "per dispute decided for the buyer (365 days)",
           "Lost {n} dispute{s} to buyers in the last 365 days", "近365天纠纷败诉{n}次"),
    Factor("LATE_SHIPMENTS", -1, 25, "per point of % shipped > 48 h after the order, above 5%",
           "{pct}% of orders shipped more than 48 hours after the order",
           "{pct}%的订单在下单48小时后才发货"),
    Factor("REFUNDS", -1, 15, "per point of % of orders refunded, above 5%",
           "{pct}% of orders refunded", "{pct}%的订单退款"),
    Factor("FAKE_DISCOUNT", -15, 30, "per fake-discount finding",
           "{n} fake-discount finding{s}", "虚假折扣违规{n}次"),
    Factor("BRUSHING", -20, 40, "per brushing finding",
           "{n} brushing finding{s}", "刷单违规{n}次"),
    Factor("COUNTERFEIT", -40, 40, "per counterfeit finding (and the tier is suspended)",
           "{n} counterfeit finding{s}", "售假违规{n}次"),
)  # fmt: skip
"""The merchant scorecard; rate factors count whole units above their allowance."""

MERCHANT_BANDS: tuple[tuple[str, int], ...] = (("A", 85), ("B", 70), ("C", 50), ("D", 0))
"""Lowest score of each merchant tier."""
MERCHANT_TIERS: tuple[str, ...] = ("suspended", "D", "C", "B", "A")
DEFAULT_EXPOSURE: dict[str, float] = {"A": 1.2, "B": 1.0, "C": 0.7, "D": 0.4, "suspended": 0.0}
"""Traffic-exposure multiplier per tier; a platform passes its own to :func:`merchant_exposure`."""
MERCHANT_NOTES: dict[str, tuple[str, str]] = {
    "SUSPENDED_COUNTERFEIT": ("Counterfeit finding on record: suspended",
                              "存在售假违规记录：暂停曝光"),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class MerchantFacts:
    """A merchant's operating record as of ``as_of`` (orders placed in the last 365 days and
    what became of them). A fact is None when the data do not record it at all: then it moves
    no points. ``shipped`` counts the orders with a known shipping time, ``late_shipments``
    those shipped more than 48 h after the order."""

    merchant_id: str
    months_active: float = 0.0
    orders: int = 0
    gmv_usd: float = 0.0
    complaints: int | None = None
    disputes: int = 0
    disputes_lost: int | None = None
    shipped: int | None = None
    late_shipments: int | None = None
    refunds: int = 0
    fake_discount: int = 0
    counterfeit: int = 0
    brushing: int = 0
    as_of: datetime | None = None


@dataclass(frozen=True, slots=True)
class MerchantCredit:
    """A merchant's score (0-100), tier, exposure multiplier and reasons (as for users)."""

    merchant_id: str
    score: int
    tier: str
    exposure: float
    reasons: tuple[Reason, ...]
    facts: MerchantFacts


def merchant_exposure(overrides: Mapping[str, object] | None = None) -> dict[str, float]:
    """The default exposure multipliers with ``overrides`` (tier → multiplier) applied."""
    out = dict(DEFAULT_EXPOSURE)
    for tier, value in (overrides or {}).items():
        if tier not in out:
            raise CreditInputError(f"exposure.{tier}", f"not a tier ({', '.join(out)})")
        if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
            raise CreditInputError(f"exposure.{tier}", "a non-negative multiplier")
        out[tier] = float(value)
    return out


def score_merchant(
    facts: MerchantFacts, exposure: dict[str, float] | None = None
) -> MerchantCredit:
    """Score one merchant from their facts (see :data:`MERCHANT_SCORECARD`)."""
    check_facts(facts, ("complaints", "disputes_lost", "shipped", "late_shipments"))
    if (facts.shipped is None) != (facts.late_shipments is None):
        raise CreditInputError("late_shipments", "give both shipped and late_shipments, or none")
    if facts.late_shipments is not None and facts.late_shipments > (facts.shipped or 0):
        raise CreditInputError("late_shipments", "cannot exceed shipped")
    per_order = max(facts.orders, RATE_FLOOR)
    units: dict[str, tuple[int, dict[str, object]]] = {
        "MONTHS_ACTIVE": (int(facts.months_active), {"months": int(facts.months_active)}),
        "ORDERS": (facts.orders // 100, {"orders": f"{facts.orders:,}"}),
        "GMV": (int(facts.gmv_usd // 10_000), {"usd": f"{facts.gmv_usd:,.0f}"}),
        "COMPLAINTS": _rate(facts.complaints, per_order, 1000, 5),
        "DISPUTES": _rate(facts.disputes, per_order, 1000, 2),
        "DISPUTES_LOST": (facts.disputes_lost or 0, {}),
        "LATE_SHIPMENTS": _rate(
            facts.late_shipments, max(facts.shipped or 0, RATE_FLOOR), 100, 5, "pct"
        ),
        "REFUNDS": _rate(facts.refunds, per_order, 100, 5, "pct"),
        "FAKE_DISCOUNT": (facts.fake_discount, {}),
        "BRUSHING": (facts.brushing, {}),
        "COUNTERFEIT": (facts.counterfeit, {}),
    }
    moved = [f.reason(*units[f.code]) for f in MERCHANT_SCORECARD]
    total = MERCHANT_BASE + sum(r.points for r in moved)
    score = min(MERCHANT_MAX, max(MERCHANT_MIN, total))
    notes: list[Reason] = []
    if facts.counterfeit:
        notes.append(note(MERCHANT_NOTES, "SUSPENDED_COUNTERFEIT"))
        tier = "suspended"
    else:
        tier = next(t for t, low in MERCHANT_BANDS if score >= low)
    table = exposure if exposure is not None else DEFAULT_EXPOSURE
    reasons = (*notes, *ordered(moved))
    return MerchantCredit(facts.merchant_id, score, tier, table[tier], reasons, facts)


def _rate(
    count: int | None, over: int, per: int, allowed: int, key: str = "rate"
) -> tuple[int, dict[str, object]]:
    """Whole units of ``count`` per ``per`` of ``over`` above ``allowed`` (0 when unknown)."""
    if count is None:
        return 0, {key: "n/a"}
    excess = max(0, (count * per - allowed * over) // over)
    return excess, {key: f"{count * per / over:.1f}"}
