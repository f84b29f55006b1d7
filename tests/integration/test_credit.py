"""User and merchant credit facts counted by DuckDB on small hand-made tables (answers worked
by hand), bad input, the documented scorecards and example, and one run on Online Retail."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pytest

from riskops.core.credit import (
    DEFAULT_EXPOSURE,
    DEFAULT_PRIVILEGES,
    MERCHANT_SCORECARD,
    USER_SCORECARD,
    score_merchant,
)
from riskops.services.analytics.data import AnalyticsData
from riskops.services.analytics.inputs import AnalyticsInputError
from riskops.services.credit import (
    merchant_credit_report,
    merchant_credit_table,
    merchant_facts,
    user_credit,
    user_credit_table,
    user_facts,
)
from tests.integration.analytics_data import T0, labels, retail

ROOT = Path(__file__).resolve().parents[2]
AS_OF = T0 + timedelta(days=400)  # the 365-day window opens after day 35, the 90-day after 310


def at(days: float) -> datetime:
    return T0 + timedelta(days=days)


def table(columns: tuple[str, ...], rows: Iterable[tuple[object, ...]]) -> pa.Table:
    rows = list(rows)
    return pa.table({c: [r[i] for r in rows] for i, c in enumerate(columns)})


def orders(rows: Iterable[tuple[str, str, float, float, str | None]]) -> pa.Table:
    """(order id, user, day, amount in USD, merchant)."""
    got = table(("order_id", "user_id", "ts", "amount_usd", "merchant_id"),
                [(o, u, at(d), a, m) for o, u, d, a, m in rows])  # fmt: skip
    return got.append_column("amount", got.column("amount_usd"))


def events(rows: Iterable[tuple[str | None, str | None, str, float, str | None]]) -> pa.Table:
    """(order id, user, type, day, merchant)."""
    return table(("order_id", "user_id", "type", "ts", "merchant_id"),
                 [(o, u, k, at(d), m) for o, u, k, d, m in rows])  # fmt: skip


def buyers(*, ato_label: bool = True, outcomes: bool = False) -> AnalyticsData:
    good = [(f"g{i}", "good", 100 + 50 * i, 100.0, "m1") for i in range(6)]
    data = AnalyticsData.from_tables(
        {
            "users": table(("user_id", "registered_at"),
                           [("good", at(0)), ("refuser", at(200)), ("victim", at(0)),
                            ("fraudster", at(100)), ("later", at(401))]),
            "sessions": table(("session_id", "user_id", "ts"), [("s1", "newbie", at(395))]),
            "orders": orders([
                ("g_old", "good", 10, 500.0, "m1"), *good,
                ("r1", "refuser", 250, 50.0, "m1"), ("r2", "refuser", 260, 50.0, "m1"),
                ("r3", "refuser", 330, 50.0, "m1"), ("r4", "refuser", 390, 50.0, "m1"),
                ("v1", "victim", 300, 100.0, "m1"), ("v2", "victim", 380, 900.0, "m1"),
                ("b1", "blocked", 390, 20.0, "m1"), ("f1", "fraudster", 200, 20.0, "m1"),
            ]),
            "order_events": events([
                ("g_old", None, "order.delivered", 13, None),
                *[(o, None, "order.delivered", d + 3, None) for o, _, d, _, _ in good],
                ("g5", "good", "return.requested", 355, None),
                ("g5", "good", "refund.issued", 356, None),
                ("g4", "good", "refund.issued", 305, None),
                ("g3", "good", "dispute.opened", 260, None),
                ("g3", "good", "dispute.resolved", 270, None),
                ("r1", "refuser", "order.delivered", 252, None),
                ("r2", "refuser", "order.cod_refused", 265, None),
                ("r3", "refuser", "order.cod_refused", 335, None),
                ("r4", "refuser", "order.cod_refused", 392, None),
                ("r4", "refuser", "order.cod_refused", 393, None),  # the same parcel twice
                ("v1", "victim", "order.delivered", 303, None),
                ("v2", "victim", "chargeback.received", 395, None),
            ]),
            "labels": labels([("user", "fraudster", "fraud"), ("user", "good", "legit")]
                             + ([("order", "v2", "account_takeover")] if ato_label else [])),
        },
        blocked=["blocked"],
    )  # fmt: skip
    if outcomes:
        data.con.execute(
            "UPDATE order_events SET outcome = 'merchant_won' WHERE type = 'dispute.resolved'"
        )
    return data


def test_user_facts_by_hand() -> None:
    with buyers() as data:
        facts = {f.user_id: f for f in user_facts(data, as_of=AS_OF)}
    assert sorted(facts) == ["blocked", "fraudster", "good", "newbie", "refuser", "victim"]
    good = facts["good"]
    assert good.tenure_days == 400.0
    assert (good.orders_365d, good.spend_365d_usd, good.delivered_365d) == (6, 600.0, 6)
    assert (good.returns_365d, good.refunds_without_return_365d) == (1, 1)  # g4, not g5
    assert (good.disputes_opened_365d, good.disputes_lost_365d) == (1, None)
    assert good.abuse_labels == ()
    assert not good.blocked
    assert good.as_of == AS_OF
    refuser = facts["refuser"]
    assert (refuser.cod_refusals_90d, refuser.cod_refusals_365d) == (2, 3)
    assert (refuser.orders_365d, refuser.spend_365d_usd, refuser.delivered_365d) == (4, 50.0, 1)
    victim = facts["victim"]
    assert victim.ato_victim
    assert victim.orders_365d == 1
    assert victim.chargebacks_365d == 0
    assert facts["blocked"].blocked
    assert facts["blocked"].tenure_days == 10.0
    assert facts["fraudster"].abuse_labels == ("fraud",)
    assert facts["newbie"].tenure_days == 5.0
    assert facts["newbie"].orders_365d == 0


def test_user_credit_by_hand() -> None:
    with buyers() as data:
        got = {c.user_id: c for c in user_credit(data, as_of=AS_OF)}
    # good: 600 + 13 × 5 (tenure) + 6 × 6 (deliveries) + 30 ($600) - 10 (a dispute)
    assert (got["good"].score, got["good"].tier) == (721, "silver")
    # refuser: 600 + 30 + 6 + 2 ($50 kept) - 2 × 50 - 1 × 20
    assert (got["refuser"].score, got["refuser"].tier) == (518, "bronze")
    assert got["refuser"].reasons[0].en == (
        "Refused 2 cash-on-delivery parcels in the last 90 days"
    )
    # victim: the attacker's order and its chargeback are left out: 600 + 65 + 6 + 5
    assert (got["victim"].score, got["victim"].tier) == (676, "silver")
    assert got["victim"].reasons[-1].code == "ATO_VICTIM"
    assert got["blocked"].tier == "restricted"
    assert got["blocked"].reasons[0].code == "BLOCKED"
    assert got["fraudster"].tier == "restricted"
    assert (got["newbie"].score, got["newbie"].tier) == (600, "new")
    assert got["newbie"].privileges == DEFAULT_PRIVILEGES["new"]


def test_without_the_takeover_label_the_chargeback_restricts() -> None:
    with buyers(ato_label=False) as data:
        (victim,) = user_credit(data, as_of=AS_OF, user_ids=["victim"])
    assert victim.facts.chargebacks_90d == 1
    assert not victim.facts.ato_victim
    assert victim.tier == "restricted"
    assert victim.reasons[0].code == "RECENT_CHARGEBACK"


def test_dispute_outcomes_count_when_the_table_records_them() -> None:
    with buyers(outcomes=True) as data:
        (good,) = user_credit(data, as_of=AS_OF, user_ids=["good"])
    assert good.facts.disputes_lost_365d == 1
    assert good.score == 721 - 30


def test_as_of_cuts_the_record_and_defaults_to_the_latest() -> None:
    with buyers() as data:
        early = {f.user_id: f for f in user_facts(data, as_of=at(300))}
        latest = user_facts(data)
        zoned = user_facts(data, as_of=datetime(2027, 2, 5, 8, tzinfo=timezone(timedelta(hours=8))))
    assert "refuser" in early
    assert early["refuser"].cod_refusals_365d == 1
    assert "newbie" not in early
    assert not early["victim"].ato_victim
    assert (early["good"].orders_365d, early["good"].delivered_365d) == (6, 5)  # g_old to g4
    assert latest[0].as_of == at(401)
    assert "later" in {f.user_id for f in latest}
    assert zoned[0].as_of == AS_OF == datetime(2027, 2, 5)


def test_bad_user_input_names_the_field() -> None:
    with buyers() as data:
        with pytest.raises(AnalyticsInputError) as caught:
            user_credit(data, as_of=AS_OF, user_ids=["good", "later", "ghost"])
        assert caught.value.field == "user_ids"
        assert "ghost" in caught.value.reason
        assert "later" in caught.value.reason
        assert user_credit(data, user_ids=[]) == []
        with pytest.raises(AnalyticsInputError) as caught:
            user_credit(data, as_of=at(-1))
        assert caught.value.field == "as_of"
        with pytest.raises(AnalyticsInputError) as caught:
            user_credit(data, privileges={"gold": {"pay_later": 1}})
        assert caught.value.field == "privileges.gold.pay_later"
    with AnalyticsData.from_tables({}) as empty, pytest.raises(AnalyticsInputError) as caught:
        user_credit(empty)
    assert caught.value.field == "orders"


def test_the_user_table() -> None:
    with buyers() as data:
        got = user_credit_table(user_credit(data, as_of=AS_OF, user_ids=["refuser", "newbie"]))
    assert got.column_names[:4] == ["user_id", "score", "tier", "express_refund"]
    rows = got.to_pylist()
    assert [r["user_id"] for r in rows] == ["newbie", "refuser"]
    assert rows[0]["new_user_cap_usd"] == 200.0
    assert rows[1]["new_user_cap_usd"] is None
    assert rows[1]["reason_codes"][:2] == ["COD_REFUSALS", "COD_REFUSALS_OLDER"]
    assert rows[1]["reasons_zh"].startswith("近90天拒收货到付款包裹2次；")


def sellers(*, outcomes: bool = False) -> AnalyticsData:
    window = [(f"a{i}", "u", 300 + i, 1000.0, "m1") for i in range(10)]
    hours = [72, 72, 72, 48, 24, 24, 24, 24, 24, 24]  # 48 h exactly is on time
    data = AnalyticsData.from_tables(
        {
            "orders": orders([
                ("a_old", "u", 0, 10.0, "m1"), *window, ("a_brush", "u", 320, 5000.0, "m1"),
                ("x1", "u", 390, 50.0, None), ("x2", "u", 391, 70.0, None),
            ]),
            "order_events": events([
                *[(o, "u", "order.shipped", d + h / 24, None)
                  for (o, _, d, _, _), h in zip(window, hours, strict=True)],
                (None, "u", "complaint.filed", 20, "m1"),  # before the window
                (None, "u", "complaint.filed", 350, "m1"),
                ("a1", "u", "complaint.filed", 351, None),
                ("a2", "u", "dispute.opened", 310, None),
                ("a2", "u", "dispute.resolved", 330, None),
                ("a3", "u", "refund.issued", 340, None), ("a4", "u", "refund.issued", 341, None),
            ]),
            "reviews": table(("order_id", "merchant_id", "rating"), [("x1", "m3", 5)]),
            "labels": labels([("order", "a_brush", "brushing"), ("merchant", "m2", "counterfeit"),
                              ("listing", "L1", "fake_discount")]),
        }
    )  # fmt: skip
    if outcomes:
        data.con.execute(
            "UPDATE order_events SET outcome = 'buyer_won' WHERE type = 'dispute.resolved'"
        )
    return data


def test_merchant_facts_by_hand() -> None:
    with sellers() as data:
        facts, warnings = merchant_facts(data, as_of=AS_OF)
    got = {f.merchant_id: f for f in facts}
    assert sorted(got) == ["m1", "m2", "m3"]
    m1 = got["m1"]
    assert m1.months_active == pytest.approx(400 / 30.4375)
    assert (m1.orders, m1.gmv_usd) == (10, 10_000.0)  # the brushed order is not volume
    assert (m1.shipped, m1.late_shipments) == (10, 3)
    assert (m1.complaints, m1.disputes, m1.disputes_lost, m1.refunds) == (2, 1, None, 2)
    assert (m1.brushing, m1.counterfeit, m1.fake_discount) == (1, 0, 0)
    assert (got["m2"].counterfeit, got["m2"].orders, got["m2"].months_active) == (1, 0, 0.0)
    assert (got["m3"].orders, got["m3"].gmv_usd) == (1, 50.0)  # tied by its review
    assert any("1 of 14 orders name no merchant" in w for w in warnings)
    assert any("listings are not counted" in w for w in warnings)
    assert any("disputes lost are not known" in w for w in warnings)


def test_merchant_credit_report_by_hand() -> None:
    with sellers(outcomes=True) as data:
        report = merchant_credit_report(data, as_of=AS_OF)
    got = {m.merchant_id: m for m in report.merchants}
    assert report.as_of == AS_OF
    assert not any("disputes lost" in w for w in report.warnings)
    m1 = got["m1"]
    assert m1.facts.disputes_lost == 1
    # 70 + 10 (months) + 1 ($10,000) - 3 (a lost dispute) - 20 (brushing); rates over 100
    # orders: complaints 20 per 1,000 → 15 over → -30, cap -20; disputes 10 per 1,000 → 8 over
    # → -16; late 3% and refunds 2% under 5%
    assert m1.score == 70 + 10 + 1 - 3 - 20 - 20 - 16 == 22
    assert (m1.tier, m1.exposure) == ("D", DEFAULT_EXPOSURE["D"])
    assert m1 == score_merchant(m1.facts)
    assert (got["m2"].tier, got["m2"].exposure) == ("suspended", 0.0)
    rows = merchant_credit_table(report.merchants).to_pylist()
    assert [r["merchant_id"] for r in rows] == ["m1", "m2", "m3"]
    assert rows[1]["reason_codes"][0] == "SUSPENDED_COUNTERFEIT"


def test_no_merchant_at_all_is_an_error() -> None:
    data = AnalyticsData.from_tables({"orders": orders([("o", "u", 1, 5.0, None)])})
    with data, pytest.raises(AnalyticsInputError) as caught:
        merchant_credit_report(data)
    assert caught.value.field == "orders.merchant_id"
    with sellers() as data, pytest.raises(AnalyticsInputError) as caught:
        merchant_credit_report(data, exposure={"Z": 1.0})
    assert caught.value.field == "exposure.Z"


def test_the_docs_print_the_scorecards_and_defaults() -> None:
    doc = (ROOT / "docs" / "credit.md").read_text(encoding="utf-8")
    for factor in (*USER_SCORECARD, *MERCHANT_SCORECARD):
        row = f"| `{factor.code}` | {factor.points:+d} | {factor.cap} | {factor.rule} |"
        assert row in doc, row
    for tier, p in DEFAULT_PRIVILEGES.items():
        cap = "none" if p.new_user_cap_usd is None else f"{p.new_user_cap_usd:g}"
        yes = {True: "yes", False: "no"}
        row = (f"| {tier} | {yes[p.express_refund]} | {p.password_free_limit_usd:g} | "
               f"{yes[p.pay_later]} | {cap} |")  # fmt: skip
        assert row in doc, row
    for tier, multiplier in DEFAULT_EXPOSURE.items():
        assert re.search(rf"\| {tier} \| [^|]+ \| {multiplier} \|", doc), tier


def test_the_documented_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    doc = (ROOT / "docs" / "credit.md").read_text(encoding="utf-8")
    block = re.search(r"```python\n(.*?)```", doc, re.S)
    assert block is not None
    exec(compile(block.group(1), "docs/credit.md", "exec"), {})  # noqa: S102
    out = capsys.readouterr().out
    assert "alice 725 silver\n" in out
    assert "bob 573 bronze Refused 1 cash-on-delivery parcel in the last 90 days\n" in out
    assert "近90天拒收货到付款包裹1次；" in out
    assert "shop-1 B 1.0 80\n" in out


def test_online_retail_scores_every_customer() -> None:
    data = retail()
    with data:
        rows = user_credit(data)
        returns = data.con.execute(
            """SELECT user_id, count(DISTINCT order_id) FROM order_events
            WHERE type = 'return.requested' AND ts > ?::TIMESTAMP - INTERVAL 365 DAY
            GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1""",
            [rows[0].facts.as_of],
        ).fetchone()
        with pytest.raises(AnalyticsInputError):
            merchant_credit_report(data)
    assert len(rows) == 4371
    assert all(300 <= r.score <= 760 for r in rows)  # no deliveries recorded: at most 760
    assert {r.tier for r in rows} <= {"new", "bronze", "silver", "gold"}
    assert returns is not None
    by_id = {r.user_id: r for r in rows}
    assert by_id[returns[0]].facts.returns_365d == returns[1]
    assert all(r.tier == "new" for r in rows if r.facts.orders_365d == 0)


def test_utc_as_of_equals_naive() -> None:
    with buyers() as data:
        naive = user_facts(data, as_of=AS_OF, user_ids=["good"])
        aware = user_facts(data, as_of=AS_OF.replace(tzinfo=UTC), user_ids=["good"])
    assert naive == aware


def test_a_finding_on_a_listing_counts_against_its_merchant() -> None:
    with sellers() as data:
        data.con.execute("INSERT INTO listings VALUES ('L1', 'm1', 'k1')")
        facts, warnings = merchant_facts(data)
    m1 = next(f for f in facts if f.merchant_id == "m1")
    assert m1.fake_discount == 1
    assert not any("listings" in w for w in warnings)
