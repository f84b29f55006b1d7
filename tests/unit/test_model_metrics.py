"""The models' pure maths against values worked out by hand: AUC, average precision and
recall at a false positive rate (ties included), isotonic calibration, the time split and the
default feature lists."""

from __future__ import annotations

import numpy as np
import pytest

from riskops.core.models import (
    MODELS,
    Calibration,
    average_precision,
    brier,
    feature_problems,
    fit_isotonic,
    recall_at_fpr,
    roc_auc,
    spec_problems,
    time_split,
)
from riskops.core.models.metrics import average_ranks, curve

# positives score 0.9 and 0.4, negatives 0.8 and 0.1
Y = [1, 0, 1, 0]
S = [0.9, 0.8, 0.4, 0.1]
# ties: 0.5 holds a positive and a negative, 0.3 too; 0.9 a positive alone
YT = [1, 0, 1, 0, 1]
ST = [0.5, 0.5, 0.3, 0.3, 0.9]


def test_auc_counts_ordered_pairs() -> None:
    # pairs (pos, neg): 0.9>0.8, 0.9>0.1, 0.4<0.8, 0.4>0.1 -> 3 of 4
    assert roc_auc(Y, S) == pytest.approx(0.75)
    assert roc_auc([1, 1, 0], [3.0, 2.0, 1.0]) == 1.0
    assert roc_auc([0, 0, 1], [3.0, 2.0, 1.0]) == 0.0


def test_auc_counts_a_tie_as_one_half() -> None:
    # 0.5|0.5 = 1/2, 0.5>0.3 = 1, 0.3<0.5 = 0, 0.3|0.3 = 1/2, 0.9 beats both = 2 -> 4 of 6
    assert roc_auc(YT, ST) == pytest.approx(4 / 6)
    assert roc_auc([1, 0], [0.2, 0.2]) == pytest.approx(0.5)
    assert average_ranks([0.3, 0.1, 0.3, 0.2]).tolist() == [3.5, 1.0, 3.5, 2.0]


def test_undefined_metrics_are_none() -> None:
    assert roc_auc([1, 1], [0.1, 0.2]) is None
    assert roc_auc([0, 0], [0.1, 0.2]) is None
    assert average_precision([0, 0], [0.1, 0.2]) is None
    assert recall_at_fpr([1, 1], [0.1, 0.2], 0.01) is None
    assert recall_at_fpr([0, 0], [0.1, 0.2], 0.01) is None
    assert brier([], []) is None
    assert roc_auc([], []) is None


def test_average_precision_is_the_step_sum() -> None:
    # 0.9: P 1, R 1/2; 0.8: R unchanged; 0.4: P 2/3, R 1 -> 1/2 * 1 + 1/2 * 2/3
    assert average_precision(Y, S) == pytest.approx(0.5 + 1 / 3)
    # ties are one threshold: 0.9: P 1 R 1/3; 0.5: P 2/3 R 2/3; 0.3: P 3/5 R 1
    assert average_precision(YT, ST) == pytest.approx(1 / 3 + 2 / 9 + 1 / 5)


def test_the_curve_steps_over_a_whole_tie() -> None:
    tp, fp = curve(YT, ST)
    assert tp.tolist() == [1, 2, 3]
    assert fp.tolist() == [0, 1, 2]


def test_recall_at_fpr_never_splits_a_tie() -> None:
    assert recall_at_fpr(Y, S, 0.0) == pytest.approx(0.5)  # only 0.9 before any negative
    assert recall_at_fpr(Y, S, 0.5) == pytest.approx(1.0)  # one of two negatives allowed
    assert recall_at_fpr(YT, ST, 0.0) == pytest.approx(1 / 3)
    assert recall_at_fpr(YT, ST, 0.49) == pytest.approx(1 / 3)  # 0.5 brings a negative
    assert recall_at_fpr(YT, ST, 0.5) == pytest.approx(2 / 3)
    assert recall_at_fpr([0, 1], [0.9, 0.1], 0.0) == 0.0  # the negative outscores everything
    with pytest.raises(ValueError, match="max_fpr"):
        recall_at_fpr(Y, S, 1.5)


def test_brier_and_input_checks() -> None:
    assert brier([1, 0], [0.8, 0.4]) == pytest.approx((0.04 + 0.16) / 2)
    with pytest.raises(ValueError, match="0 or 1"):
        roc_auc([2, 0], [0.1, 0.2])
    with pytest.raises(ValueError, match="finite"):
        roc_auc([1, 0], [float("nan"), 0.2])
    with pytest.raises(ValueError, match="same length"):
        roc_auc([1, 0], [0.1])


def test_isotonic_pools_adjacent_violators() -> None:
    cal = fit_isotonic([1, 2, 3, 4, 5], [0, 1, 0, 1, 1])
    # 1 then 0 at x = 2, 3 violates: pooled to 0.5; x = 4, 5 are both 1
    assert cal.xs == (1.0, 2.0, 3.0, 4.0, 5.0)
    assert cal.ys == (0.0, 0.5, 0.5, 1.0, 1.0)
    got = cal.apply([0.0, 2.5, 3.5, 9.0]).tolist()
    assert got == pytest.approx([0.0, 0.5, 0.75, 1.0])  # clipped at both ends


def test_isotonic_pools_ties_first_and_stays_in_the_unit_interval() -> None:
    cal = fit_isotonic([1, 1, 2, 2], [1, 0, 0, 0])  # x=1: mean 1/2, x=2: 0 -> one block 1/4
    assert cal.xs == (1.0, 2.0)
    assert cal.ys == (0.25, 0.25)
    rng = np.random.default_rng(3)
    s = rng.normal(size=500)
    y = (rng.random(500) < 1 / (1 + np.exp(-2 * s))).astype(float)
    fitted = fit_isotonic(s, y)
    out = fitted.apply(np.sort(rng.normal(size=200) * 3))
    assert np.all(np.diff(out) >= 0)
    assert out.min() >= 0.0
    assert out.max() <= 1.0
    assert Calibration.from_dict(fitted.as_dict()) == fitted
    with pytest.raises(ValueError, match="increasing"):
        Calibration.from_dict({"xs": [1.0, 1.0], "ys": [0.0, 1.0]})
    with pytest.raises(ValueError, match="not empty"):
        fit_isotonic([], [])


def test_time_split_never_cuts_inside_equal_times() -> None:
    split = time_split([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.5)
    assert (split.calibration_start, split.test_start) == (5, 7)  # round(2.5) = 2
    tied = time_split([1, 2, 3, 3, 3, 3, 4, 5, 6, 7], 0.5)
    # the cut at row 5 (time 3) moves back to row 2; then 4 of the 8 held-out rows
    assert (tied.calibration_start, tied.test_start) == (2, 6)


def test_time_split_refuses_what_cannot_be_split() -> None:
    with pytest.raises(ValueError, match="no training rows"):
        time_split([5, 5, 5, 5], 0.5)  # all-identical timestamps
    with pytest.raises(ValueError, match="valid_fraction"):
        time_split([1, 2, 3], 0.0)
    with pytest.raises(ValueError, match="sorted"):
        time_split([3, 2, 1], 0.5)
    with pytest.raises(ValueError, match="calibration part"):
        time_split([1, 2, 3, 3], 0.5)  # both held-out rows share one time
    with pytest.raises(ValueError, match="test part"):
        time_split([1, 2, 3, 4], 0.5, calibration_share=0.9)
    with pytest.raises(ValueError, match="no training rows"):
        time_split([], 0.2)


def test_every_default_feature_type_checks_against_its_checkpoint() -> None:
    assert set(MODELS) == {
        "order_fraud",
        "coupon_abuse",
        "account_takeover",
        "cod_refusal",
        "refund_abuse",
        "return_risk",
    }
    for spec in MODELS.values():
        assert spec_problems(spec) == [], spec.name
        assert len(spec.features) >= 10


def test_feature_problems_name_each_bad_path() -> None:
    problems = dict(
        feature_problems(
            "order",
            [
                "velocity.user.orders_1h",
                "event.payment_method",
                "velocity.user.nonsense_1h",
                "graph.device.blocked_users",
                "event.time",
                "velocity.user.orders_1h",
            ],
        )
    )
    assert "string" in problems["event.payment_method"]
    assert "not a field" in problems["velocity.user.nonsense_1h"]
    assert "point-in-time" in problems["graph.device.blocked_users"]
    assert "point-in-time" in problems["event.time"]
    assert problems["velocity.user.orders_1h"] == "repeated"
    assert feature_problems("nowhere", ["x"])[0][0] == "nowhere"
