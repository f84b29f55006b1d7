"""Value × risk (pure): who a customer is worth and how risky their decisions were, the
treatment of each of the 4 × 3 cells, and how often good customers were stopped.

**Value segments** rank the customers that have a value (lifetime value, or spend to date)
from the most valuable down. A customer's rank is the share of valued customers with a
*strictly* higher value, so tied customers share a segment:

- ``high``: rank below ``high_share`` (default 0.2: the top 20 %);
- ``mid``: rank below ``high_share + mid_share`` (default 0.3: the next 30 %);
- ``low``: every other valued customer;
- ``new``: no value yet (no purchase that counts).

**Risk segments** read the outcomes of a customer's decisions (every decision at every
checkpoint replayed):

- ``high``: at least one ``review`` or ``deny``, or a decision score at or above
  ``score_cut`` (when one is set and scores are given);
- ``medium``: not high, and at least one ``challenge``;
- ``low``: every decision ``allow``.

**Insult rate** of a value segment: among its *good* customers (no label other than ``legit``
on them, their orders, their events or their devices), the share with at least one non-allow
decision (challenge, review or deny). Beside it the decision-level false-positive rate
(non-allow decisions of good customers / their decisions), the share of good customers denied
at least once and the share of their decisions denied.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from riskops.core.decisions.ruleset import OUTCOMES

VALUE_SEGMENTS = ("high", "mid", "low", "new")
RISK_SEGMENTS = ("high", "medium", "low")
VALUE_NAMES: dict[str, tuple[str, str]] = {
    "high": ("high value", "高价值"),
    "mid": ("mid value", "中价值"),
    "low": ("low value", "低价值"),
    "new": ("new (no value yet)", "新客户（暂无价值）"),
}
RISK_NAMES: dict[str, tuple[str, str]] = {
    "high": ("high risk", "高风险"),
    "medium": ("medium risk", "中风险"),
    "low": ("low risk", "低风险"),
}


@dataclass(frozen=True, slots=True)
class Treatment:
    id: str
    en: str
    zh: str


TREATMENTS: dict[tuple[str, str], Treatment] = {
    ("high", "high"): Treatment(
        "serve_with_limits",
        "serve with limits: step-up verification and order caps, never an outright deny",
        "限额服务：加强身份验证并设订单上限，绝不直接拒绝",
    ),
    ("high", "medium"): Treatment(
        "light_step_up",
        "keep privileges; one-tap verification only on unusual activity",
        "保留权益；仅在异常时进行一键验证",
    ),
    ("high", "low"): Treatment(
        "fast_lane",
        "fast lane: express refund, password-free payments",
        "快速通道：极速退款、免密支付",
    ),
    ("mid", "high"): Treatment(
        "review_with_limits",
        "review before fulfilment; step-up verification and lower limits",
        "履约前人工审核；加强验证并降低限额",
    ),
    ("mid", "medium"): Treatment(
        "step_up",
        "standard service; step-up verification (OTP) when challenged",
        "标准服务；触发挑战时进行短信验证",
    ),
    ("mid", "low"): Treatment(
        "standard_plus",
        "standard service; invite to the loyalty programme",
        "标准服务；邀请加入会员计划",
    ),
    ("low", "high"): Treatment("deny_or_review", "deny / review", "拒绝或人工审核"),
    ("low", "medium"): Treatment(
        "challenge", "challenge: captcha or OTP before going on", "挑战验证：验证码或短信验证后继续"
    ),
    ("low", "low"): Treatment("standard", "standard service", "标准服务"),
    ("new", "high"): Treatment(
        "review_new",
        "review; cap first orders and coupons, online payment only",
        "人工审核；限制首单金额与优惠券，仅限在线支付",
    ),
    ("new", "medium"): Treatment(
        "verify_new",
        "verify the account (OTP) before the first benefits",
        "首次享受权益前验证账户（短信验证）",
    ),
    ("new", "low"): Treatment(
        "welcome", "welcome: new-customer offer, standard limits", "欢迎：新客礼包，标准限额"
    ),
}
"""The recommended treatment of each (value segment, risk segment) cell."""


class ValueRiskInputError(ValueError):
    """Options or data the report cannot use; ``field`` names the argument."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ValueRiskConfig:
    high_share: float = 0.2
    """Share of valued customers that are high value (the top ones)."""
    mid_share: float = 0.3
    """Share of valued customers below them that are mid value."""
    score_cut: float | None = None
    """A decision score (0-100) from which the customer is high risk; None: outcomes only."""

    def __post_init__(self) -> None:
        for name in ("high_share", "mid_share"):
            value = getattr(self, name)
            if not _number(value) or not 0 <= value <= 1:
                raise ValueRiskInputError(name, f"a share between 0 and 1, not {value}")
        if self.high_share <= 0:
            raise ValueRiskInputError("high_share", "above 0 (some customers must be high)")
        if self.high_share + self.mid_share > 1:
            raise ValueRiskInputError("mid_share", "high_share + mid_share must not exceed 1")
        cut = self.score_cut
        if cut is not None and (not _number(cut) or not 0 <= cut <= 100):
            raise ValueRiskInputError("score_cut", f"a score between 0 and 100, not {cut}")


@dataclass(frozen=True, slots=True)
class Decision:
    """One decision about a customer: its outcome and, when known, its score (0-100)."""

    user_id: str
    outcome: str
    score: float | None = None


@dataclass(slots=True)
class Tally:
    """A customer's decisions, counted by outcome."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    max_score: float | None = None

    @property
    def decisions(self) -> int:
        return sum(self.counts.values())

    @property
    def non_allow(self) -> int:
        return self.decisions - self.counts["allow"]


@dataclass(frozen=True, slots=True)
class CustomerRow:
    user_id: str
    value: float | None
    value_segment: str
    risk_segment: str
    good: bool
    decisions: int
    allow: int
    challenge: int
    review: int
    deny: int
    max_score: float | None
    treatment: str


@dataclass(frozen=True, slots=True)
class Cell:
    value_segment: str
    risk_segment: str
    value_en: str
    value_zh: str
    risk_en: str
    risk_zh: str
    customers: int
    share: float
    """Of all the customers in the matrix."""
    good: int
    labelled: int
    """Customers with a label other than legit."""
    treatment: str
    treatment_en: str
    treatment_zh: str


@dataclass(frozen=True, slots=True)
class InsultRow:
    value_segment: str
    """A value segment, or ``all``."""
    name_en: str
    name_zh: str
    customers: int
    good_customers: int
    insulted: int
    """Good customers with at least one challenge, review or deny."""
    insult_rate: float | None
    denied: int
    deny_rate: float | None
    """Share of good customers denied at least once."""
    decisions: int
    """Decisions of good customers."""
    non_allow: int
    decision_fp_rate: float | None
    deny_decisions: int
    decision_deny_rate: float | None


@dataclass(frozen=True, slots=True)
class ValueRiskReport:
    customers: list[CustomerRow]
    """Every customer with at least one decision, in user id order."""
    cells: list[Cell]
    """The 12 cells, value segment by value segment (high first), risk high first."""
    insult: list[InsultRow]
    """One row per value segment, then ``all``."""
    valued_customers: int
    """Customers with a value (the base of the value ranks), decided or not."""
    high_from: float | None
    """The lowest value of a high-value customer (None: nobody is valued)."""
    mid_from: float | None
    """The lowest value of a mid-value customer (None: nobody is mid value)."""


def value_segments(values: Mapping[str, float], config: ValueRiskConfig) -> dict[str, str]:
    """``high`` / ``mid`` / ``low`` of every valued customer (ties share a segment)."""
    for user, value in values.items():
        if not _number(value):
            raise ValueRiskInputError("values", f"{user!r}: a finite number, not {value!r}")
    n = len(values)
    ordered = sorted(values.values(), reverse=True)
    better: dict[float, int] = {}
    for i, value in enumerate(ordered):
        better.setdefault(value, i)  # the first position of a value = customers above it
    out = {}
    for user, value in values.items():
        rank = better[value] / n
        if rank < config.high_share:
            out[user] = "high"
        elif rank < config.high_share + config.mid_share:
            out[user] = "mid"
        else:
            out[user] = "low"
    return out


def tally(decisions: Iterable[Decision]) -> dict[str, Tally]:
    """Each customer's decisions counted by outcome, with the highest score."""
    out: dict[str, Tally] = {}
    for d in decisions:
        if d.outcome not in OUTCOMES:
            raise ValueRiskInputError("decisions", f"{d.outcome!r} is not one of {OUTCOMES}")
        t = out.setdefault(d.user_id, Tally())
        t.counts[d.outcome] += 1
        if d.score is not None and (t.max_score is None or d.score > t.max_score):
            t.max_score = d.score
    return out


def risk_segment(t: Tally, config: ValueRiskConfig) -> str:
    c = t.counts
    scored_high = (
        config.score_cut is not None and t.max_score is not None and t.max_score >= config.score_cut
    )
    if c["review"] or c["deny"] or scored_high:
        return "high"
    if c["challenge"]:
        return "medium"
    return "low"


def value_risk(
    values: Mapping[str, float],
    decisions: Iterable[Decision],
    bad_users: Iterable[str],
    config: ValueRiskConfig | None = None,
) -> ValueRiskReport:
    """The report over the customers with at least one decision; ``values`` may hold
    customers without one (they count in the value ranks only)."""
    config = config or ValueRiskConfig()
    segments = value_segments(values, config)
    bad = set(bad_users)
    tallies = tally(decisions)
    rows = [
        _customer(user, t, values.get(user), segments.get(user, "new"), user not in bad, config)
        for user, t in sorted(tallies.items())
    ]
    high = [v for u, v in values.items() if segments[u] == "high"]
    mid = [v for u, v in values.items() if segments[u] == "mid"]
    return ValueRiskReport(
        customers=rows,
        cells=_cells(rows),
        insult=[_insult(s, rows, tallies) for s in (*VALUE_SEGMENTS, "all")],
        valued_customers=len(values),
        high_from=min(high) if high else None,
        mid_from=min(mid) if mid else None,
    )


def _customer(
    user: str, t: Tally, value: float | None, segment: str, good: bool, config: ValueRiskConfig
) -> CustomerRow:
    risk = risk_segment(t, config)
    c = t.counts
    return CustomerRow(
        user_id=user,
        value=value,
        value_segment=segment,
        risk_segment=risk,
        good=good,
        decisions=t.decisions,
        allow=c["allow"],
        challenge=c["challenge"],
        review=c["review"],
        deny=c["deny"],
        max_score=t.max_score,
        treatment=TREATMENTS[(segment, risk)].id,
    )


def _cells(rows: list[CustomerRow]) -> list[Cell]:
    total = len(rows)
    out = []
    for value in VALUE_SEGMENTS:
        for risk in RISK_SEGMENTS:
            inside = [r for r in rows if r.value_segment == value and r.risk_segment == risk]
            good = sum(r.good for r in inside)
            treatment = TREATMENTS[(value, risk)]
            out.append(
                Cell(
                    value,
                    risk,
                    *VALUE_NAMES[value],
                    *RISK_NAMES[risk],
                    customers=len(inside),
                    share=len(inside) / total if total else 0.0,
                    good=good,
                    labelled=len(inside) - good,
                    treatment=treatment.id,
                    treatment_en=treatment.en,
                    treatment_zh=treatment.zh,
                )
            )
    return out


def _insult(segment: str, rows: list[CustomerRow], tallies: Mapping[str, Tally]) -> InsultRow:
    inside = [r for r in rows if segment == "all" or r.value_segment == segment]
    good = [tallies[r.user_id] for r in inside if r.good]
    decisions = sum(t.decisions for t in good)
    non_allow = sum(t.non_allow for t in good)
    denies = sum(t.counts["deny"] for t in good)
    insulted = sum(1 for t in good if t.non_allow)
    denied = sum(1 for t in good if t.counts["deny"])
    en, zh = VALUE_NAMES.get(segment, ("all customers", "全部客户"))
    return InsultRow(
        value_segment=segment,
        name_en=en,
        name_zh=zh,
        customers=len(inside),
        good_customers=len(good),
        insulted=insulted,
        insult_rate=_share(insulted, len(good)),
        denied=denied,
        deny_rate=_share(denied, len(good)),
        decisions=decisions,
        non_allow=non_allow,
        decision_fp_rate=_share(non_allow, decisions),
        deny_decisions=denies,
        decision_deny_rate=_share(denies, decisions),
    )


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None
