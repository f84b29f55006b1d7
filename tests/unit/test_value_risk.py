"""Value × risk (pure): value segments by rank with ties, risk segments from outcomes and
scores, the 4 × 3 matrix with treatments, and insult rates - on hand-made data."""

from __future__ import annotations

import math

import pytest

from riskops.core.analytics.value_risk import (
    RISK_SEGMENTS,
    TREATMENTS,
    VALUE_SEGMENTS,
    Decision,
    Tally,
    ValueRiskConfig,
    ValueRiskInputError,
    risk_segment,
    value_risk,
    value_segments,
)

VALUES = {"a": 100.0, "b": 90.0, "c": 50.0, "d": 40.0, "e": 30.0}
VALUES |= {"f": 20.0, "g": 10.0, "h": 5.0, "i": 2.0, "j": 1.0}
DECISIONS = [
    Decision("a", "allow"),
    Decision("a", "allow"),
    Decision("b", "challenge"),
    Decision("b", "allow"),
    Decision("c", "deny"),
    Decision("d", "allow"),
    Decision("e", "review"),
    Decision("f", "allow"),
    Decision("k", "challenge"),  # no purchase yet: new
    Decision("l", "deny"),  # new, and labelled
]
BAD = {"e", "l", "g"}  # g is labelled but was never decided


def test_value_segments_top_20_next_30_rest() -> None:
    got = value_segments(VALUES, ValueRiskConfig())
    assert {u for u, s in got.items() if s == "high"} == {"a", "b"}
    assert {u for u, s in got.items() if s == "mid"} == {"c", "d", "e"}
    assert {u for u, s in got.items() if s == "low"} == {"f", "g", "h", "i", "j"}


@pytest.mark.parametrize(
    ("values", "config", "expected"),
    [
        # ties share a segment: nobody is above the three 5s, so all three are high
        ({"a": 5, "b": 5, "c": 5, "d": 1, "e": 0}, ValueRiskConfig(), "HHHLL"),
        # one customer is the top of their base
        ({"a": 7.5}, ValueRiskConfig(), "H"),
        # configurable shares: top half high, no mid segment
        ({"a": 4, "b": 3, "c": 2, "d": 1}, ValueRiskConfig(high_share=0.5, mid_share=0), "HHLL"),
        (
            {"a": 4, "b": 3, "c": 2, "d": 1},
            ValueRiskConfig(high_share=0.25, mid_share=0.75),
            "HMMM",
        ),
        # every value equal: all high (nobody is strictly above anybody)
        ({"a": 0, "b": 0, "c": 0}, ValueRiskConfig(), "HHH"),
    ],
)
def test_value_segments_by_rank(
    values: dict[str, float], config: ValueRiskConfig, expected: str
) -> None:
    got = value_segments(values, config)
    letters = {"high": "H", "mid": "M", "low": "L"}
    assert "".join(letters[got[u]] for u in sorted(values)) == expected


@pytest.mark.parametrize(
    ("counts", "max_score", "score_cut", "expected"),
    [
        ({}, None, None, "low"),
        ({"allow": 3}, None, None, "low"),
        ({"allow": 3, "challenge": 1}, None, None, "medium"),
        ({"allow": 9, "review": 1}, None, None, "high"),
        ({"challenge": 2, "deny": 1}, None, None, "high"),
        ({"allow": 2}, 70.0, 60.0, "high"),  # the score reaches the cut
        ({"allow": 2}, 60.0, 60.0, "high"),  # at the cut counts
        ({"allow": 2}, 59.0, 60.0, "low"),
        ({"challenge": 1}, 59.0, 60.0, "medium"),
        ({"allow": 2}, 99.0, None, "low"),  # no cut: outcomes only
    ],
)
def test_risk_segment(
    counts: dict[str, int], max_score: float | None, score_cut: float | None, expected: str
) -> None:
    tally = Tally(max_score=max_score)
    tally.counts.update(counts)
    assert risk_segment(tally, ValueRiskConfig(score_cut=score_cut)) == expected


def test_report_customers_matrix_and_treatments() -> None:
    report = value_risk(VALUES, DECISIONS, BAD)
    rows = {r.user_id: r for r in report.customers}
    assert list(rows) == ["a", "b", "c", "d", "e", "f", "k", "l"]  # only the decided, sorted
    got = {u: (r.value_segment, r.risk_segment, r.good, r.treatment) for u, r in rows.items()}
    assert got == {
        "a": ("high", "low", True, "fast_lane"),
        "b": ("high", "medium", True, "light_step_up"),
        "c": ("mid", "high", True, "review_with_limits"),
        "d": ("mid", "low", True, "standard_plus"),
        "e": ("mid", "high", False, "review_with_limits"),
        "f": ("low", "low", True, "standard"),
        "k": ("new", "medium", True, "verify_new"),
        "l": ("new", "high", False, "review_new"),
    }
    assert (rows["a"].decisions, rows["a"].allow, rows["b"].challenge) == (2, 2, 1)
    assert rows["k"].value is None
    assert rows["a"].value == 100.0
    assert report.valued_customers == 10  # g..j count in the ranks though never decided
    assert (report.high_from, report.mid_from) == (90.0, 30.0)
    cells = {(c.value_segment, c.risk_segment): c for c in report.cells}
    assert list(cells) == [(v, r) for v in VALUE_SEGMENTS for r in RISK_SEGMENTS]
    assert (cells["mid", "high"].customers, cells["mid", "high"].labelled) == (2, 1)
    assert cells["high", "high"].customers == 0
    assert sum(c.customers for c in report.cells) == len(rows)
    assert sum(c.share for c in report.cells) == pytest.approx(1.0)
    assert cells["high", "high"].treatment_en.startswith("serve with limits")
    assert cells["low", "high"].treatment_en == "deny / review"
    assert cells["high", "low"].treatment_zh == "快速通道：极速退款、免密支付"


def test_insult_rates_by_value_segment() -> None:
    report = value_risk(VALUES, DECISIONS, BAD)
    insult = {r.value_segment: r for r in report.insult}
    assert list(insult) == ["high", "mid", "low", "new", "all"]
    high, mid, low, new, every = (insult[s] for s in ("high", "mid", "low", "new", "all"))
    # high: a (all allowed) and b (one challenge): one of two good customers was stopped
    assert (high.good_customers, high.insulted, high.insult_rate) == (2, 1, 0.5)
    assert (high.decisions, high.non_allow, high.decision_fp_rate) == (4, 1, 0.25)
    assert (high.denied, high.deny_rate, high.decision_deny_rate) == (0, 0.0, 0.0)
    # mid: e is labelled, so only c (denied) and d (allowed) are good customers
    assert (mid.customers, mid.good_customers, mid.insulted, mid.denied) == (3, 2, 1, 1)
    assert (mid.insult_rate, mid.deny_rate, mid.decision_deny_rate) == (0.5, 0.5, 0.5)
    assert (low.insulted, low.insult_rate) == (0, 0.0)
    assert (new.good_customers, new.insult_rate) == (1, 1.0)  # k challenged; l is labelled
    assert (every.customers, every.good_customers, every.insulted) == (8, 6, 3)
    assert (every.decisions, every.non_allow, every.deny_decisions) == (8, 3, 1)
    assert every.decision_fp_rate == pytest.approx(3 / 8)
    assert every.deny_rate == pytest.approx(1 / 6)
    assert (every.name_en, every.name_zh) == ("all customers", "全部客户")


def test_scores_make_high_risk_only_with_a_cut() -> None:
    scored = [Decision("a", "allow", 80.0), Decision("a", "allow", 10.0), Decision("b", "allow")]
    plain = {r.user_id: r for r in value_risk({"a": 1.0}, scored, set()).customers}
    assert plain["a"].risk_segment == "low"
    assert plain["a"].max_score == 80.0
    cut = value_risk({"a": 1.0}, scored, set(), ValueRiskConfig(score_cut=75))
    rows = {r.user_id: r for r in cut.customers}
    assert (rows["a"].risk_segment, rows["b"].risk_segment) == ("high", "low")
    # a score is no insult: only non-allow outcomes stop a customer
    assert cut.insult[-1].insulted == 0


def test_segments_without_good_customers_have_no_rate() -> None:
    report = value_risk({}, [Decision("x", "deny")], {"x"})
    insult = {r.value_segment: r for r in report.insult}
    assert insult["new"].customers == 1
    assert insult["new"].insult_rate is None
    assert insult["new"].decision_fp_rate is None
    assert insult["high"].customers == 0
    assert insult["high"].insult_rate is None
    assert (report.high_from, report.mid_from, report.valued_customers) == (None, None, 0)


def test_empty_input_gives_an_empty_matrix() -> None:
    report = value_risk({}, [], set())
    assert report.customers == []
    assert all(c.customers == 0 and c.share == 0.0 for c in report.cells)


def test_every_cell_has_a_bilingual_treatment_and_high_value_is_never_denied() -> None:
    assert set(TREATMENTS) == {(v, r) for v in VALUE_SEGMENTS for r in RISK_SEGMENTS}
    assert len({t.id for t in TREATMENTS.values()}) == len(TREATMENTS)
    for t in TREATMENTS.values():
        assert t.en
        assert t.zh
        assert t.en != t.zh
    assert "never an outright deny" in TREATMENTS["high", "high"].en
    assert "deny" not in TREATMENTS["high", "high"].id


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"high_share": 0}, "high_share"),
        ({"high_share": 1.5}, "high_share"),
        ({"high_share": math.nan}, "high_share"),
        ({"high_share": True}, "high_share"),
        ({"mid_share": -0.1}, "mid_share"),
        ({"high_share": 0.6, "mid_share": 0.5}, "mid_share"),
        ({"score_cut": 101}, "score_cut"),
        ({"score_cut": math.inf}, "score_cut"),
    ],
)
def test_bad_options_name_the_field(options: dict[str, float], field: str) -> None:
    with pytest.raises(ValueRiskInputError) as caught:
        ValueRiskConfig(**options)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("values", "decisions", "field"),
    [
        ({"a": math.nan}, [], "values"),
        ({"a": "12"}, [], "values"),
        ({}, [Decision("a", "block")], "decisions"),
    ],
)
def test_bad_data_names_the_field(
    values: dict[str, float], decisions: list[Decision], field: str
) -> None:
    with pytest.raises(ValueRiskInputError) as caught:
        value_risk(values, decisions, set())
    assert caught.value.field == field
