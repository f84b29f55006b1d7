"""The statistics of a holdout campaign against published values and the formulas worked by
hand: Wilson intervals (Newcombe 1998, "Two-sided confidence intervals for the single
proportion", method 3), Newcombe's hybrid score interval for a difference (Newcombe 1998,
"Interval estimation for the difference between independent proportions", Table II, method
10), the pooled z-test against scipy's chi-square test, the edge cases, and the split."""

from __future__ import annotations

import math

import pytest
from scipy.stats import chi2_contingency

from riskops.core.analytics.uplift import (
    UpliftInputError,
    in_holdout,
    newcombe_interval,
    two_proportion_z_test,
    uplift,
    wilson_interval,
)


@pytest.mark.parametrize(
    ("x", "n", "low", "high"),
    [
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_interval_matches_newcombe_1998_single_proportion(
    x: int, n: int, low: float, high: float
) -> None:
    interval = wilson_interval(x, n)
    assert interval is not None
    assert interval[0] == pytest.approx(low, abs=5e-5)
    assert interval[1] == pytest.approx(high, abs=5e-5)


def test_wilson_interval_by_hand() -> None:
    # 5/10 at z = 1.959964: centre 0.5, half = z*sqrt(.025 + z²/400)/(1 + z²/10)
    z = 1.959963984540054
    half = z * math.sqrt(0.25 / 10 + z * z / 400) / (1 + z * z / 10)
    interval = wilson_interval(5, 10)
    assert interval == pytest.approx((0.5 - half, 0.5 + half), abs=1e-12)
    assert interval == pytest.approx((0.2366, 0.7634), abs=5e-5)


@pytest.mark.parametrize(
    ("x1", "n1", "x2", "n2", "low", "high"),
    [
        (56, 70, 48, 80, 0.0524, 0.3339),
        (9, 10, 3, 10, 0.1705, 0.8090),
        (5, 56, 0, 29, -0.0381, 0.1926),
        (0, 10, 0, 20, -0.1611, 0.2775),
        (0, 10, 0, 10, -0.2775, 0.2775),
        (10, 10, 0, 20, 0.6791, 1.0),
        (10, 10, 0, 10, 0.6075, 1.0),
    ],
)
def test_newcombe_interval_matches_table_ii_method_10(
    x1: int, n1: int, x2: int, n2: int, low: float, high: float
) -> None:
    interval = newcombe_interval(x1, n1, x2, n2)
    assert interval is not None
    assert interval[0] == pytest.approx(low, abs=5e-5)
    assert interval[1] == pytest.approx(high, abs=5e-5)


def test_newcombe_interval_from_the_wilson_limits_by_hand() -> None:
    l1, u1 = wilson_interval(56, 70) or (0.0, 0.0)
    l2, u2 = wilson_interval(48, 80) or (0.0, 0.0)
    d = 0.8 - 0.6
    expected = (
        d - math.sqrt((0.8 - l1) ** 2 + (u2 - 0.6) ** 2),
        d + math.sqrt((u1 - 0.8) ** 2 + (0.6 - l2) ** 2),
    )
    assert newcombe_interval(56, 70, 48, 80) == pytest.approx(expected, abs=1e-12)
    # a wider confidence gives a wider interval around the same difference
    wide = newcombe_interval(56, 70, 48, 80, confidence=0.99)
    assert wide is not None
    assert wide[0] < expected[0] < d < expected[1] < wide[1]


def test_z_test_equals_the_uncorrected_chi_square_test() -> None:
    found = two_proportion_z_test(56, 70, 48, 80)
    assert found is not None
    z, p = found
    chi2, p_chi2, _, _ = chi2_contingency([[56, 14], [48, 32]], correction=False)
    assert z == pytest.approx(math.sqrt(chi2), rel=1e-12)
    assert p == pytest.approx(p_chi2, rel=1e-9)
    # by hand: pooled 104/150, se = sqrt(p(1-p)(1/70 + 1/80))
    pooled = 104 / 150
    assert z == pytest.approx(0.2 / math.sqrt(pooled * (1 - pooled) * (1 / 70 + 1 / 80)))
    assert two_proportion_z_test(48, 80, 56, 70) == pytest.approx((-z, p))


def test_uplift_figures() -> None:
    result = uplift(56, 70, 48, 80)
    assert result.treated_rate == pytest.approx(0.8)
    assert result.holdout_rate == pytest.approx(0.6)
    assert result.absolute == pytest.approx(0.2)
    assert result.relative == pytest.approx(0.2 / 0.6)
    assert (result.ci_low, result.ci_high) == pytest.approx((0.0524, 0.3339), abs=5e-5)
    assert result.p_value == pytest.approx(0.008045, abs=1e-6)
    assert result.note is None


def test_an_empty_group_gives_none_and_says_too_few_carts() -> None:
    result = uplift(3, 10, 0, 0)
    assert result.treated_rate == pytest.approx(0.3)
    assert result.holdout_rate is None
    assert result.absolute is None
    assert result.ci_low is None
    assert result.ci_high is None
    assert result.relative is None
    assert result.z is None
    assert result.p_value is None
    assert result.note == "too few carts: the holdout group is empty"
    both = uplift(0, 0, 0, 0)
    assert both.note == "too few carts: the treated and the holdout group is empty"
    assert both.treated_rate is None


def test_zero_recoveries_everywhere_is_no_difference_not_nan() -> None:
    result = uplift(0, 50, 0, 5)
    assert result.absolute == 0.0
    assert (result.z, result.p_value) == (0.0, 1.0)
    assert result.relative is None
    assert result.note is not None
    assert "relative uplift undefined" in result.note
    assert result.ci_low is not None
    assert result.ci_low < 0 < (result.ci_high or 0)
    everything = uplift(7, 7, 3, 3)
    assert (everything.z, everything.p_value, everything.relative) == (0.0, 1.0, 0.0)
    for value in (everything.ci_low, everything.ci_high, result.ci_low, result.ci_high):
        assert value is not None
        assert not math.isnan(value)


def test_tiny_groups_are_flagged() -> None:
    result = uplift(1, 3, 1, 2)
    assert result.note is not None
    assert result.note.startswith("few carts")
    assert result.p_value is not None
    assert 0 <= result.p_value <= 1


@pytest.mark.parametrize(
    ("args", "field"),
    [((5, 4, 1, 2), "treated_recovered"), ((1, 2, -1, 2), "holdout_recovered")],
)
def test_impossible_counts_are_refused(args: tuple[int, int, int, int], field: str) -> None:
    with pytest.raises(UpliftInputError) as caught:
        uplift(*args)
    assert caught.value.field == field


@pytest.mark.parametrize("confidence", [0.0, 1.0, 1.5])
def test_confidence_must_be_inside_0_1(confidence: float) -> None:
    with pytest.raises(UpliftInputError, match="confidence"):
        uplift(1, 2, 1, 2, confidence=confidence)


def test_holdout_is_deterministic_and_close_to_the_share() -> None:
    users = [f"user-{i}" for i in range(10_000)]
    held = [u for u in users if in_holdout("spring", u, 0.10, "salt")]
    assert held == [u for u in users if in_holdout("spring", u, 0.10, "salt")]
    # binomial(10000, 0.1): sd 30, so 4 sd either side
    assert 880 <= len(held) <= 1120
    other_campaign = {u for u in users if in_holdout("autumn", u, 0.10, "salt")}
    other_salt = {u for u in users if in_holdout("spring", u, 0.10, "pepper")}
    assert set(held) != other_campaign
    assert set(held) != other_salt
    # a larger share keeps everyone the smaller one held out
    assert set(held) <= {u for u in users if in_holdout("spring", u, 0.25, "salt")}
    assert not any(in_holdout("spring", u, 0.0, "salt") for u in users[:100])
    assert all(in_holdout("spring", u, 1.0, "salt") for u in users[:100])
    with pytest.raises(UpliftInputError, match="holdout_share"):
        in_holdout("spring", "u", 1.5)
