"""User and merchant credit as points scorecards (pure: facts in, score, tier and reasons out).

Each factor adds or takes away a fixed number of points per unit of evidence, up to a cap, so
a score is the sum of a short table a person can read back: one more refusal, chargeback or
complaint never raises it, one more accepted delivery never lowers it. Tiers are score bands
with a few overrides (a block, a recent chargeback, a counterfeit finding) that say why.

* user credit: 300-850 from a base of 600; tiers ``restricted``, ``new``, ``bronze``,
  ``silver``, ``gold``, ``platinum``, each with default privileges a platform overrides.
* merchant credit: 0-100 from a base of 70; tiers ``A``-``D`` and ``suspended``, each with a
  traffic-exposure multiplier.

The scorecards (:data:`USER_SCORECARD`, :data:`MERCHANT_SCORECARD`) are data; docs/credit.md
prints them."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason behind a score: its code, the points it moved (0 for a tier note) and the
    same sentence in English and Simplified Chinese."""

    code: str
    points: int
    en: str
    zh: str


@dataclass(frozen=True, slots=True)
class Factor:
    """A scorecard line: ``points`` per unit of ``rule`` (negative ones lower the score), the
    total held to ``cap`` points either way; ``en``/``zh`` are the reason's text templates."""

    code: str
    points: int
    cap: int
    rule: str
    en: str
    zh: str

    def total(self, units: int) -> int:
        moved = min(self.cap, abs(self.points) * units)
        return moved if self.points > 0 else -moved

    def reason(self, units: int, values: dict[str, object]) -> Reason:
        fill = {"n": units, "excess": units, **values}
        fill["s"] = "" if fill["n"] == 1 else "s"
        return Reason(self.code, self.total(units), self.en.format(**fill), self.zh.format(**fill))


def note(texts: dict[str, tuple[str, str]], code: str, **values: object) -> Reason:
    en, zh = texts[code]
    values["s"] = "" if values.get("n") == 1 else "s"
    return Reason(code, 0, en.format(**values), zh.format(**values))


USER_BASE, USER_MIN, USER_MAX = 600, 300, 850
RECENT_DAYS = 90
"""A chargeback this recent restricts the account; COD refusals this recent cost the most."""

USER_SCORECARD: tuple[Factor, ...] = (
    Factor("TENURE", 5, 100, "per full 30 days since first seen",
           "Customer for {days} days", "成为用户{days}天"),
    Factor("DELIVERIES", 6, 90, "per delivery accepted (365 days)",
           "Accepted {n} delivered order{s} in the last 365 days", "近365天签收包裹{n}个"),
    Factor("SPEND", 1, 60, "per full $20 spent on kept orders (365 days)",
           "Spent ${usd} in the last 365 days", "近365天消费{usd}美元"),
    Factor("COD_REFUSALS", -50, 200, "per cash-on-delivery parcel refused (90 days)",
           "Refused {n} cash-on-delivery parcel{s} in the last 90 days",
           "近90天拒收货到付款包裹{n}次"),
    Factor("COD_REFUSALS_OLDER", -20, 80, "per COD parcel refused 91-365 days ago",
           "Refused {n} cash-on-delivery parcel{s} 91-365 days ago",
           "91至365天前拒收货到付款包裹{n}次"),
    Factor("RETURNS", -10, 80, "per return beyond 1 in 5 orders (365 days)",
           "Requested {n} return{s} in the last 365 days, {excess} more than 1 in 5 orders",
           "近365天申请退货{n}次，超出每5单1次{excess}次"),
    Factor("REFUNDS", -10, 80, "per refund without a return beyond 1 in 5 orders (365 days)",
           "Got {n} refund{s} without a return in the last 365 days, {excess} more than 1 in 5"
           " orders", "近365天未退货退款{n}次，超出每5单1次{excess}次"),
    Factor("DISPUTES", -10, 40, "per dispute opened (365 days)",
           "Opened {n} dispute{s} in the last 365 days", "近365天发起纠纷{n}次"),
    Factor("DISPUTES_LOST", -30, 90, "per dispute decided for the merchant (365 days)",
           "Lost {n} dispute{s} in the last 365 days", "近365天纠纷败诉{n}次"),
    Factor("CHARGEBACKS", -100, 200, "per chargeback (365 days)",
           "{n} chargeback{s} in the last 365 days", "近365天发生拒付{n}次"),
)  # fmt: skip
"""The user scorecard: points per unit, the cap on the factor's total, and its reason text."""

USER_BANDS: tuple[tuple[str, int], ...] = (
    ("platinum", 800),
    ("gold", 730),
    ("silver", 650),
    ("bronze", 450),
)
"""Lowest score of each tier; below the last, ``restricted`` (note ``LOW_SCORE``)."""
USER_TIERS: tuple[str, ...] = ("restricted", "new", "bronze", "silver", "gold", "platinum")
"""Every user tier, least trusted first."""

USER_NOTES: dict[str, tuple[str, str]] = {
    "BLOCKED": ("On the block list: tier restricted", "在黑名单中：等级受限"),
    "ABUSE_LABEL": ("Account labelled for abuse ({labels}): tier restricted",
                    "账户被标记为滥用（{labels}）：等级受限"),
    "RECENT_CHARGEBACK": ("{n} chargeback{s} in the last 90 days: tier restricted",
                          "近90天发生拒付{n}次：等级受限"),
    "LOW_SCORE": ("Score {score} is below {floor}: tier restricted",
                  "信用分{score}低于{floor}：等级受限"),
    "NEW_ACCOUNT": ("First seen {days} days ago: too new to rate",
                    "首次出现于{days}天前：太新无法评级"),
    "NO_RECENT_ORDERS": ("No orders in the last 365 days: too little to rate",
                         "近365天无订单：记录太少无法评级"),
    "ATO_VICTIM": ("Account takeover on record: the attacker's orders are not counted against you",
                   "曾被盗号：盗号者的订单不计入信用"),
}  # fmt: skip
"""Tier notes (0 points): why a tier was set apart from the score bands, and the takeover note."""


class CreditInputError(ValueError):
    """Facts or settings a scorecard cannot use; ``field`` names the fact or setting."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class UserFacts:
    """What is known of one user as of ``as_of``; counts are of distinct orders, windows end
    at ``as_of``. ``disputes_lost_365d`` is None when the data do not record outcomes."""

    user_id: str
    tenure_days: float = 0.0
    orders_365d: int = 0
    spend_365d_usd: float = 0.0
    delivered_365d: int = 0
    cod_refusals_90d: int = 0
    cod_refusals_365d: int = 0
    returns_365d: int = 0
    refunds_without_return_365d: int = 0
    disputes_opened_365d: int = 0
    disputes_lost_365d: int | None = None
    chargebacks_90d: int = 0
    chargebacks_365d: int = 0
    ato_victim: bool = False
    blocked: bool = False
    abuse_labels: tuple[str, ...] = ()
    as_of: datetime | None = None


@dataclass(frozen=True, slots=True)
class Privileges:
    """What a tier allows; ``new_user_cap_usd`` caps one order's value (None: no cap)."""

    express_refund: bool
    password_free_limit_usd: float
    pay_later: bool
    new_user_cap_usd: float | None


DEFAULT_PRIVILEGES: dict[str, Privileges] = {
    "restricted": Privileges(False, 0.0, False, 100.0),
    "new": Privileges(False, 0.0, False, 200.0),
    "bronze": Privileges(False, 50.0, False, None),
    "silver": Privileges(False, 100.0, True, None),
    "gold": Privileges(True, 200.0, True, None),
    "platinum": Privileges(True, 500.0, True, None),
}
"""Defaults per tier; a platform passes its own to :func:`user_privileges`."""


@dataclass(frozen=True, slots=True)
class UserCredit:
    """A user's score (300-850), tier, privileges and reasons: tier notes first (0 points),
    then the factors lowering the score (worst first), then those raising it (best first)."""

    user_id: str
    score: int
    tier: str
    reasons: tuple[Reason, ...]
    privileges: Privileges
    facts: UserFacts

    @property
    def lowering(self) -> tuple[Reason, ...]:
        return tuple(r for r in self.reasons if r.points < 0)

    @property
    def raising(self) -> tuple[Reason, ...]:
        return tuple(r for r in self.reasons if r.points > 0)


def user_privileges(
    overrides: Mapping[str, Mapping[str, object]] | None = None,
) -> dict[str, Privileges]:
    """The default privileges with ``overrides`` (tier → {field: value}) applied."""
    out = dict(DEFAULT_PRIVILEGES)
    for tier, changes in (overrides or {}).items():
        if tier not in out:
            raise CreditInputError(f"privileges.{tier}", f"not a tier ({', '.join(USER_TIERS)})")
        values = {f.name: getattr(out[tier], f.name) for f in fields(Privileges)}
        for name, value in changes.items():
            where = f"privileges.{tier}.{name}"
            if name not in values:
                raise CreditInputError(where, f"not a privilege ({', '.join(values)})")
            if name in ("express_refund", "pay_later"):
                if not isinstance(value, bool):
                    raise CreditInputError(where, "true or false")
            elif not (value is None and name == "new_user_cap_usd"):
                if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                    raise CreditInputError(where, "a non-negative amount in US dollars")
                value = float(value)
            values[name] = value
        out[tier] = Privileges(**values)
    return out


def score_user(facts: UserFacts, privileges: dict[str, Privileges] | None = None) -> UserCredit:
    """Score one user from their facts (see :data:`USER_SCORECARD`)."""
    check_facts(facts, ("disputes_lost_365d",))
    for recent, whole in (("cod_refusals_90d", "cod_refusals_365d"),
                          ("chargebacks_90d", "chargebacks_365d")):  # fmt: skip
        if getattr(facts, recent) > getattr(facts, whole):
            raise CreditInputError(recent, f"cannot exceed {whole} (the 90 days are in it)")
    allowance = facts.orders_365d // 5
    older = facts.cod_refusals_365d - facts.cod_refusals_90d
    units: dict[str, tuple[int, dict[str, object]]] = {
        "TENURE": (int(facts.tenure_days // 30), {"days": int(facts.tenure_days)}),
        "DELIVERIES": (facts.delivered_365d, {}),
        "SPEND": (int(facts.spend_365d_usd // 20), {"usd": f"{facts.spend_365d_usd:,.0f}"}),
        "COD_REFUSALS": (facts.cod_refusals_90d, {}),
        "COD_REFUSALS_OLDER": (older, {"n": older}),
        "RETURNS": (max(0, facts.returns_365d - allowance), {"n": facts.returns_365d}),
        "REFUNDS": (
            max(0, facts.refunds_without_return_365d - allowance),
            {"n": facts.refunds_without_return_365d},
        ),
        "DISPUTES": (facts.disputes_opened_365d, {}),
        "DISPUTES_LOST": (facts.disputes_lost_365d or 0, {}),
        "CHARGEBACKS": (facts.chargebacks_365d, {}),
    }
    moved = [f.reason(*units[f.code]) for f in USER_SCORECARD]
    score = min(USER_MAX, max(USER_MIN, USER_BASE + sum(r.points for r in moved)))
    notes: list[Reason] = []
    if facts.blocked:
        notes.append(note(USER_NOTES, "BLOCKED"))
    if facts.abuse_labels:
        notes.append(note(USER_NOTES, "ABUSE_LABEL", labels=", ".join(facts.abuse_labels)))
    if facts.chargebacks_90d:
        notes.append(note(USER_NOTES, "RECENT_CHARGEBACK", n=facts.chargebacks_90d))
    band = next((tier for tier, low in USER_BANDS if score >= low), "restricted")
    if band == "restricted":
        notes.append(note(USER_NOTES, "LOW_SCORE", score=score, floor=USER_BANDS[-1][1]))
    if notes:
        tier = "restricted"
    elif facts.tenure_days < 30 or facts.orders_365d == 0:
        tier = "new"
        code = "NEW_ACCOUNT" if facts.tenure_days < 30 else "NO_RECENT_ORDERS"
        notes.append(note(USER_NOTES, code, days=int(facts.tenure_days)))
    else:
        tier = band
    if facts.ato_victim:
        notes.append(note(USER_NOTES, "ATO_VICTIM"))
    info = [n for n in notes if n.code != "ATO_VICTIM"]
    reasons = (*info, *ordered(moved), *[n for n in notes if n.code == "ATO_VICTIM"])
    table = privileges if privileges is not None else DEFAULT_PRIVILEGES
    return UserCredit(facts.user_id, score, tier, reasons, table[tier], facts)


def tier_rank(tier: str) -> int:
    """Position of a user tier, 0 for ``restricted`` up to 5 for ``platinum``."""
    return USER_TIERS.index(tier)


def ordered(moved: list[Reason]) -> list[Reason]:
    down = sorted((r for r in moved if r.points < 0), key=lambda r: r.points)
    up = sorted((r for r in moved if r.points > 0), key=lambda r: -r.points)
    return [*down, *up]


def check_facts(facts: object, optional: tuple[str, ...]) -> None:
    """Every count and amount is a finite, non-negative number (None only where allowed)."""
    for f in fields(facts):  # type: ignore[arg-type]  # a facts dataclass
        value = getattr(facts, f.name)
        if value is None and f.name in optional:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if not math.isfinite(value):
            raise CreditInputError(f.name, f"must be a finite number (got {value})")
        if value < 0:
            raise CreditInputError(f.name, f"must not be negative (got {value})")
