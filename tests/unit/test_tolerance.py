"""Calibrating to tolerance against curves worked out by hand: every candidate cut's approvals,
GMV, loss rate and bad GMV caught; the cut chosen (most GMV within the tolerance, ties to the
lower loss, then the lower cut); no bad events, no cut within the tolerance, no events; the
threshold written for the cut and the bands around it."""

from __future__ import annotations

import pytest

from riskops.core.models.tolerance import (
    ToleranceInputError,
    ToleranceResult,
    band_thresholds,
    tidy_cut,
    tolerance_curve,
)

# five orders: two bad (score 20 for 50, score 70 for 100); GMV 500, bad GMV 150
SCORES = [40.0, 10.0, 20.0, 70.0, 20.0]
AMOUNTS = [200.0, 100.0, 50.0, 100.0, 50.0]
LABELS = [0, 0, 1, 1, 0]


def _rows(result: ToleranceResult) -> list[tuple[object, ...]]:
    return [
        (p.cut, p.approved, p.approved_gmv, p.loss_rate, p.bad_gmv_caught, p.caught_share)
        for p in result.curve
    ]


def test_the_curve_by_gmv_holds_every_distinct_score_and_100() -> None:
    result = tolerance_curve(SCORES, LABELS, 0.15, AMOUNTS)
    assert (result.events, result.bad, result.gmv, result.bad_gmv, result.by) == (
        5, 2, 500.0, 150.0, "gmv"
    )  # fmt: skip
    # cut 10 approves nothing; 20 the order at 10; 40 also both at 20 (one bad, 50);
    # 70 also the one at 40; 100 every order
    assert _rows(result) == [
        (10.0, 0, 0.0, None, 150.0, 1.0),
        (20.0, 1, 100.0, 0.0, 150.0, 1.0),
        (40.0, 3, 200.0, pytest.approx(50 / 200), 100.0, pytest.approx(100 / 150)),
        (70.0, 4, 400.0, pytest.approx(50 / 400), 100.0, pytest.approx(100 / 150)),
        (100.0, 5, 500.0, pytest.approx(150 / 500), 0.0, 0.0),
    ]
    assert [p.approval_rate for p in result.curve] == [0.0, 0.2, 0.6, 0.8, 1.0]
    assert [p.approved_gmv_share for p in result.curve] == [0.0, 0.2, 0.4, 0.8, 1.0]


@pytest.mark.parametrize(
    ("tolerance", "cut", "gmv_share", "loss"),
    [
        # 12.5 % at cut 70 is within 15 % although cut 40 (25 %) is not: loss is not monotone
        (0.15, 70.0, 0.8, 0.125),
        (0.125, 70.0, 0.8, 0.125),  # equal to the tolerance meets it
        (0.10, 20.0, 0.2, 0.0),
        (0.30, 100.0, 1.0, 0.3),  # 150 / 500 is exactly 30 %
    ],
)
def test_the_chosen_cut_approves_the_most_gmv_within_the_tolerance(
    tolerance: float, cut: float, gmv_share: float, loss: float
) -> None:
    result = tolerance_curve(SCORES, LABELS, tolerance, AMOUNTS)
    assert result.status == "met"
    assert result.chosen is not None
    assert result.chosen.cut == cut
    assert result.chosen.approved_gmv_share == pytest.approx(gmv_share)
    assert result.chosen.loss_rate == pytest.approx(loss)
    assert result.threshold == cut
    assert f"{loss:.2%}" in result.note
    assert "损失率" in result.note_zh


def test_without_amounts_every_event_weighs_one() -> None:
    result = tolerance_curve(SCORES, LABELS, 0.25)
    assert result.by == "events"
    # bad rates: cut 20: 0/1, 40: 1/3, 70: 1/4, 100: 2/5
    assert [p.loss_rate for p in result.curve] == [None, 0.0, pytest.approx(1 / 3), 0.25, 0.4]
    assert result.chosen is not None
    assert (result.chosen.cut, result.chosen.approved) == (70.0, 4)
    # every amount 0 is the same as no amounts
    zero = tolerance_curve(SCORES, LABELS, 0.25, [0.0] * 5)
    assert (zero.by, zero.curve) == ("events", result.curve)


def test_equal_gmv_goes_to_the_lower_loss_then_the_lower_cut() -> None:
    # the order at 20 has no amount: cuts 20 and 30 approve the same GMV, both without loss
    result = tolerance_curve([10.0, 20.0, 30.0], [0, 0, 1], 0.05, [100.0, 0.0, 50.0])
    assert [(p.cut, p.approved_gmv, p.loss_rate) for p in result.curve] == [
        (10.0, 0.0, None),
        (20.0, 100.0, 0.0),
        (30.0, 100.0, 0.0),
        (100.0, 150.0, pytest.approx(1 / 3)),
    ]
    assert result.chosen is not None
    assert result.chosen.cut == 20.0


def test_no_bad_events_approve_everything_and_say_so() -> None:
    result = tolerance_curve([1.0, 50.0], [0, 0], 0.05, [10.0, 30.0])
    assert result.status == "no_bad"
    assert result.chosen is not None
    assert (result.chosen.cut, result.chosen.approval_rate, result.chosen.caught_share) == (
        100.0, 1.0, None
    )  # fmt: skip
    assert "no labelled bad events" in result.note


def test_when_no_cut_meets_the_tolerance_nothing_is_approved() -> None:
    # cut 30 approves the two at 5 (one bad): 50 %; cut 100 all three: 2 / 3
    result = tolerance_curve([5.0, 5.0, 30.0], [1, 0, 1], 0.05)
    assert result.status == "unreachable"
    assert result.chosen is not None
    assert (result.chosen.cut, result.chosen.approved, result.chosen.loss_rate) == (5.0, 0, None)
    assert result.threshold == 5.0
    assert "nothing is approved automatically" in result.note
    assert "5.0%" in result.note


def test_a_score_of_100_is_never_approved() -> None:
    result = tolerance_curve([3.0, 100.0], [0, 1], 0.05, [10.0, 10.0])
    assert [p.cut for p in result.curve] == [3.0, 100.0]
    assert result.chosen is not None
    assert (result.chosen.cut, result.chosen.approved, result.chosen.caught_share) == (
        100.0, 1, 1.0
    )  # fmt: skip


def test_no_events() -> None:
    result = tolerance_curve([], [], 0.05, [])
    assert (result.status, result.curve, result.chosen, result.threshold) == (
        "empty", (), None, None
    )  # fmt: skip


@pytest.mark.parametrize(
    ("low", "cut", "threshold"),
    [
        (2.94, 26.198248153409097, 26.1),  # 3 significant digits, rounded down
        (26.15, 26.198248153409097, 26.19),
        (26.1981, 26.198248153409097, 26.1982),
        (59.89, 62.5, 62.5),
        (0.001, 0.0123456, 0.0123),
        (None, 3.4482758620689653, 3.4482758620689653),  # the lowest cut stays as it is
        (26.19824815340909, 26.198248153409097, 26.198248153409097),  # no short number fits
    ],
)
def test_the_threshold_is_a_short_number_approving_the_same_events(
    low: float | None, cut: float, threshold: float
) -> None:
    assert tidy_cut(low, cut) == threshold


def test_a_chosen_cut_gets_a_short_threshold() -> None:
    # cut 26.198… follows the score 2.94: 26.1 approves the same events
    result = tolerance_curve([2.94, 26.198248153409097, 90.0], [0, 0, 1], 0.05)
    assert result.chosen is not None
    assert (result.chosen.cut, result.threshold) == (90.0, 90.0)
    result = tolerance_curve([2.94, 26.198248153409097, 30.0], [0, 1, 0], 0.05)
    assert result.chosen is not None
    assert (result.chosen.cut, result.threshold) == (26.198248153409097, 26.1)


def test_bands_keep_their_ratios_to_the_review_threshold() -> None:
    bands = {"challenge": 1.0, "review": 4.0, "deny": 12.0}
    assert band_thresholds(20.0, bands) == {"challenge": 5.0, "review": 20.0, "deny": 60.0}
    assert band_thresholds(3.45, bands) == {"challenge": 0.8625, "review": 3.45, "deny": 10.35}
    assert band_thresholds(62.5, bands) == {"challenge": 15.625, "review": 62.5, "deny": 100.0}
    # challenge and deny keep 6 significant digits, and never cross review
    same = {"challenge": 2.0, "review": 2.0, "deny": 2.0}
    assert band_thresholds(1 / 3, same) == {"challenge": 0.333333, "review": 1 / 3, "deny": 1 / 3}


@pytest.mark.parametrize(
    ("scores", "labels", "tolerance", "amounts", "field"),
    [
        ([1.0], [0], 0.0, None, "tolerance"),
        ([1.0], [0], 1.0, None, "tolerance"),
        ([1.0, 2.0], [0], 0.05, None, "labels"),
        ([1.0], [2], 0.05, None, "labels"),
        ([101.0], [0], 0.05, None, "scores"),
        ([float("nan")], [0], 0.05, None, "scores"),
        ([1.0], [0], 0.05, [-1.0], "amounts"),
        ([1.0], [0], 0.05, [1.0, 2.0], "amounts"),
    ],
)
def test_bad_input_names_the_argument(
    scores: list[float],
    labels: list[int],
    tolerance: float,
    amounts: list[float] | None,
    field: str,
) -> None:
    with pytest.raises(ToleranceInputError) as err:
        tolerance_curve(scores, labels, tolerance, amounts)
    assert err.value.field == field
