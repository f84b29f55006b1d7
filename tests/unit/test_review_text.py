"""Review text: English, Chinese and mixed tokens, aspect matching, and the early-warning rule
on hand-made counts."""

from __future__ import annotations

import math

import pytest

from riskops.core.analytics.text import Aspect, aspects_of, check_lexicon, tokenize
from riskops.services.analytics.inputs import AnalyticsInputError
from riskops.services.analytics.reviews import WarningRule, rise_test


def test_english_tokens_are_lower_case_words_without_stop_words() -> None:
    text = "The Delivery was LATE, and it didn’t fit: 2 stars. A x"
    assert tokenize(text) == ["delivery", "late", "didn't", "fit", "stars"]


def test_full_width_letters_and_punctuation_are_normalised() -> None:
    assert tokenize("ＧＲＥＡＴ！Ｖａｌｕｅ") == ["great", "value"]


def test_chinese_is_segmented_and_stop_words_dropped() -> None:
    tokens = tokenize("质量很好，物流很快")
    assert "质量" in tokens
    assert "物流" in tokens
    assert "很" not in tokens
    assert "，" not in tokens
    assert "".join(tokens) == "质量好物流很快"


def test_mixed_text_keeps_both_scripts_in_order() -> None:
    assert tokenize("Perfect!! 完美") == ["perfect", "完美"]
    tokens = tokenize("fast shipping但是质量差 anyway")
    assert tokens[:2] == ["fast", "shipping"]
    assert tokens[-1] == "anyway"
    assert "质量" in tokens
    assert "差" in tokens


@pytest.mark.parametrize("text", [None, "", "   ", "!!! 123 。，"])
def test_no_tokens_from_empty_text(text: str | None) -> None:
    assert tokenize(text) == []


@pytest.mark.parametrize(
    ("text", "aspects"),
    [
        ("Great quality, fast delivery", ["delivery", "quality"]),
        ("It was delivered late and the box was crushed", ["delivery", "packaging"]),
        ("Shipping took ages", ["delivery"]),
        ("价格便宜", ["price"]),  # one jieba token, still a mention of 价格
        ("质量差，和描述不符", ["quality", "accuracy"]),
        ("发货太慢", ["delivery"]),
        ("物美价廉，会回购", ["price"]),
        ("尺码偏小, too tight", ["size"]),
        ("假货！not authentic", ["authenticity"]),
        ("Rude seller, 客服不理人, refund refused", ["service", "returns"]),
        ("I love it", []),
        ("Perfect!! 完美", []),
        (None, []),
    ],
)
def test_aspects_in_english_chinese_and_mixed_text(text: str | None, aspects: list[str]) -> None:
    assert aspects_of(text) == aspects


def test_english_entries_match_whole_words_unless_starred() -> None:
    lexicon = [Aspect("fit", ("fit",), ()), Aspect("ship", ("ship*",), ())]
    assert aspects_of("outfit shipped", lexicon) == ["ship"]
    assert aspects_of("a perfect fit", lexicon) == ["fit"]


@pytest.mark.parametrize(
    "lexicon",
    [
        [],
        [Aspect("a", ("x",), ()), Aspect("a", ("y",), ())],
        [Aspect("a", (), ())],
        [Aspect("a", ("Upper",), ())],
        [Aspect("a", ("*",), ())],
        [Aspect("a", (), ("",))],
    ],
)
def test_bad_lexicons_are_refused(lexicon: list[Aspect]) -> None:
    with pytest.raises(ValueError, match=r"aspect|lexicon"):
        check_lexicon(lexicon)


RULE = WarningRule(margin=0.10, min_reviews=10, min_baseline_reviews=20, alpha=0.05)


def test_a_clear_rise_is_flagged() -> None:
    # 6/10 negative against 8/80: pooled 14/90, se = sqrt(14/90 * 76/90 * (1/10 + 1/80))
    result = rise_test(6, 10, 8, 80, RULE)
    se = math.sqrt(14 / 90 * 76 / 90 * (1 / 10 + 1 / 80))
    assert result.rise == pytest.approx(0.5)
    assert result.z == pytest.approx(0.5 / se) == pytest.approx(4.1131, abs=1e-4)
    assert result.p_value == pytest.approx(1.952e-5, rel=1e-3)
    assert (result.flagged, result.reason) == (True, "flagged")


def test_a_rise_that_could_be_chance_is_not_flagged() -> None:
    # 3/10 against 2/20: rise 0.2 but z = 0.2 / sqrt(1/6 * 5/6 * 0.15) = 1.386, p = 0.083
    result = rise_test(3, 10, 2, 20, RULE)
    assert result.z == pytest.approx(1.3856, abs=1e-4)
    assert result.p_value == pytest.approx(0.0829, abs=1e-4)
    assert (result.flagged, result.reason) == (False, "not significant")
    looser = WarningRule(margin=0.0, min_reviews=10, min_baseline_reviews=20, alpha=0.10)
    assert rise_test(3, 10, 2, 20, looser).flagged


@pytest.mark.parametrize(
    ("counts", "reason"),
    [
        ((5, 9, 8, 80), "too few reviews"),
        ((6, 10, 0, 0), "no baseline"),
        ((6, 10, 1, 19), "baseline too small"),
        ((150, 1000, 100, 1000), "rise below margin"),  # 15 % vs 10 %: significant, too small
        ((0, 10, 0, 30), "no variation"),
        ((10, 10, 30, 30), "no variation"),
    ],
)
def test_why_a_week_is_not_flagged(counts: tuple[int, int, int, int], reason: str) -> None:
    result = rise_test(*counts, RULE)
    assert (result.flagged, result.reason) == (False, reason)


def test_undefined_figures_are_none() -> None:
    assert rise_test(6, 10, 0, 0, RULE).rise is None
    flat = rise_test(0, 10, 0, 30, RULE)
    assert (flat.rise, flat.z, flat.p_value) == (0.0, None, None)


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        (WarningRule(margin=-0.1), "margin"),
        (WarningRule(margin=1.0), "margin"),
        (WarningRule(alpha=0.0), "alpha"),
        (WarningRule(alpha=math.nan), "alpha"),
        (WarningRule(min_reviews=0), "min_reviews"),
        (WarningRule(baseline_weeks=True), "baseline_weeks"),
    ],
)
def test_bad_rules_are_refused(rule: WarningRule, field: str) -> None:
    with pytest.raises(AnalyticsInputError) as err:
        rule.checked()
    assert err.value.field == field


def test_impossible_counts_are_refused() -> None:
    with pytest.raises(AnalyticsInputError):
        rise_test(3, 2, 0, 10, RULE)
    with pytest.raises(AnalyticsInputError):
        rise_test(0, 0, 0, 10, RULE)
