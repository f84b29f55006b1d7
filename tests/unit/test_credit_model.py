"""The credit scorecards, worked by hand: users (300-850, tiers, privileges, reasons in English
and Chinese) and merchants (0-100, tiers, exposure), bad facts, and monotonicity."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from riskops.core.credit import (
    DEFAULT_PRIVILEGES,
    CreditInputError,
    MerchantFacts,
    UserFacts,
    merchant_exposure,
    score_merchant,
    score_user,
    tier_rank,
    user_privileges,
)

GOOD = UserFacts(
    "good",
    tenure_days=900,  # 30 full months of 30 days: 150 points, capped at 100
    orders_365d=22,
    spend_365d_usd=1500,  # 75 units of $20, capped at 60
    delivered_365d=20,  # 120, capped at 90
    returns_365d=2,  # within the allowance of 22 // 5 = 4
)
CLEAN = MerchantFacts(
    "clean",
    months_active=24.5,  # +10 (cap)
    orders=1200,  # +10 (12 hundreds, cap 10)
    gmv_usd=60_000,  # +6
    complaints=3,  # 2.5 per 1,000: under 5
    disputes=1,  # 0.8 per 1,000: under 2
    shipped=1200,
    late_shipments=30,  # 2.5%: under 5%
    refunds=24,  # 2%: under 5%
)


def codes(credit: object) -> list[tuple[str, int]]:
    return [(r.code, r.points) for r in credit.reasons]  # type: ignore[attr-defined]


def test_a_brand_new_user_is_new_at_the_base_score() -> None:
    got = score_user(UserFacts("n", tenure_days=3.5))
    assert (got.score, got.tier) == (600, "new")
    assert codes(got) == [("NEW_ACCOUNT", 0)]
    assert got.reasons[0].en == "First seen 3 days ago: too new to rate"
    assert got.reasons[0].zh == "首次出现于3天前：太新无法评级"
    assert got.privileges == DEFAULT_PRIVILEGES["new"]
    assert got.privileges.new_user_cap_usd == 200.0


def test_a_good_long_tenured_buyer_reaches_850_and_platinum() -> None:
    got = score_user(GOOD)
    assert (got.score, got.tier) == (850, "platinum")
    assert codes(got) == [("TENURE", 100), ("DELIVERIES", 90), ("SPEND", 60)]
    assert got.lowering == ()
    assert got.reasons[2].en == "Spent $1,500 in the last 365 days"
    assert got.reasons[2].zh == "近365天消费1,500美元"
    assert got.privileges.express_refund
    assert got.privileges.pay_later
    assert got.privileges.password_free_limit_usd == 500.0


def test_returns_beyond_one_in_five_orders_cost_ten_points_each() -> None:
    got = score_user(replace(GOOD, orders_365d=10, returns_365d=5))  # allowance 2, 3 over
    assert got.score == 820
    assert got.tier == "platinum"
    assert got.lowering[0].code == "RETURNS"
    assert got.lowering[0].points == -30
    assert got.lowering[0].en == (
        "Requested 5 returns in the last 365 days, 3 more than 1 in 5 orders"
    )


def test_a_habitual_cod_refuser_drops_to_bronze_then_restricted() -> None:
    facts = UserFacts(
        "r",
        tenure_days=400,  # 13 × 5 = 65
        orders_365d=10,
        spend_365d_usd=300,  # 15
        delivered_365d=4,  # 24
        cod_refusals_90d=3,  # -150
        cod_refusals_365d=5,  # 2 older: -40
    )
    got = score_user(facts)
    assert (got.score, got.tier) == (600 + 65 + 24 + 15 - 150 - 40, "bronze")
    assert codes(got)[:2] == [("COD_REFUSALS", -150), ("COD_REFUSALS_OLDER", -40)]
    assert got.reasons[0].en == "Refused 3 cash-on-delivery parcels in the last 90 days"
    assert got.reasons[0].zh == "近90天拒收货到付款包裹3次"
    worse = score_user(replace(facts, cod_refusals_90d=4, cod_refusals_365d=7))
    assert worse.score == 600 + 104 - 200 - 60 == 444
    assert worse.tier == "restricted"
    assert worse.reasons[0].code == "LOW_SCORE"
    assert worse.reasons[0].en == "Score 444 is below 450: tier restricted"


def test_the_documented_two_refusals_text() -> None:
    got = score_user(replace(GOOD, cod_refusals_90d=2, cod_refusals_365d=2))
    assert got.score == 750
    assert got.tier == "gold"
    assert got.lowering[0].en == "Refused 2 cash-on-delivery parcels in the last 90 days"
    assert got.lowering[0].zh == "近90天拒收货到付款包裹2次"


def test_a_recent_chargeback_restricts_an_old_one_only_costs_points() -> None:
    recent = score_user(replace(GOOD, chargebacks_90d=1, chargebacks_365d=1))
    assert (recent.score, recent.tier) == (750, "restricted")
    assert codes(recent)[:2] == [("RECENT_CHARGEBACK", 0), ("CHARGEBACKS", -100)]
    assert recent.reasons[0].en == "1 chargeback in the last 90 days: tier restricted"
    assert recent.privileges == DEFAULT_PRIVILEGES["restricted"]
    older = score_user(replace(GOOD, chargebacks_365d=1))
    assert (older.score, older.tier) == (750, "gold")


def test_a_blocked_or_abuse_labelled_user_is_restricted_whatever_the_score() -> None:
    blocked = score_user(replace(GOOD, blocked=True))
    assert (blocked.score, blocked.tier) == (850, "restricted")
    assert blocked.reasons[0].code == "BLOCKED"
    assert blocked.reasons[0].zh == "在黑名单中：等级受限"
    labelled = score_user(replace(GOOD, abuse_labels=("coupon_abuse",)))
    assert labelled.tier == "restricted"
    assert "coupon_abuse" in labelled.reasons[0].en


def test_an_account_takeover_victim_keeps_score_and_tier() -> None:
    for facts in (GOOD, replace(GOOD, tenure_days=200, delivered_365d=3)):
        plain, victim = score_user(facts), score_user(replace(facts, ato_victim=True))
        assert (victim.score, victim.tier) == (plain.score, plain.tier)
        assert victim.reasons[:-1] == plain.reasons
        assert (victim.reasons[-1].code, victim.reasons[-1].points) == ("ATO_VICTIM", 0)


def test_no_orders_in_a_year_is_too_little_to_rate() -> None:
    got = score_user(UserFacts("d", tenure_days=500))
    assert (got.score, got.tier) == (680, "new")
    assert got.reasons[0].code == "NO_RECENT_ORDERS"


def test_the_score_never_goes_below_300() -> None:
    facts = UserFacts(
        "w",
        orders_365d=5,
        cod_refusals_90d=9,
        cod_refusals_365d=20,
        returns_365d=30,
        refunds_without_return_365d=30,
        disputes_opened_365d=9,
        disputes_lost_365d=9,
        chargebacks_365d=5,
        tenure_days=40,
    )
    got = score_user(facts)
    assert got.score == 300
    assert got.tier == "restricted"
    assert sum(r.points for r in got.reasons) == 5 - 200 - 80 - 80 - 80 - 40 - 90 - 200


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"returns_365d": -1}, "returns_365d"),
        ({"spend_365d_usd": -5.0}, "spend_365d_usd"),
        ({"cod_refusals_90d": 2, "cod_refusals_365d": 1}, "cod_refusals_90d"),
        ({"chargebacks_90d": 1}, "chargebacks_90d"),
        ({"tenure_days": float("nan")}, "tenure_days"),
        ({"spend_365d_usd": float("inf")}, "spend_365d_usd"),
    ],
)
def test_bad_user_facts_name_the_fact(change: dict[str, object], field: str) -> None:
    with pytest.raises(CreditInputError) as caught:
        score_user(replace(GOOD, **change))  # type: ignore[arg-type]
    assert caught.value.field == field


def test_privileges_are_defaults_a_platform_overrides() -> None:
    table = user_privileges({"gold": {"pay_later": False, "password_free_limit_usd": 80}})
    assert table["gold"].pay_later is False
    assert table["gold"].password_free_limit_usd == 80.0
    assert table["silver"] == DEFAULT_PRIVILEGES["silver"]
    got = score_user(replace(GOOD, chargebacks_365d=1), table)
    assert got.tier == "gold"
    assert got.privileges == table["gold"]
    for bad, field in (
        ({"diamond": {}}, "privileges.diamond"),
        ({"gold": {"lounge": True}}, "privileges.gold.lounge"),
        ({"gold": {"pay_later": "yes"}}, "privileges.gold.pay_later"),
        ({"gold": {"password_free_limit_usd": -1}}, "privileges.gold.password_free_limit_usd"),
    ):
        with pytest.raises(CreditInputError) as caught:
            user_privileges(bad)
        assert caught.value.field == field


counts = st.integers(min_value=0, max_value=12)


@st.composite
def user_facts(draw: st.DrawFn) -> UserFacts:
    recent_cod, older_cod = draw(counts), draw(counts)
    recent_cb, older_cb = draw(st.integers(0, 2)), draw(st.integers(0, 3))
    return UserFacts(
        "h",
        tenure_days=draw(st.floats(min_value=0, max_value=3000)),
        orders_365d=draw(st.integers(0, 40)),
        spend_365d_usd=draw(st.floats(min_value=0, max_value=5000)),
        delivered_365d=draw(st.integers(0, 40)),
        cod_refusals_90d=recent_cod,
        cod_refusals_365d=recent_cod + older_cod,
        returns_365d=draw(counts),
        refunds_without_return_365d=draw(counts),
        disputes_opened_365d=draw(counts),
        disputes_lost_365d=draw(st.none() | counts),
        chargebacks_90d=recent_cb,
        chargebacks_365d=recent_cb + older_cb,
        ato_victim=draw(st.booleans()),
        blocked=draw(st.booleans()),
    )


@given(user_facts())
def test_more_bad_evidence_never_raises_a_user(facts: UserFacts) -> None:
    before = score_user(facts)
    worse = [
        replace(facts, cod_refusals_90d=facts.cod_refusals_90d + 1,
                cod_refusals_365d=facts.cod_refusals_365d + 1),
        replace(facts, cod_refusals_365d=facts.cod_refusals_365d + 1),
        replace(facts, returns_365d=facts.returns_365d + 1),
        replace(facts, refunds_without_return_365d=facts.refunds_without_return_365d + 1),
        replace(facts, disputes_opened_365d=facts.disputes_opened_365d + 1),
        replace(facts, disputes_lost_365d=(facts.disputes_lost_365d or 0) + 1),
        replace(facts, chargebacks_365d=facts.chargebacks_365d + 1),
    ]  # fmt: skip
    for other in worse:
        after = score_user(other)
        assert after.score <= before.score
        assert tier_rank(after.tier) <= tier_rank(before.tier)


@given(user_facts())
def test_more_good_evidence_never_lowers_a_user(facts: UserFacts) -> None:
    before = score_user(facts)
    for other in (
        replace(facts, delivered_365d=facts.delivered_365d + 1),
        replace(facts, spend_365d_usd=facts.spend_365d_usd + 20),
        replace(facts, tenure_days=facts.tenure_days + 30),
    ):
        after = score_user(other)
        assert after.score >= before.score
        assert 300 <= after.score <= 850


def test_a_clean_merchant_is_a() -> None:
    got = score_merchant(CLEAN)
    assert (got.score, got.tier, got.exposure) == (96, "A", 1.2)
    assert codes(got) == [("MONTHS_ACTIVE", 10), ("ORDERS", 10), ("GMV", 6)]
    assert got.reasons[1].en == "1,200 orders in the last 365 days"


def test_a_late_shipper_loses_up_to_25_points() -> None:
    got = score_merchant(replace(CLEAN, late_shipments=420))  # 35%: 30 points over 5%, cap 25
    assert (got.score, got.tier, got.exposure) == (71, "B", 1.0)
    assert got.reasons[0].code == "LATE_SHIPMENTS"
    assert got.reasons[0].points == -25
    assert got.reasons[0].en == "35.0% of orders shipped more than 48 hours after the order"
    assert got.reasons[0].zh == "35.0%的订单在下单48小时后才发货"
    mild = score_merchant(replace(CLEAN, late_shipments=96))  # 8%: 3 points
    assert mild.score == 93


def test_a_counterfeit_finding_suspends() -> None:
    got = score_merchant(replace(CLEAN, counterfeit=1))
    assert (got.score, got.tier, got.exposure) == (56, "suspended", 0.0)
    assert codes(got)[:2] == [("SUSPENDED_COUNTERFEIT", 0), ("COUNTERFEIT", -40)]


def test_merchant_rates_and_findings_by_hand() -> None:
    got = score_merchant(
        replace(CLEAN, complaints=12, disputes=6, refunds=96, fake_discount=1, brushing=3)
    )
    # complaints 10/1,000: 5 over → -10; disputes 5/1,000: 3 over → -6; refunds 8%: -3;
    # fake discount -15; brushing 3 × 20 = 60, cap 40
    assert got.score == 96 - 10 - 6 - 3 - 15 - 40 == 22
    assert got.tier == "D"
    assert got.exposure == 0.4


def test_a_small_merchant_is_rated_over_at_least_100_orders() -> None:
    got = score_merchant(MerchantFacts("s", orders=3, complaints=1, shipped=3, late_shipments=3))
    # 1 complaint per 100 orders = 10 per 1,000: 5 over → -10; 3 late of 100: under 5%
    assert (got.score, got.tier) == (60, "C")
    assert got.reasons[0].en == "10.0 complaints per 1,000 orders"


def test_unknown_merchant_facts_move_no_points() -> None:
    got = score_merchant(replace(CLEAN, complaints=None, shipped=None, late_shipments=None))
    assert got.score == 96


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"orders": -1}, "orders"),
        ({"late_shipments": 1300}, "late_shipments"),
        ({"shipped": None}, "late_shipments"),
        ({"gmv_usd": float("inf")}, "gmv_usd"),
        ({"months_active": float("nan")}, "months_active"),
    ],
)
def test_bad_merchant_facts_name_the_fact(change: dict[str, object], field: str) -> None:
    with pytest.raises(CreditInputError) as caught:
        score_merchant(replace(CLEAN, **change))  # type: ignore[arg-type]
    assert caught.value.field == field


def test_exposure_is_a_default_a_platform_overrides() -> None:
    table = merchant_exposure({"A": 1.5})
    assert score_merchant(CLEAN, table).exposure == 1.5
    for bad in ({"E": 1.0}, {"A": -1}, {"A": True}):
        with pytest.raises(CreditInputError):
            merchant_exposure(bad)


merchant_counts = st.integers(min_value=0, max_value=400)


@st.composite
def merchant_facts(draw: st.DrawFn) -> MerchantFacts:
    shipped = draw(merchant_counts)
    return MerchantFacts(
        "h",
        months_active=draw(st.floats(0, 60)),
        orders=draw(st.integers(0, 3000)),
        gmv_usd=draw(st.floats(0, 200_000)),
        complaints=draw(st.none() | merchant_counts),
        disputes=draw(merchant_counts),
        disputes_lost=draw(st.none() | merchant_counts),
        shipped=shipped,
        late_shipments=draw(st.integers(0, shipped)),
        refunds=draw(merchant_counts),
        fake_discount=draw(st.integers(0, 3)),
        counterfeit=draw(st.integers(0, 1)),
        brushing=draw(st.integers(0, 3)),
    )


@given(merchant_facts())
def test_more_bad_evidence_never_raises_a_merchant(facts: MerchantFacts) -> None:
    before = score_merchant(facts)
    worse = [
        replace(facts, complaints=(facts.complaints or 0) + 1),
        replace(facts, disputes=facts.disputes + 1),
        replace(facts, refunds=facts.refunds + 1),
        replace(facts, shipped=(facts.shipped or 0) + 1,
                late_shipments=(facts.late_shipments or 0) + 1),
        replace(facts, brushing=facts.brushing + 1),
        replace(facts, counterfeit=facts.counterfeit + 1),
    ]  # fmt: skip
    for other in worse:
        after = score_merchant(other)
        assert after.score <= before.score
        assert after.exposure <= before.exposure
    more_orders = score_merchant(replace(facts, orders=facts.orders + 1))
    assert more_orders.score >= before.score
