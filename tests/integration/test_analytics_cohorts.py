"""Cohorts, retention and new-vs-returning on a hand-made order book whose answers are worked
out by hand, and on the UCI Online Retail export checked against an independent query."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from riskops.core.analytics.fx import DEFAULT_PER_USD
from riskops.services.analytics.cohorts import (
    CohortSize,
    RetentionCell,
    cohort_sizes,
    new_vs_returning,
    pivot,
    retention_matrix,
)
from riskops.services.analytics.data import AnalyticsData
from riskops.services.analytics.inputs import AnalyticsInputError, OrderColumns

Order = tuple[str, str | None, datetime, float, str]
ORDERS: list[Order] = [
    ("o1", "c1", datetime(2024, 1, 5), 100.0, "GB"),
    ("o2", "c1", datetime(2024, 1, 20), 50.0, "GB"),
    ("o3", "c1", datetime(2024, 2, 10), 30.0, "GB"),
    ("o4", "c1", datetime(2024, 4, 1), 20.0, "GB"),
    ("o5", "c2", datetime(2024, 1, 31, 23, 59), 40.0, "FR"),
    ("o6", "c2", datetime(2024, 3, 15), 60.0, "GB"),
    ("o7", "c3", datetime(2024, 2, 1), 10.0, "GB"),
    ("o8", "c3", datetime(2024, 2, 2), 10.0, "GB"),
    ("o9", "c4", datetime(2024, 1, 10), 500.0, "GB"),  # c4 is labelled fraud
    ("o10", "c4", datetime(2024, 2, 10), 500.0, "GB"),
    ("o11", "c5", datetime(2024, 2, 15), 0.0, "GB"),  # zero: not a purchase
    ("o12", "c5", datetime(2024, 3, 1), 25.0, "GB"),
    ("o13", "c6", datetime(2024, 1, 15), 70.0, "GB"),  # an account-takeover order
    ("o14", "c6", datetime(2024, 2, 20), 35.0, "GB"),
    ("o15", None, datetime(2024, 1, 2), 99.0, "GB"),  # no customer
]
USERS = [
    ("c1", datetime(2023, 12, 15), "ads"),
    ("c2", datetime(2024, 2, 10), "seo"),
    ("c3", datetime(2024, 1, 25), "ads"),
    ("c4", datetime(2024, 1, 1), "ads"),
    ("c6", datetime(2024, 2, 1), "seo"),
    ("c7", datetime(2024, 2, 5), "ads"),
]
JAN, FEB, MAR, APR = date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1), date(2024, 4, 1)


def book(orders: Sequence[Order] = ORDERS) -> AnalyticsData:
    return AnalyticsData.from_tables(
        {
            "orders": pa.table(
                {
                    "order_id": [o[0] for o in orders],
                    "user_id": [o[1] for o in orders],
                    "ts": [o[2] for o in orders],
                    "amount_usd": [o[3] for o in orders],
                    "market": [o[4] for o in orders],
                }
            ),
            "users": pa.table(
                {
                    "user_id": [u[0] for u in USERS],
                    "registered_at": [u[1] for u in USERS],
                    "channel": [u[2] for u in USERS],
                }
            ),
            "labels": pa.table(
                {
                    "entity_type": ["user", "order"],
                    "entity_id": ["c4", "o13"],
                    "label": ["fraud", "account_takeover"],
                }
            ),
        }
    )


def cells(
    rows: list[RetentionCell], group: str | None = None
) -> dict[tuple[date, int], tuple[int, int, int, float]]:
    return {
        (c.cohort, c.offset): (c.cohort_size, c.customers, c.orders, c.revenue_usd)
        for c in rows
        if c.group == group
    }


def test_first_purchase_retention_by_hand() -> None:
    with book() as data:
        rows = retention_matrix(data)
    assert cells(rows) == {
        (JAN, 0): (2, 2, 3, 190.0),
        (JAN, 1): (2, 1, 1, 30.0),
        (JAN, 2): (2, 1, 1, 60.0),
        (JAN, 3): (2, 1, 1, 20.0),
        (FEB, 0): (2, 2, 3, 55.0),
        (FEB, 1): (2, 0, 0, 0.0),
        (FEB, 2): (2, 0, 0, 0.0),
        (MAR, 0): (1, 1, 1, 25.0),
        (MAR, 1): (1, 0, 0, 0.0),
    }
    jan1 = next(c for c in rows if c.cohort == JAN and c.offset == 1)
    assert (jan1.period, jan1.retention, jan1.revenue_per_member) == (FEB, 0.5, 15.0)
    assert [(c.cohort, c.offset) for c in rows if c.partial] == [(JAN, 3), (FEB, 2), (MAR, 1)]
    assert [(c.cohort, c.offset) for c in rows][:2] == [(JAN, 0), (JAN, 1)]


def test_abusers_join_the_cohorts_only_when_asked() -> None:
    with book() as data:
        rows = retention_matrix(data, include_abusers=True, max_offset=1)
    got = cells(rows)
    assert got[(JAN, 0)] == (3, 3, 4, 690.0)
    assert got[(JAN, 1)] == (3, 2, 2, 530.0)
    assert max(c.offset for c in rows) == 1


def test_registration_cohorts_by_hand() -> None:
    with book() as data:
        rows = retention_matrix(data, cohort_by="registration")
    dec = date(2023, 12, 1)
    assert cells(rows) == {
        (dec, 0): (1, 0, 0, 0.0),
        (dec, 1): (1, 1, 2, 150.0),
        (dec, 2): (1, 1, 1, 30.0),
        (dec, 3): (1, 0, 0, 0.0),
        (dec, 4): (1, 1, 1, 20.0),
        (JAN, 0): (1, 0, 0, 0.0),
        (JAN, 1): (1, 1, 2, 20.0),
        (JAN, 2): (1, 0, 0, 0.0),
        (JAN, 3): (1, 0, 0, 0.0),
        # c2's January order came before it registered in February: not counted
        (FEB, 0): (3, 1, 1, 35.0),
        (FEB, 1): (3, 1, 1, 60.0),
        (FEB, 2): (3, 0, 0, 0.0),
    }


def test_weekly_cohorts_start_on_monday() -> None:
    with book() as data:
        sizes = cohort_sizes(data, period="week")
        rows = retention_matrix(data, period="week", max_offset=2)
    assert sizes == [
        CohortSize(None, date(2024, 1, 1), 1),
        CohortSize(None, date(2024, 1, 29), 2),  # Wed 31 Jan and Thu 1 Feb
        CohortSize(None, date(2024, 2, 19), 1),
        CohortSize(None, date(2024, 2, 26), 1),
    ]
    first = cells(rows)
    assert first[(date(2024, 1, 1), 1)] == (1, 0, 0, 0.0)
    assert first[(date(2024, 1, 1), 2)] == (1, 1, 1, 50.0)  # Sat 20 Jan


def test_split_by_channel_and_market() -> None:
    with book() as data:
        channel = cohort_sizes(data, split="channel")
        market = retention_matrix(data, split="market", max_offset=0)
    assert [(s.group, s.cohort, s.size) for s in channel] == [
        ("(unknown)", MAR, 1),  # c5 has no account row and no visit: as in channel_report
        ("ads", JAN, 1),
        ("ads", FEB, 1),
        ("seo", JAN, 1),
        ("seo", FEB, 1),
    ]
    assert cells(market, "FR") == {(JAN, 0): (1, 1, 1, 40.0)}  # c2's first order was in FR
    assert cells(market, "GB")[(JAN, 0)] == (1, 1, 2, 150.0)


def test_new_vs_returning_by_hand() -> None:
    with book() as data:
        mix = new_vs_returning(data)
    got = [
        (
            m.period,
            m.new_customers,
            m.returning_customers,
            m.new_orders,
            m.returning_orders,
            m.new_revenue_usd,
            m.returning_revenue_usd,
            m.partial,
        )
        for m in mix
    ]
    assert got == [
        (JAN, 2, 0, 3, 0, 190.0, 0.0, False),
        (FEB, 2, 1, 3, 1, 55.0, 30.0, False),
        (MAR, 1, 1, 1, 1, 25.0, 60.0, False),
        (APR, 0, 1, 0, 1, 0.0, 20.0, True),
    ]


def test_pivot_lays_the_triangle_out() -> None:
    with book() as data:
        rows = retention_matrix(data)
    table = pivot(rows)
    assert table[0] == {
        "group": None,
        "cohort": JAN,
        "cohort_size": 2,
        "k0": 1.0,
        "k1": 0.5,
        "k2": 0.5,
        "k3": 0.5,
    }
    assert table[2] == {
        "group": None,
        "cohort": MAR,
        "cohort_size": 1,
        "k0": 1.0,
        "k1": 0.0,
        "k2": None,
        "k3": None,
    }
    assert pivot(rows, "revenue_usd")[1]["k0"] == 55.0
    with pytest.raises(AnalyticsInputError) as err:
        pivot(rows, "profit")
    assert err.value.field == "value"


def test_one_customer_at_one_instant() -> None:
    at = datetime(2024, 5, 5, 12)
    with book([("a", "z", at, 10.0, "GB"), ("b", "z", at, 5.0, "GB")]) as data:
        rows = retention_matrix(data)
        mix = new_vs_returning(data)
    assert cells(rows) == {(date(2024, 5, 1), 0): (1, 1, 2, 15.0)}
    assert rows[0].partial
    assert [(m.new_customers, m.new_orders, m.returning_customers) for m in mix] == [(1, 2, 0)]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"period": "day"}, "period"),
        ({"cohort_by": "signup"}, "cohort_by"),
        ({"split": "device"}, "split"),
        ({"max_offset": -1}, "max_offset"),
    ],
)
def test_bad_options_name_the_field(kwargs: dict[str, Any], field: str) -> None:
    with book() as data, pytest.raises(AnalyticsInputError) as err:
        retention_matrix(data, **kwargs)
    assert err.value.field == field


def test_nothing_to_build_on_is_an_input_error() -> None:
    only_bad = [
        ("a", "z", datetime(2024, 1, 1), 0.0, "GB"),
        ("b", "y", datetime(2024, 1, 1), -5.0, "GB"),
    ]
    with book(only_bad) as data:
        with pytest.raises(AnalyticsInputError) as err:
            retention_matrix(data)
        assert err.value.field == "orders"
        # registration cohorts still exist, with nobody buying
        rows = retention_matrix(data, cohort_by="registration", max_offset=0)
        assert {c.customers for c in rows} == {0}
    with AnalyticsData.from_tables({}) as data:
        with pytest.raises(AnalyticsInputError) as err:
            new_vs_returning(data)
        assert err.value.field == "orders"
        with pytest.raises(AnalyticsInputError) as err:
            cohort_sizes(data, cohort_by="registration")
        assert err.value.field == "users"


# --- real data: UCI Online Retail (UK gift shop, Dec 2010 - Dec 2011, prices in GBP) ---

SHARED = Path(
    os.environ.get("RISKOPS_SHARED_DATA")
    or Path(__file__).resolve().parents[2].parent / "shared" / "data"
)
RETAIL = SHARED / "online_retail" / "online_retail_whitehorse101.parquet"
INDEPENDENT = """
WITH lines AS (
  SELECT CAST(CustomerID AS BIGINT) AS customer, InvoiceDate AS ts,
         Quantity * UnitPrice AS amount
  FROM read_parquet(?)
  WHERE CustomerID IS NOT NULL AND NOT starts_with(InvoiceNo, 'C') AND Quantity * UnitPrice > 0),
firsts AS (SELECT customer, min(ts) AS first FROM lines GROUP BY customer),
dec AS (SELECT customer FROM firsts WHERE first >= '2010-12-01' AND first < '2011-01-01')
SELECT (SELECT count(*) FROM dec),
       (SELECT count(DISTINCT customer) FROM lines
        WHERE customer IN (SELECT customer FROM dec) AND ts >= '2011-01-01' AND ts < '2011-02-01'),
       (SELECT sum(amount) FROM lines
        WHERE customer IN (SELECT customer FROM dec) AND ts < '2011-01-01')"""


@pytest.fixture(scope="module")
def retail() -> Iterator[AnalyticsData]:
    if not RETAIL.exists():
        pytest.skip(f"the Online Retail file is not here: {RETAIL}")
    columns = OrderColumns(
        customer_id="CustomerID",
        ordered_at="InvoiceDate",
        quantity="Quantity",
        unit_price="UnitPrice",
        order_id="InvoiceNo",
        market="Country",
        default_currency="GBP",
    )
    data = AnalyticsData.from_orders_file(RETAIL, columns)
    yield data
    data.close()


def test_online_retail_december_cohort_matches_an_independent_query(retail: AnalyticsData) -> None:
    con = duckdb.connect()
    size, month1, revenue_gbp = con.execute(INDEPENDENT, [str(RETAIL)]).fetchall()[0]
    con.close()
    assert (size, month1) == (885, 324)  # the figures this dataset is known for
    rows = {(c.cohort, c.offset): c for c in retention_matrix(retail)}
    dec0, dec1 = rows[(date(2010, 12, 1), 0)], rows[(date(2010, 12, 1), 1)]
    assert (dec0.cohort_size, dec1.customers) == (size, month1)
    assert dec1.retention == pytest.approx(324 / 885)
    assert dec0.revenue_usd == pytest.approx(revenue_gbp / DEFAULT_PER_USD["GBP"])
    assert dec0.retention == 1.0
    assert sum(s.size for s in cohort_sizes(retail)) == 4338  # every buying customer, once
    mix = {m.period: m for m in new_vs_returning(retail)}
    assert mix[date(2011, 1, 1)].returning_customers == 324  # only December came before
    assert mix[date(2011, 12, 1)].partial  # the file ends on 9 December 2011
