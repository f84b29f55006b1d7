"""The RFM segment grid and the benefit map."""

from __future__ import annotations

import pytest

from riskops.core.analytics.rfm import (
    SEGMENT_NAMES,
    SEGMENTS,
    RfmConfigError,
    benefits,
    segment,
    segment_table,
)


@pytest.mark.parametrize(
    ("r", "f", "m", "expected"),
    [
        (5, 5, 5, "champions"),
        (5, 4, 1, "champions"),
        (4, 5, 3, "loyal_customers"),
        (3, 4, 2, "loyal_customers"),
        (5, 2, 1, "potential_loyalists"),
        (4, 3, 5, "potential_loyalists"),
        (5, 1, 5, "new_customers"),
        (4, 1, 1, "promising"),
        (3, 3, 3, "need_attention"),
        (3, 2, 4, "about_to_sleep"),
        (3, 1, 1, "about_to_sleep"),
        (2, 5, 1, "cant_lose_them"),
        (1, 5, 5, "cant_lose_them"),
        (2, 3, 2, "at_risk"),
        (1, 4, 1, "at_risk"),
        (2, 1, 1, "hibernating"),
        (1, 2, 3, "hibernating"),
        (1, 1, 2, "lost"),
        (1, 2, 1, "lost"),
    ],
)
def test_segment_grid(r: int, f: int, m: int, expected: str) -> None:
    assert segment(r, f, m) == expected


def test_every_score_has_a_segment_and_every_segment_is_reachable() -> None:
    table = segment_table()
    assert len(table) == 125
    assert {row[3] for row in table} == set(SEGMENTS) == set(SEGMENT_NAMES)


def test_scores_outside_one_to_five_are_refused() -> None:
    with pytest.raises(ValueError, match="f: a score is 1-5"):
        segment(3, 0, 3)


def test_benefit_map_overrides_and_checks_names() -> None:
    got = benefits({"lost": "last_chance_coupon", "champions": None})
    assert got["lost"] == "last_chance_coupon"
    assert got["champions"] is None
    assert got["new_customers"] == "new_user_coupon"
    with pytest.raises(RfmConfigError, match="vip: not a segment"):
        benefits({"vip": "x"})
    with pytest.raises(RfmConfigError, match="lost: the package must be a name"):
        benefits({"lost": 3})
