"""Channels and referrals on hand-made users, sessions, orders and touches (answers worked out
by hand), and the channel table on the shared Online Retail file."""

from __future__ import annotations

import math
from datetime import timedelta, timezone
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from riskops.services.analytics.channels import ChannelRow, channel_report, referrals
from riskops.services.analytics.data import AnalyticsData
from riskops.services.analytics.inputs import AnalyticsInputError
from tests.integration.analytics_data import T0, labels, orders, retail, retail_path


def _users(rows: list[tuple[str, str | None, str | None, str | None, str | None]]) -> pa.Table:
    """(user, channel, referrer, market, device) registered at T0."""
    return pa.table(
        {
            "user_id": [r[0] for r in rows],
            "registered_at": [T0] * len(rows),
            "channel": [r[1] for r in rows],
            "referrer_user_id": [r[2] for r in rows],
            "market": [r[3] for r in rows],
            "device": [r[4] for r in rows],
        }
    )


def _sessions(rows: list[tuple[str, str, float, str | None, str | None, str]]) -> pa.Table:
    """(session, user, days after T0, channel, referrer, market)."""
    return pa.table(
        {
            "session_id": [r[0] for r in rows],
            "user_id": [r[1] for r in rows],
            "ts": [T0 + timedelta(days=r[2]) for r in rows],
            "channel": [r[3] for r in rows],
            "referrer_user_id": [r[4] for r in rows],
            "market": [r[5] for r in rows],
        }
    )


def _touches(rows: list[tuple[str, str, str]]) -> pa.Table:
    return pa.table({k: [r[i] for r in rows] for i, k in enumerate(("user_id", "kind", "value"))})


def _shop() -> AnalyticsData:
    users = _users(
        [
            ("a", "ads", None, "US", None),
            ("b", "ads", "a", "US", None),
            ("c", "seo", "b", "DE", None),
            ("d", None, None, "US", None),  # channel from the first session: social
            ("e", "  ", None, "US", None),  # blank: unknown
            ("x", "ads", None, "US", None),  # labelled fraud: excluded
        ]
    )
    sessions = _sessions(
        [
            ("s1", "d", 1, "email", None, "US"),
            ("s2", "d", 0, "social", None, "US"),
            ("s3", "f", 0, "email", None, "DE"),  # f never registered
        ]
    )
    order_rows = [
        ("o1", "a", 0, 10.0),
        ("o2", "a", 20, 30.0),
        ("o10", "a", 30, 999.0),  # an attack order: never a purchase
        ("o3", "b", 0, 50.0),
        ("o4", "b", 60, 10.0),
        ("o5", "c", 100, 40.0),
        ("o6", "d", 10, 20.0),
        ("o7", "g", 200, 5.0),  # g only ever ordered
        ("o8", "g", 200, 0.0),  # zero amount: not a purchase
        ("o9", "x", 5, 100.0),
    ]
    table = orders(order_rows).append_column("market", pa.array(["US"] * len(order_rows)))
    return AnalyticsData.from_tables(
        {
            "users": users,
            "sessions": sessions,
            "orders": table,
            "labels": labels([("user", "x", "fraud"), ("order", "o10", "account_takeover")]),
        }
    )


def _by_channel(rows: list[ChannelRow]) -> dict[str, ChannelRow]:
    return {r.channel: r for r in rows}


def test_channels_by_hand() -> None:
    with _shop() as data:
        rows = channel_report(data)
    assert [r.channel for r in rows] == ["(unknown)", "ads", "email", "seo", "social"]
    got = _by_channel(rows)
    ads = got["ads"]
    assert (ads.users, ads.excluded_users, ads.buyers, ads.orders) == (2, 1, 2, 4)
    assert ads.revenue_usd == pytest.approx(100.0)
    assert (ads.conversion, ads.orders_per_user, ads.revenue_per_user) == (1.0, 2.0, 50.0)
    assert ads.aov_usd == pytest.approx(25.0)
    # as of day 200: a reorders on day 20 (within 30), b on day 60 (within 90 only)
    assert (ads.repeat_30d, ads.repeat_90d) == (0.5, 1.0)
    assert (got["seo"].users, got["seo"].revenue_usd) == (1, 40.0)
    assert (got["seo"].repeat_30d, got["seo"].repeat_90d) == (0.0, 0.0)
    assert (got["social"].users, got["social"].revenue_usd) == (1, 20.0)
    email = got["email"]
    assert (email.users, email.buyers, email.conversion, email.orders_per_user) == (1, 0, 0.0, 0.0)
    assert (email.aov_usd, email.repeat_30d, email.repeat_90d) == (None, None, None)
    unknown = got["(unknown)"]  # e (blank channel) and g (orders only)
    assert (unknown.users, unknown.buyers, unknown.orders, unknown.revenue_usd) == (2, 1, 1, 5.0)
    # g's first order is on the last day: too recent for either window
    assert (unknown.repeat_30d, unknown.repeat_90d) == (None, None)
    assert all(r.clv_mean is None and r.clv_users == 0 for r in rows)


def test_channels_by_market_with_abusers_and_as_of() -> None:
    with _shop() as data:
        us = _by_channel(channel_report(data, market="US"))
        de = _by_channel(channel_report(data, market="DE"))
        everyone = _by_channel(channel_report(data, include_abusers=True))
        early = _by_channel(channel_report(data, as_of=T0 + timedelta(days=50)))
        # 02:00 at UTC+2 is midnight UTC: the same cut as the naive day 50
        zoned = T0.replace(tzinfo=timezone(timedelta(hours=2))) + timedelta(days=50, hours=2)
        assert channel_report(data, as_of=zoned) == list(early.values())
    assert set(us) == {"(unknown)", "ads", "social"}
    assert set(de) == {"seo", "email"}
    assert (everyone["ads"].users, everyone["ads"].excluded_users) == (3, 0)
    assert (everyone["ads"].orders, everyone["ads"].revenue_usd) == (5, 200.0)
    # as of day 50 only a and b are 30 days old buyers and none is 90 days old
    assert (early["ads"].repeat_30d, early["ads"].repeat_90d) == (0.5, None)


def test_channels_average_the_given_clv() -> None:
    clv = {"a": 100.0, "b": 50, "x": 1000.0, "f": 7.0, "nobody": 3.0}
    with _shop() as data:
        got = _by_channel(channel_report(data, clv=clv))
    assert (got["ads"].clv_mean, got["ads"].clv_users) == (75.0, 2)  # x is excluded
    assert (got["email"].clv_mean, got["email"].clv_users) == (7.0, 1)
    assert (got["seo"].clv_mean, got["seo"].clv_users) == (None, 0)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"market": "FR"}, "market"),
        ({"clv": {"a": math.nan}}, "clv"),
        ({"clv": {"a": "12"}}, "clv"),
        ({"clv": {"a": True}}, "clv"),
        ({"clv": [("a", 1.0)]}, "clv"),
        ({"as_of": "2026-01-01"}, "as_of"),
    ],
)
def test_channels_reject_bad_options(options: dict[str, Any], field: str) -> None:
    with _shop() as data, pytest.raises(AnalyticsInputError) as err:
        channel_report(data, **options)
    assert err.value.field == field


def test_channels_on_empty_data() -> None:
    with AnalyticsData.from_tables({}) as data, pytest.raises(AnalyticsInputError) as err:
        channel_report(data)
    assert err.value.field == "users"


def _chains() -> AnalyticsData:
    users = _users(
        [
            ("A", "ads", None, "US", "devA"),
            ("B", "referral", "A", "US", "devB"),
            ("C", "referral", "B", "US", "devC"),
            ("D", "referral", "C", "US", "devC"),  # registered on C's device
            ("E", "search", None, "US", None),  # referred in a session only
            ("F", "referral", "A", "US", None),
            ("S", "referral", "S", "US", None),  # refers itself
            ("P", "referral", "Q", "US", None),
            ("Q", "referral", "P", "US", None),
            ("R", "referral", "X", "US", None),
            ("X", "ads", None, "US", None),
        ]
    )
    sessions = _sessions(
        [
            ("s1", "E", 2, "referral", "C", "US"),
            ("s2", "E", 1, "referral", "A", "US"),  # the first referred session wins
            ("s3", "F", 0, "referral", "B", "US"),  # the registration's referrer wins
        ]
    )
    touches = _touches(
        [
            ("A", "device", "dev1"),
            ("B", "device", "dev1"),
            ("B", "address", "addr9"),
            ("C", "address", "addr9"),
            ("B", "instrument", "card1"),
            ("C", "instrument", "card1"),
            ("E", "address", "addr5"),
            ("F", "address", "addr5"),  # E and F share, but neither referred the other
        ]
    )
    order_rows = [("o1", "B", 1, 10.0), ("o2", "C", 2, 10.0), ("o3", "R", 3, 10.0)]
    return AnalyticsData.from_tables(
        {
            "users": users,
            "sessions": sessions,
            "touches": touches,
            "orders": orders(order_rows),
            "labels": labels([("user", "X", "fraud")]),
        }
    )


def test_referral_chains_and_self_referrals() -> None:
    with _chains() as data:
        result = referrals(data)
    referred = {r.user_id: r for r in result.referred}
    assert [r.user_id for r in result.referred] == ["D", "C", "Q", "P", "B", "E", "F", "S", "R"]
    d, c, b = referred["D"], referred["C"], referred["B"]
    assert (d.referrer_user_id, d.depth, d.root_user_id, d.shared, d.bought) == (
        "C",
        3,
        "A",
        "device",
        False,
    )
    assert (c.depth, c.shared, c.self_referral, c.bought) == (2, "address,instrument", True, True)
    assert (b.depth, b.shared, b.source) == (1, "device", "registration")
    e, f = referred["E"], referred["F"]
    assert (e.referrer_user_id, e.source, e.shared, e.self_referral) == (
        "A",
        "session",
        None,
        False,
    )
    assert (f.referrer_user_id, f.source) == ("A", "registration")
    s = referred["S"]
    assert (s.shared, s.self_referral, s.in_cycle, s.root_user_id) == ("account", True, True, "S")
    assert referred["P"].in_cycle
    assert referred["Q"].in_cycle
    assert not any(referred[u].in_cycle for u in "BCDEF")
    assert referred["R"].referrer_excluded
    assert not referred["R"].excluded

    referrers = {r.referrer_user_id: r for r in result.referrers}
    assert [r.referrer_user_id for r in result.referrers] == ["A", "B", "C", "P", "Q", "S", "X"]
    a = referrers["A"]
    assert (a.referred, a.referred_buyers, a.self_referrals) == (3, 1, 1)
    assert (a.downstream, a.max_depth_below, a.own_depth) == (5, 3, 0)
    rb = referrers["B"]
    assert (rb.referred, rb.referred_buyers, rb.downstream, rb.max_depth_below) == (1, 1, 2, 2)
    assert rb.own_depth == 1
    assert (referrers["S"].downstream, referrers["S"].self_referrals) == (0, 1)
    assert referrers["P"].downstream == 1
    x = referrers["X"]
    assert (x.excluded, x.excluded_reason, x.referred_buyers) == (True, "labelled fraud", 1)
    assert not a.excluded
    assert a.excluded_reason is None


def test_referrals_compare_only_the_chosen_kinds() -> None:
    with _chains() as data:
        referred = {r.user_id: r for r in referrals(data, kinds=["address"]).referred}
    assert (referred["B"].shared, referred["C"].shared, referred["D"].shared) == (
        None,
        "address",
        None,
    )


def test_referrals_without_referrals_and_bad_kinds() -> None:
    with AnalyticsData.from_tables({"orders": orders([("o1", "u1", 0, 5.0)])}) as data:
        result = referrals(data)
        assert (result.referrers, result.referred) == ([], [])
        with pytest.raises(AnalyticsInputError) as err:
            referrals(data, kinds=[])
    assert err.value.field == "kinds"


def test_online_retail_channel_table_matches_an_independent_count() -> None:
    path = retail_path()
    with retail() as data:
        rows = channel_report(data)
        uk = channel_report(data, market="United Kingdom")
    # the export has no channel column: every customer is in one (unknown) row
    assert [r.channel for r in rows] == ["(unknown)"]
    (row,) = rows
    con = duckdb.connect()
    expected = con.execute(
        """WITH inv AS (
             SELECT CAST(CAST(CustomerID AS BIGINT) AS VARCHAR) AS id, InvoiceNo,
                    min(InvoiceDate) AS ts
             FROM read_parquet(?) WHERE CustomerID IS NOT NULL
               AND NOT starts_with(InvoiceNo, 'C') AND Quantity * UnitPrice > 0
             GROUP BY ALL),
           per AS (SELECT id, count(*) AS n, min(ts) AS first,
                     list_sort(list(ts))[2] AS second FROM inv GROUP BY id),
           edge AS (SELECT max(ts) AS as_of FROM inv)
         SELECT count(*), sum(n),
           count(*) FILTER (WHERE first <= as_of - INTERVAL 90 DAY),
           count(*) FILTER (WHERE first <= as_of - INTERVAL 90 DAY
                              AND second <= first + INTERVAL 90 DAY)
         FROM per, edge""",
        [str(path)],
    ).fetchall()[0]
    buyers, n_orders, eligible, repeated = expected
    assert (row.users, row.buyers, row.orders) == (buyers, buyers, n_orders) == (4338, 4338, 18532)
    assert row.conversion == 1.0
    assert row.repeat_90d == pytest.approx(repeated / eligible)
    assert row.repeat_90d is not None
    assert 0.2 < row.repeat_90d < 0.6
    assert uk[0].users < row.users
    assert uk[0].users > 3000
