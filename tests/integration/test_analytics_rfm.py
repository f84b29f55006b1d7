"""RFM scores, segments, exclusions and bad input, on hand-made orders and on Online Retail."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import duckdb
import pyarrow as pa
import pytest

from riskops.services.analytics.data import AnalyticsData
from riskops.services.analytics.inputs import AnalyticsInputError
from riskops.services.analytics.rfm import rfm
from tests.integration.analytics_data import T0, labels, orders, retail, retail_path


def _ten_customers() -> AnalyticsData:
    # customer k (1..10): last bought on day 90 + k (k = 10 the most recent), k orders of 10 USD
    rows = [(f"o{k}-{i}", f"u{k:02d}", 90 + k - i, 10.0) for k in range(1, 11) for i in range(k)]
    return AnalyticsData.from_tables({"orders": orders(rows)})


def test_quintile_scores_rank_customers_best_is_five() -> None:
    with _ten_customers() as data:
        result = rfm(data, as_of=datetime(2026, 4, 11))
        got = {row["user_id"]: row for row in result.customers.to_pylist()}
    # ten customers, strictly ordered on every axis: two per quintile
    assert [got[f"u{k:02d}"]["r"] for k in range(1, 11)] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert [got[f"u{k:02d}"]["f"] for k in range(1, 11)] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert got["u10"]["frequency"] == 10
    assert got["u10"]["monetary_usd"] == 100.0
    assert got["u10"]["recency_days"] == pytest.approx((datetime(2026, 4, 11) - T0).days - 100)
    assert got["u10"]["segment"] == "champions"
    assert got["u10"]["benefit"] == "exclusive_benefits"
    assert got["u01"]["segment"] == "lost"
    assert sum(s.customers for s in result.segments) == 10
    assert result.warnings == []


def test_ties_share_a_score() -> None:
    rows = [(f"o{k}", f"u{k}", 10.0, 5.0) for k in range(8)] + [("o9a", "u9", 1, 5.0)]
    with AnalyticsData.from_tables({"orders": orders(rows)}) as data:
        got = {r["user_id"]: r for r in rfm(data).customers.to_pylist()}
    # eight customers bought once on the same day: the same R and F
    assert len({(got[f"u{k}"]["r"], got[f"u{k}"]["f"]) for k in range(8)}) == 1
    assert got["u9"]["r"] == 1  # the one who bought earliest
    assert got["u0"]["r"] == 1 + (5 * 1) // 9  # one customer strictly worse


def test_abusers_and_attack_orders_are_left_out_unless_asked() -> None:
    rows = [("o1", "good", 1, 50.0), ("o2", "farm", 2, 5.0), ("o3", "victim", 3, 80.0)]
    rows.append(("o4", "victim", 4, 900.0))  # placed by an account takeover
    tables = {
        "orders": orders(rows),
        "labels": labels([("user", "farm", "coupon_abuse"), ("order", "o4", "account_takeover")]),
    }
    with AnalyticsData.from_tables(tables, blocked=["good"]) as data:
        default = {r["user_id"]: r for r in rfm(data).customers.to_pylist()}
        everyone = {r["user_id"] for r in rfm(data, include_abusers=True).customers.to_pylist()}
        assert rfm(data).excluded_users == 2
    assert set(default) == {"victim"}  # the takeover's victim stays a customer
    assert default["victim"]["monetary_usd"] == 80.0  # without the attacker's order
    assert everyone == {"good", "farm", "victim"}


def test_bad_input_is_named() -> None:
    with AnalyticsData.from_tables({}) as empty, pytest.raises(AnalyticsInputError) as err:
        rfm(empty)
    assert err.value.field == "orders"
    with AnalyticsData.from_tables({"orders": orders([("o1", "u1", 5, 10.0)])}) as one:
        with pytest.raises(AnalyticsInputError, match="as_of: no purchases on or before"):
            rfm(one, as_of=datetime(2025, 1, 1))
        result = rfm(one)
        assert result.warnings[0].startswith("only 1 customer(s)")
        (alone,) = result.customers.to_pylist()
        assert (alone["r"], alone["f"], alone["m"]) == (3, 3, 3)  # nobody to rank against
        assert alone["segment"] == "need_attention"
    zero = orders([("o1", "u1", 5, 0.0), ("o2", "u2", 5, -3.0)])
    with AnalyticsData.from_tables({"orders": zero}) as data, pytest.raises(AnalyticsInputError):
        rfm(data)  # no positive purchase: nothing to score


def test_identical_timestamps_give_a_neutral_recency() -> None:
    rows = [(f"o{k}", f"u{k}", 3, 10.0 * (k + 1)) for k in range(6)]
    with AnalyticsData.from_tables({"orders": orders(rows)}) as data:
        result = rfm(data)
    assert {r["r"] for r in result.customers.to_pylist()} == {3}
    assert any("same recency" in w for w in result.warnings)
    assert any("same frequency" in w for w in result.warnings)


def test_online_retail_matches_an_independent_count() -> None:
    path = retail_path()
    with retail() as data:
        result = rfm(data)
        got = {r["user_id"]: r for r in result.customers.to_pylist()}
    con = duckdb.connect()
    expected = con.execute(
        """SELECT CAST(CAST(CustomerID AS BIGINT) AS VARCHAR) AS id,
                  count(DISTINCT InvoiceNo) FILTER (
                    WHERE NOT starts_with(InvoiceNo, 'C') AND Quantity * UnitPrice > 0),
                  greatest(0, sum(Quantity * UnitPrice) FILTER (
                    WHERE NOT starts_with(InvoiceNo, 'C') AND Quantity * UnitPrice > 0)
                    - coalesce(sum(-Quantity * UnitPrice) FILTER (
                    WHERE starts_with(InvoiceNo, 'C') OR Quantity < 0), 0))
           FROM read_parquet(?) WHERE CustomerID IS NOT NULL
           GROUP BY id HAVING count(*) FILTER (
             WHERE NOT starts_with(InvoiceNo, 'C') AND Quantity * UnitPrice > 0) > 0""",
        [str(path)],
    ).fetchall()
    assert len(got) == len(expected) == 4338
    for customer, frequency, spend in expected:
        assert got[customer]["frequency"] == frequency
        assert got[customer]["monetary_usd"] == pytest.approx(spend / 0.79, abs=0.01)
    assert got["12347"]["segment"] == "champions"
    assert got["16446"]["monetary_usd"] < 10  # bought 80,995 units, cancelled them at once
    assert sum(s.customers for s in result.segments) == 4338


def test_monetary_is_net_of_refunds_and_never_negative() -> None:
    events = pa.table(
        {
            "order_id": ["o1", "o2", "o2"],
            "user_id": ["a", "b", "b"],
            "type": ["refund.issued", "return.requested", "refund.issued"],
            "ts": [T0 + timedelta(days=3)] * 3,
            "amount_usd": [30.0, 999.0, 500.0],  # b's return and its refund: counted once
        }
    )
    rows = orders([("o1", "a", 1, 50.0), ("o2", "b", 1, 80.0), ("o3", "c", 1, 10.0)])
    with AnalyticsData.from_tables({"orders": rows, "order_events": events}) as data:
        got = {
            r["user_id"]: r for r in rfm(data, as_of=T0 + timedelta(days=5)).customers.to_pylist()
        }
    assert (got["a"]["monetary_usd"], got["a"]["refunded_usd"]) == (20.0, 30.0)
    assert got["b"]["monetary_usd"] == 0.0  # refunded more than it paid: floored at zero
    assert got["c"]["refunded_usd"] == 0.0


def test_cancelled_orders_and_refunds_of_attack_orders_do_not_count() -> None:
    rows = orders([("o1", "v", 1, 120.0), ("o2", "v", 2, 500.0), ("o3", "v", 3, 900.0)])
    events = pa.table(
        {
            "order_id": ["o2", "o3"],
            "user_id": ["v", "v"],
            "type": ["order.cancelled", "refund.issued"],
            "ts": [T0 + timedelta(days=2, hours=1), T0 + timedelta(days=4)],
            "amount_usd": [None, 900.0],
        }
    )
    takeover = labels([("order", "o3", "account_takeover")])  # the attacker's order
    tables = {"orders": rows, "order_events": events, "labels": takeover}
    with AnalyticsData.from_tables(tables) as data:
        (victim,) = rfm(data, as_of=T0 + timedelta(days=5)).customers.to_pylist()
    assert (victim["frequency"], victim["monetary_usd"], victim["refunded_usd"]) == (1, 120.0, 0.0)


def test_a_zoned_as_of_is_the_same_instant_in_utc() -> None:
    rows = orders([("o1", "a", 1, 10.0), ("o2", "b", 2, 10.0)])
    with AnalyticsData.from_tables({"orders": rows}) as data:
        zoned = rfm(data, as_of=datetime(2026, 1, 4, 20, tzinfo=timezone(timedelta(hours=8))))
        utc = rfm(data, as_of=datetime(2026, 1, 4, 12))
    assert zoned.as_of == utc.as_of
    assert zoned.customers.to_pylist() == utc.customers.to_pylist()


def test_a_label_on_an_accounts_event_or_device_leaves_it_out() -> None:
    rows = orders([("o1", "claimer", 1, 10.0), ("o2", "phone", 1, 10.0), ("o3", "ok", 1, 10.0)])
    tables = {
        "orders": rows,
        "event_users": pa.table({"event_id": ["e-claim"], "user_id": ["claimer"]}),
        "touches": pa.table({"user_id": ["phone"], "kind": ["device"], "value": ["dev-9"]}),
        "labels": labels([("event", "e-claim", "coupon_abuse"), ("device", "dev-9", "brushing")]),
    }
    with AnalyticsData.from_tables(tables) as data:
        kept = {r["user_id"] for r in rfm(data).customers.to_pylist()}
        reasons = dict(data.con.execute("SELECT user_id, reason FROM excluded").fetchall())
    assert kept == {"ok"}
    assert reasons == {"claimer": "labelled coupon_abuse", "phone": "labelled brushing (device)"}
