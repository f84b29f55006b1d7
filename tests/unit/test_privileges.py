"""Credit tiers in decisions: privileges widen what an allowed user may do, or add a limit;
they never lift a review or a deny."""

from __future__ import annotations

import pytest

from riskops.core.credit.model import DEFAULT_PRIVILEGES
from riskops.core.decisions.privileges import Standing, apply_privileges, unknown_standing

GOLD = Standing(780, "gold", DEFAULT_PRIVILEGES["gold"])
BRONZE = Standing(610, "bronze", DEFAULT_PRIVILEGES["bronze"])


def test_express_refund_for_an_allowed_refund_of_a_gold_user() -> None:
    got = apply_privileges("refund_request", "allow", [], GOLD, 30.0, None)
    assert got.actions == ["instant_refund"]
    assert got.outcome == "allow"
    assert "gold" in got.notes[0]
    assert apply_privileges("refund_request", "allow", [], BRONZE, 30.0, None).actions == []


@pytest.mark.parametrize("outcome", ["challenge", "review", "deny"])
def test_privileges_never_lift_a_stricter_outcome(outcome: str) -> None:
    got = apply_privileges("refund_request", outcome, ["hold_for_review"], GOLD, 30.0, None)
    assert got.outcome == outcome
    assert got.actions == ["hold_for_review"]


def test_password_free_up_to_the_tier_limit() -> None:
    limit = DEFAULT_PRIVILEGES["gold"].password_free_limit_usd
    assert apply_privileges("order", "allow", [], GOLD, limit, None).actions == ["password_free"]
    assert apply_privileges("order", "allow", [], GOLD, limit + 0.01, None).actions == []
    assert apply_privileges("order", "review", [], GOLD, 1.0, None).actions == []


def test_new_user_cap_challenges_a_large_first_order() -> None:
    new = unknown_standing()
    cap = DEFAULT_PRIVILEGES["new"].new_user_cap_usd
    assert cap is not None
    over = apply_privileges("order", "allow", [], new, cap + 1, None)
    assert over.outcome == "challenge"
    assert over.actions == ["require_otp"]
    assert "cap" in over.notes[0]
    assert apply_privileges("order", "allow", [], new, cap, None).outcome == "allow"
    assert apply_privileges("order", "deny", ["block"], new, cap + 1, None).outcome == "deny"


def test_pay_later_needs_the_privilege() -> None:
    got = apply_privileges("payment_method", "allow", [], BRONZE, 50.0, "pay_later")
    assert got.actions == ["require_online_payment"]
    assert got.outcome == "allow"
    assert apply_privileges("payment_method", "allow", [], GOLD, 50.0, "pay_later").actions == []
    assert apply_privileges("payment_method", "allow", [], BRONZE, 50.0, "card").actions == []


def test_no_amount_no_order_privilege() -> None:
    assert apply_privileges("order", "allow", [], unknown_standing(), None, None).actions == []


HIGH = Standing(700, "silver", DEFAULT_PRIVILEGES["silver"], "high")


def test_a_high_value_customer_denied_on_the_score_is_served_with_limits() -> None:
    got = apply_privileges("order", "deny", ["block"], HIGH, 80.0, None, rules_outcome="challenge")
    assert got.outcome == "review"
    assert "block" not in got.actions
    assert {"hold_for_review", "require_otp"} <= set(got.actions)
    assert "high-value" in got.notes[0]


def test_a_rules_deny_stands_and_other_customers_are_denied() -> None:
    by_rule = apply_privileges("order", "deny", ["block"], HIGH, 80.0, None, rules_outcome="deny")
    assert by_rule.outcome == "deny"
    mid = Standing(700, "silver", DEFAULT_PRIVILEGES["silver"], "mid")
    other = apply_privileges("order", "deny", [], mid, 80.0, None, rules_outcome="allow")
    assert other.outcome == "deny"
    cod = apply_privileges("payment_method", "deny", [], HIGH, 80.0, "card", rules_outcome="allow")
    assert cod.outcome == "review"
    assert cod.actions == ["require_online_payment"]


def test_an_amount_in_a_currency_without_a_rate_cannot_pass_the_new_user_cap() -> None:
    from riskops.services.decision_answer import amount_usd

    assert amount_usd({"payload": {"amount": 5.0, "currency": "USD"}}) == 5.0
    assert amount_usd({"payload": {"currency": "USD"}}) is None
    unknown = amount_usd({"payload": {"amount": 5.0, "currency": "XYZ"}})
    assert unknown == float("inf")
    got = apply_privileges("order", "allow", [], unknown_standing(), unknown, None)
    assert got.outcome == "challenge"
    assert "cannot be checked" in got.notes[0]
    gold = apply_privileges("order", "allow", [], GOLD, unknown, None)
    assert gold.actions == []  # no password-free payment either
