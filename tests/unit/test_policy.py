"""The risk policy: thresholds from tolerance per market phase, the outcome from rules and
score, the cash-on-delivery switch, validation naming every problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from riskops.core.decisions.policy import (
    InvalidPolicy,
    Policy,
    apply_policy,
    load_policy,
    score_outcome,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "policy.yaml"


def test_thresholds_follow_each_markets_tolerance() -> None:
    policy = load_policy(EXAMPLE.read_text(encoding="utf-8"))
    assert policy.thresholds("ID") == {"challenge": 7.0, "review": 28.0, "deny": 84.0}
    assert policy.thresholds("TH") == {"challenge": 5.0, "review": 20.0, "deny": 60.0}
    assert policy.thresholds("SG") == {"challenge": 3.0, "review": 12.0, "deny": 36.0}
    assert policy.thresholds("BR") == policy.thresholds("TH")  # default phase: growth
    assert [score_outcome(policy, "SG", s) for s in (2, 3, 12, 36)] == [
        "allow",
        "challenge",
        "review",
        "deny",
    ]
    # the same score is a review in a mature market and only a challenge at launch
    assert score_outcome(policy, "SG", 25) == "review"
    assert score_outcome(policy, "ID", 25) == "challenge"
    assert policy.fail_mode_for("payment_method") == "closed"
    assert policy.fail_mode_for("order") == "open"


def test_the_more_severe_of_rules_and_score_wins() -> None:
    policy = Policy()
    applied = apply_policy(policy, "order", "TH", "card", "deny", 0, ["block"])
    assert (applied.outcome, applied.actions) == ("deny", ["block"])
    applied = apply_policy(policy, "order", "TH", "card", "allow", 65, [])
    assert applied.outcome == "deny"


@pytest.mark.parametrize(
    ("method", "rules", "score", "outcome", "actions"),
    [
        ("cod", "review", 30, "allow", ["require_online_payment"]),
        ("cod", "deny", 100, "allow", ["require_online_payment"]),
        ("cod", "challenge", 6, "challenge", ["require_otp"]),
        ("card", "review", 30, "review", ["hold_for_review"]),
    ],
)
def test_cod_switch_keeps_the_sale_without_the_cod_risk(
    method: str, rules: str, score: int, outcome: str, actions: list[str]
) -> None:
    start = {"review": ["hold_for_review"], "deny": ["block"], "challenge": ["require_otp"]}
    applied = apply_policy(Policy(), "payment_method", "TH", method, rules, score, start[rules])
    assert (applied.outcome, applied.actions) == (outcome, actions)
    if method == "cod" and outcome == "allow":
        assert applied.note is not None
        assert applied.note.startswith("cash on delivery switched to online payment")


def test_an_invalid_policy_names_every_problem() -> None:
    with pytest.raises(InvalidPolicy) as err:
        load_policy(
            "tolerance: {growth: 2}\nmarkets: {id: growth, SG: ripe}\n"
            "bands: {challenge: 5, review: 1, deny: 9}\nfail_mode: {order: maybe}\ncolour: 1\n"
        )
    assert [w for w, _ in err.value.problems] == [
        "colour",
        "tolerance.growth",
        "markets.id",
        "markets.SG",
        "bands",
        "fail_mode.order",
    ]
