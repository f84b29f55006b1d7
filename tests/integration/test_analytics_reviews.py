"""Review heat and the negative-review early warning on hand-made reviews (answers worked out
by hand)."""

from __future__ import annotations

import runpy
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from riskops.core.analytics.text import Aspect
from riskops.services.analytics.data import AnalyticsData
from riskops.services.analytics.inputs import AnalyticsInputError
from riskops.services.analytics.reviews import (
    HeatRow,
    WarningRule,
    merchant_weeks,
    negative_alerts,
    review_heat,
)
from tests.integration.analytics_data import T0, labels

GOOD_EN, GOOD_ZH = "Great quality, fast delivery", "质量很好，物流很快"
BAD_EN, BAD_ZH = "Poor quality, broke after a week", "质量差，和描述不符"


def _reviews(rows: list[dict[str, Any]]) -> pa.Table:
    columns = ("ts", "user_id", "sku", "merchant_id", "order_id", "rating", "text", "language")
    return pa.table({c: [r.get(c) for r in rows] for c in columns})


def _r(
    merchant: str, sku: str, rating: int | None, text: str | None, **more: Any
) -> dict[str, Any]:
    return {
        "ts": T0,
        "user_id": "u",
        "merchant_id": merchant,
        "sku": sku,
        "rating": rating,
        "text": text,
        **more,
    }


def _heat_data() -> AnalyticsData:
    rows = [
        _r("m1", "s1", 5, GOOD_EN),
        _r("m1", "s1", 4, GOOD_ZH),
        _r("m1", "s2", 1, BAD_EN),
        _r("m1", "s2", 2, "发货太慢"),
        _r("m1", "s2", 3, "Packaging ok"),  # neutral: counted, in neither polarity
        _r("m2", "s3", 1, "Late delivery and rude seller"),
        _r("m2", "s3", 5, None),
        _r("m2", "s3", None, "quality"),  # no rating: left out
        _r("m2", "s3", 9, "price"),  # not a 1-5 rating: left out
        _r("m2", "s3", 5, "Perfect!! 完美", user_id="brusher"),
        _r("m1", "s1", 5, "Cheap price", order_id="taken"),
    ]
    return AnalyticsData.from_tables(
        {
            "reviews": _reviews(rows),
            "labels": labels([("user", "brusher", "brushing"), ("order", "taken", "ato")]),
        }
    )


def _row(r: HeatRow) -> tuple[Any, ...]:
    return (
        r.key,
        r.term,
        r.reviews,
        r.positive_reviews,
        r.negative_reviews,
        r.positive,
        r.negative,
        r.positive_share,
        r.negative_share,
    )


def test_aspect_heat_by_merchant() -> None:
    with _heat_data() as data:
        rows = review_heat(data)
    assert [_row(r) for r in rows] == [
        ("m1", "delivery", 5, 2, 2, 2, 1, 1.0, 0.5),
        ("m1", "quality", 5, 2, 2, 2, 1, 1.0, 0.5),
        ("m2", "delivery", 2, 1, 1, 0, 1, 0.0, 1.0),
        ("m2", "service", 2, 1, 1, 0, 1, 0.0, 1.0),
    ]
    assert {(r.level, r.kind) for r in rows} == {("merchant", "aspect")}


def test_heat_with_abusers_by_sku_category_and_overall() -> None:
    with _heat_data() as data:
        everyone = review_heat(data, include_abusers=True)
        by_sku = review_heat(data, by="sku")
        by_category = review_heat(data, by="category", categories={"s1": "home", "s2": "home"})
        overall = review_heat(data, by="all", top=1)
        big = review_heat(data, min_reviews=3)
    assert ("m1", "price", 6, 3, 2, 1, 0, 1 / 3, 0.0) in [_row(r) for r in everyone]
    assert {r.reviews for r in everyone if r.key == "m2"} == {3}
    s1 = [_row(r) for r in by_sku if r.key == "s1"]
    assert s1 == [
        ("s1", "delivery", 2, 2, 0, 2, 0, 1.0, None),
        ("s1", "quality", 2, 2, 0, 2, 0, 1.0, None),
    ]
    assert {r.key: r.reviews for r in by_category} == {"home": 5, "(unknown)": 2}
    assert [_row(r) for r in overall] == [("(all)", "delivery", 7, 3, 3, 2, 2, 2 / 3, 2 / 3)]
    assert {r.key for r in big} == {"m1"}


def test_keyword_heat_and_a_custom_lexicon() -> None:
    speed = [Aspect("speed", ("fast",), ("很快",))]
    with _heat_data() as data:
        words = review_heat(data, by="all", kind="keyword", top=3)
        custom = review_heat(data, lexicon=speed)
    # quality and delivery: one positive, one negative each; then the negative-only words
    assert [(r.term, r.positive, r.negative) for r in words] == [
        ("delivery", 1, 1),
        ("quality", 1, 1),
        ("broke", 0, 1),
    ]
    assert [_row(r) for r in custom] == [("m1", "speed", 5, 2, 2, 2, 0, 1.0, 0.0)]


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"by": "brand"}, "by"),
        ({"kind": "topic"}, "kind"),
        ({"by": "category"}, "categories"),
        ({"by": "category", "categories": {"s1": ""}}, "categories"),
        ({"top": 0}, "top"),
        ({"min_reviews": 1.5}, "min_reviews"),
        ({"lexicon": []}, "lexicon"),
    ],
)
def test_heat_rejects_bad_options(options: dict[str, Any], field: str) -> None:
    with _heat_data() as data, pytest.raises(AnalyticsInputError) as err:
        review_heat(data, **options)
    assert err.value.field == field


def test_heat_without_reviews() -> None:
    only_unrated = {"reviews": _reviews([_r("m1", "s1", None, "quality")])}
    for tables in ({}, only_unrated):
        with AnalyticsData.from_tables(tables) as data, pytest.raises(AnalyticsInputError) as err:
            review_heat(data)
        assert err.value.field == "reviews"


MONDAY = date(2026, 1, 5)


def _week(merchant: str, week: int, good: int, bad: list[str], **more: Any) -> list[dict[str, Any]]:
    at = datetime.combine(MONDAY + timedelta(weeks=week), time(12))
    texts = [(5, GOOD_EN)] * good + [(1, t) for t in bad]
    return [
        {**_r(merchant, "s1", rating, text, **more), "ts": at + timedelta(hours=k)}
        for k, (rating, text) in enumerate(texts)
    ]


def _warning_data() -> AnalyticsData:
    rows: list[dict[str, Any]] = []
    for week in range(1, 9):  # the baseline: 1 in 10 negative for m1, 2 in 10 for m2
        rows += _week("m1", week, 9, ["Meh"])
        rows += _week("m2", week, 8, ["Meh", "Meh"])
    rows += _week("m2", 0, 0, ["Meh"] * 10)  # before m2's baseline window
    rows += _week("m1", 9, 4, [BAD_EN] * 4 + [BAD_ZH] * 2)
    rows += _week("m1", 9, 10, [], user_id="brusher")
    rows += _week("m2", 9, 8, ["Meh", "Meh"])
    rows += _week("m3", 9, 0, ["发货太慢"] * 3)
    rows.append({**_r("m3", "s1", 1, "发货太慢"), "ts": None})  # undated: left out
    return AnalyticsData.from_tables(
        {"reviews": _reviews(rows), "labels": labels([("user", "brusher", "brushing")])}
    )


def test_the_latest_week_is_tested_against_each_merchants_baseline() -> None:
    with _warning_data() as data:
        alerts = negative_alerts(data)
        flagged = negative_alerts(data, only_flagged=True)
    assert [a.merchant_id for a in alerts] == ["m1", "m2", "m3"]
    m1, m2, m3 = alerts
    assert m1.week == MONDAY + timedelta(weeks=9)
    assert (m1.reviews, m1.negatives, m1.negative_share) == (10, 6, 0.6)
    assert (m1.baseline_reviews, m1.baseline_share, m1.flagged) == (80, 0.1, True)
    assert m1.z == pytest.approx(4.1131, abs=1e-4)
    assert m1.top_negative_aspects == "quality (6), accuracy (2)"
    assert (m2.reviews, m2.baseline_reviews, m2.baseline_share) == (10, 80, 0.2)
    assert (m2.rise, m2.z, m2.flagged, m2.reason) == (0.0, 0.0, False, "rise below margin")
    assert m2.top_negative_aspects is None  # "Meh" names no aspect
    assert (m3.reviews, m3.baseline_reviews, m3.baseline_share, m3.reason) == (
        3,
        0,
        None,
        "no baseline",
    )
    assert m3.top_negative_aspects == "delivery (3)"
    assert flagged == [m1]


def test_a_chosen_week_abusers_and_the_rule_options() -> None:
    with _warning_data() as data:
        mid = negative_alerts(data, week=MONDAY + timedelta(weeks=5, days=3))
        empty = negative_alerts(data, week=MONDAY + timedelta(weeks=20))
        everyone = negative_alerts(data, include_abusers=True)
        strict = negative_alerts(data, rule=WarningRule(margin=0.6))
        with pytest.raises(AnalyticsInputError) as err:
            negative_alerts(data, week="2026-02-01")  # type: ignore[arg-type]
    assert {(a.merchant_id, a.week) for a in mid} == {
        ("m1", MONDAY + timedelta(weeks=5)),
        ("m2", MONDAY + timedelta(weeks=5)),
    }
    mid_m2 = next(a for a in mid if a.merchant_id == "m2")
    # weeks 0-4 are its baseline: 10 + 4 x 2 negatives of 50
    assert (mid_m2.baseline_reviews, mid_m2.baseline_share) == (50, 0.36)
    assert not any(a.flagged for a in mid)
    assert empty == []
    assert next(a for a in everyone if a.merchant_id == "m1").reviews == 20
    assert not any(a.flagged for a in strict)
    assert err.value.field == "week"


def test_weekly_negative_share_per_merchant() -> None:
    with _warning_data() as data:
        weeks = merchant_weeks(data, merchant="m2")
        every = merchant_weeks(data)
    assert [(w.week, w.reviews, w.negative_share) for w in weeks[:2]] == [
        (MONDAY, 10, 1.0),
        (MONDAY + timedelta(weeks=1), 10, 0.2),
    ]
    assert len(weeks) == 10
    assert {w.merchant_id for w in every} == {"m1", "m2", "m3"}
    assert sum(w.reviews for w in every if w.merchant_id == "m3") == 3


def test_warning_without_dated_reviews() -> None:
    with AnalyticsData.from_tables({}) as data, pytest.raises(AnalyticsInputError) as err:
        negative_alerts(data)
    assert err.value.field == "reviews"


def test_the_documented_example_runs_and_prints_what_it_says(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = Path(__file__).resolve().parents[2] / "docs" / "analytics-channels-reviews.md"
    example = doc.read_text(encoding="utf-8").split("```python\n")[-1].split("```")[0]
    script = tmp_path / "example.py"
    script.write_text(example, encoding="utf-8")
    runpy.run_path(str(script), run_name="__main__")
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "ads 1 1.0 50.0 120.0"
    assert "bob ann 1 instrument" in printed
    assert printed[-2:] == [
        "2026-01-12 1.0 0.0 True flagged",
        "accuracy (1), delivery (1), quality (1)",
    ]


def test_categories_come_from_the_data_when_not_given() -> None:
    rows = [_r("m1", "s1", 5, GOOD_EN), _r("m1", "s2", 1, BAD_EN), _r("m2", "s3", 1, BAD_EN)]
    skus = pa.table({"sku": ["s1", "s2"], "category": ["home", "toys"]})
    with AnalyticsData.from_tables({"reviews": _reviews(rows), "skus": skus}) as data:
        heat = review_heat(data, by="category")
    assert {r.key: r.reviews for r in heat} == {"home": 1, "toys": 1, "(unknown)": 1}
