"""The risk policy: thresholds from tolerance per market phase (or calibrated per checkpoint and
market), the outcome from rules and score, the cash-on-delivery switch, validation naming every
problem by its key path, and the YAML a policy is written back as."""

from __future__ import annotations

from pathlib import Path

import pytest

from riskops.core.decisions.policy import (
    InvalidPolicy,
    Policy,
    apply_policy,
    dump_policy,
    load_policy,
    score_outcome,
)
from riskops.core.decisions.schema import CHECKPOINTS

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


CALIBRATED = """
tolerance: {launch: 0.07, growth: 0.05, mature: 0.03}
markets: {ID: launch, TH: growth}
calibrated:
  payment_method:
    TH: {challenge: 4.5, review: 18, deny: 54}
    VN: {challenge: 0.8625, review: 3.45, deny: 10.35}
  order:
    ID: {challenge: 10, review: 40, deny: 90}
"""


def test_calibrated_thresholds_replace_the_bands_of_their_checkpoint_and_market_only() -> None:
    policy = load_policy(CALIBRATED)
    th = {"challenge": 4.5, "review": 18.0, "deny": 54.0}
    assert policy.thresholds("TH", "payment_method") == th
    assert policy.thresholds("VN", "payment_method") == {
        "challenge": 0.8625,
        "review": 3.45,
        "deny": 10.35,
    }
    assert policy.thresholds("ID", "order") == {"challenge": 10.0, "review": 40.0, "deny": 90.0}
    # the same markets at other checkpoints, and without a checkpoint, keep their bands
    growth = {"challenge": 5.0, "review": 20.0, "deny": 60.0}
    assert policy.thresholds("TH", "order") == growth
    assert policy.thresholds("TH", "login") == growth
    assert policy.thresholds("TH") == growth
    assert policy.thresholds("VN", "order") == growth  # default phase
    assert policy.thresholds("ID", "payment_method") == {
        "challenge": 7.0,
        "review": 28.0,
        "deny": 84.0,
    }
    assert policy.thresholds("SG", "payment_method") == growth
    assert policy.is_calibrated("TH", "payment_method")
    assert not policy.is_calibrated("TH", "order")
    assert policy.calibrated_markets() == {"TH", "VN", "ID"}
    # 19 is a review for a TH payment method, only a challenge for a TH order
    assert score_outcome(policy, "TH", 19, "payment_method") == "review"
    assert score_outcome(policy, "TH", 19, "order") == "challenge"
    assert score_outcome(policy, "TH", 19) == "challenge"
    assert score_outcome(policy, "MY", 19, "payment_method") == "challenge"
    assert [score_outcome(policy, "VN", s, "payment_method") for s in (0, 1, 4, 11)] == [
        "allow",
        "challenge",
        "review",
        "deny",
    ]


def test_apply_policy_uses_the_thresholds_of_its_checkpoint() -> None:
    policy = load_policy(CALIBRATED)
    pm = apply_policy(policy, "payment_method", "TH", "card", "allow", 18, [])
    assert (pm.outcome, pm.thresholds["review"]) == ("review", 18.0)
    order = apply_policy(policy, "order", "TH", "card", "allow", 18, [])
    assert (order.outcome, order.thresholds) == (
        "challenge",
        {"challenge": 5.0, "review": 20.0, "deny": 60.0},
    )
    # the COD switch reads the calibrated review threshold of payment_method
    cod = apply_policy(policy, "payment_method", "TH", "cod", "allow", 18, [])
    assert (cod.outcome, cod.actions) == ("allow", ["require_online_payment"])


@pytest.mark.parametrize(
    "policy",
    [
        Policy(),
        load_policy(EXAMPLE.read_text(encoding="utf-8")),
        load_policy(CALIBRATED),
        Policy(calibrated={"login": {"NO": {"challenge": 1 / 3, "review": 4 / 3, "deny": 4.0}}}),
        Policy(calibrated={"refund_request": {}}),
    ],
)
def test_a_policy_written_as_yaml_reads_back_equal(policy: Policy) -> None:
    text = dump_policy(policy, header="calibrated TH\n\nby the test")
    assert text.startswith("# calibrated TH\n#\n# by the test\n")
    again = load_policy(text)
    assert again == policy
    for checkpoint in (None, "login", "order", "payment_method"):
        for market in ("TH", "VN", "NO", "ID"):
            assert again.thresholds(market, checkpoint) == policy.thresholds(market, checkpoint)


def test_calibrated_checkpoints_are_written_in_checkpoint_order() -> None:
    policy = load_policy(CALIBRATED)
    text = dump_policy(policy)
    assert text.index("  order:") < text.index("  payment_method:")
    assert text.index("    TH:") < text.index("    VN:")


def test_invalid_calibrated_thresholds_are_named_by_their_key_path() -> None:
    with pytest.raises(InvalidPolicy) as err:
        load_policy(
            "calibrated:\n"
            "  payment_method:\n"
            "    TH: {challenge: 30, review: 18, deny: 54}\n"
            "    VN: {review: 18, colour: 3}\n"
            "    th: {challenge: 1, review: 2, deny: 3}\n"
            "    MY: {challenge: 0, review: 18, deny: 120}\n"
            "    SG: {challenge: true, review: 18, deny: 54}\n"
            "    ID: 12\n"
            "  checkout: {TH: {challenge: 1, review: 2, deny: 3}}\n"
            "  order: [TH]\n"
        )
    assert err.value.problems == [
        ("calibrated.payment_method.TH", "challenge <= review <= deny"),
        ("calibrated.payment_method.VN.colour", "unknown key (challenge, review and deny)"),
        ("calibrated.payment_method.VN.challenge", "missing: a score above 0, at most 100"),
        ("calibrated.payment_method.VN.deny", "missing: a score above 0, at most 100"),
        ("calibrated.payment_method.th", "a two-letter country code, e.g. ID"),
        ("calibrated.payment_method.MY.challenge", "a score above 0, at most 100"),
        ("calibrated.payment_method.MY.deny", "a score above 0, at most 100"),
        ("calibrated.payment_method.SG.challenge", "a score above 0, at most 100"),
        ("calibrated.payment_method.ID", "a mapping of challenge, review and deny (scores)"),
        ("calibrated.checkout", NOT_A_CHECKPOINT),
        ("calibrated.order", "a mapping of markets to their thresholds"),
    ]
    with pytest.raises(InvalidPolicy) as err:
        load_policy("calibrated: [TH]\n")
    assert err.value.problems == [("calibrated", "a mapping")]


NOT_A_CHECKPOINT = f"not a checkpoint (use {', '.join(CHECKPOINTS)})"


def test_thresholds_keyed_by_market_alone_are_refused_with_the_new_shape() -> None:
    with pytest.raises(InvalidPolicy) as err:
        load_policy("calibrated:\n  TH: {challenge: 4.5, review: 18, deny: 54}\n")
    assert err.value.problems == [
        (
            "calibrated.TH",
            NOT_A_CHECKPOINT
            + "; thresholds are keyed by checkpoint, then market: calibrated.order.TH",
        )
    ]
