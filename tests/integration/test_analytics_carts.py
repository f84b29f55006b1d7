"""Abandoned carts, recovery actions, the holdout split and the measured uplift, on small
hand-made carts whose answers are worked out below, on 10,000 carts for the split, and on
Online Retail invoices replayed as carts (skipped when the shared file is absent)."""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from riskops.core.analytics.uplift import in_holdout
from riskops.services.analytics.carts import (
    AbandonedCarts,
    carts_table,
    find_abandoned_carts,
)
from riskops.services.analytics.data import AnalyticsData
from riskops.services.analytics.inputs import AnalyticsInputError
from riskops.services.analytics.recovery import (
    RecoveryOptions,
    action_payload,
    actions_table,
    measure_recovery,
    plan_recovery,
)
from tests.integration.analytics_data import labels, retail_path

T0 = datetime(2024, 3, 1, 12, 0)
AS_OF = T0 + timedelta(hours=5)
DAY = timedelta(days=1)


def _at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def _line(user: str, cart: str | None, sku: str, qty: int, price: float | None, minutes: float,
          added: bool = True, session: str | None = None) -> dict[str, Any]:  # fmt: skip
    return {"ts": _at(minutes), "user_id": user, "cart_id": cart, "session_id": session,
            "sku": sku, "qty": qty, "price_usd": price, "added": added}  # fmt: skip


def _order(order_id: str, user: str, ts: datetime, amount: float = 10.0) -> dict[str, Any]:
    return {"order_id": order_id, "user_id": user, "ts": ts, "amount_usd": amount}


# minutes after T0; AS_OF is T0 + 300 min; idle is 60 min
LINES = [
    # ann: adds A×2 and B, removes B -> holds A×2 = 20.00, last change +20: abandoned
    _line("ann", "a1", "A", 2, 10.0, 0),
    _line("ann", "a1", "B", 1, 4.5, 10),
    _line("ann", "a1", "B", 1, None, 20, added=False),
    # bob: A + C, ordered 30 min later: ordered
    _line("bob", "b1", "A", 1, 10.0, 0),
    _line("bob", "b1", "C", 1, 7.0, 0),
    # cat: added 30 min before AS_OF: still open
    _line("cat", "c1", "C", 1, 7.0, 270),
    # dan: added exactly idle (60 min) before AS_OF, no price: abandoned, value unknown
    _line("dan", "d1", "A", 1, None, 240),
    # eve: added and removed: empty
    _line("eve", "e1", "D", 1, 3.0, 0),
    _line("eve", "e1", "D", 1, None, 5, added=False),
    # fay: B×3 + A, ordered exactly 60 min after the last change: ordered
    _line("fay", "f1", "B", 3, 4.5, 0),
    _line("fay", "f1", "A", 1, 10.0, 0),
    # gus: A, ordered 2 h later (after the idle time): abandoned, ordered since
    _line("gus", "g1", "A", 1, 10.0, 0),
    # hal (blocked): an ordered cart A + D before, then an abandoned one
    _line("hal", "h0", "A", 1, 10.0, -180),
    _line("hal", "h0", "D", 1, 3.0, -180),
    _line("hal", "h1", "C", 1, 7.0, 0),
    # ivy: a line with a session and no cart id: abandoned as cart "s9"
    _line("ivy", None, "E", 1, 2.0, 0, session="s9"),
    # jon: B + E in j1, ordered; then C in the same j1 after the order: a new, abandoned cart
    _line("jon", "j1", "B", 1, 4.5, -120),
    _line("jon", "j1", "E", 1, 2.0, -120),
    _line("jon", "j1", "C", 1, 7.0, 0),
    # lee: A + C and an order at the very same instant: ordered
    _line("lee", "l1", "A", 1, 10.0, 0),
    _line("lee", "l1", "C", 1, 7.0, 0),
    # max: Z; the only order after it is an attack (account takeover): abandoned
    _line("max", "m1", "Z", 1, 10.0, 0),
    # kim: after AS_OF: not seen
    _line("kim", "k1", "A", 1, 10.0, 301),
    # bad lines, ignored: no user, zero quantity
    _line(None, "x1", "A", 1, 10.0, 0),  # type: ignore[arg-type]
    _line("zed", "z1", "A", 0, 10.0, 0),
]
ORDERS = [
    _order("o-bob", "bob", _at(30)),
    _order("o-fay", "fay", _at(60)),
    _order("o-gus", "gus", _at(120)),
    _order("o-hal", "hal", _at(-170)),
    _order("o-jon", "jon", _at(-90)),
    _order("o-lee", "lee", _at(0)),
    _order("o-max", "max", _at(10)),
    _order("o-zero", "cat", _at(280), amount=0.0),  # no purchase: cat stays open
    # after AS_OF, for the measurement (action at AS_OF, window 7 days)
    _order("o-ann", "ann", AS_OF + 2 * DAY),
    _order("o-dan", "dan", AS_OF + 7 * DAY),  # the window's last instant: counts
    _order("o-ivy", "ivy", AS_OF + 7 * DAY + timedelta(seconds=1)),  # just after: does not
    _order("o-jon2", "jon", AS_OF + DAY),
    _order("o-max2", "max", AS_OF + DAY),  # another takeover order: no recovery
]
ATTACKS = [("order", "o-max", "account_takeover"), ("order", "o-max2", "account_takeover")]


@pytest.fixture
def data() -> Any:
    tables = {
        "cart_items": pa.Table.from_pylist(LINES),
        "orders": pa.Table.from_pylist(ORDERS),
        "labels": labels(ATTACKS),
    }
    with AnalyticsData.from_tables(tables, blocked=["hal"]) as opened:
        yield opened


@pytest.fixture
def found(data: AnalyticsData) -> AbandonedCarts:
    return find_abandoned_carts(data, as_of=AS_OF, idle=timedelta(hours=1))


def test_statuses_of_the_hand_made_carts(found: AbandonedCarts) -> None:
    # empty: eve; ordered: bob, fay, hal's h0, jon's first j1, lee; open: cat
    assert found.counts == {"empty": 1, "ordered": 5, "open": 1, "abandoned": 7}
    got = [(c.user_id, c.cart_id) for c in found.carts]
    # oldest last change first, then user
    assert got == [("gus", "g1"), ("hal", "h1"), ("ivy", "s9"), ("jon", "j1"), ("max", "m1"),
                   ("ann", "a1"), ("dan", "d1")]  # fmt: skip


def test_contents_value_and_idle_time(found: AbandonedCarts) -> None:
    carts = {c.user_id: c for c in found.carts}
    ann = carts["ann"]
    assert [(i.sku, i.qty, i.price_usd) for i in ann.items] == [("A", 2, 10.0)]
    assert ann.value_usd == 20.0
    assert ann.last_change == _at(20)  # the removal is the last change
    assert ann.idle_hours == pytest.approx(280 / 60)
    assert carts["dan"].idle_hours == 1.0  # exactly at the boundary: abandoned
    assert carts["dan"].value_usd is None  # no price known
    # the order checked out B and E: jon's new cart holds only C
    assert [i.sku for i in carts["jon"].items] == ["C"]
    assert carts["gus"].ordered_since == _at(120)
    assert carts["ann"].ordered_since is None  # ann's order comes after AS_OF
    assert carts["hal"].excluded == "blocked"
    assert carts["ann"].excluded is None


def test_an_hour_later_cat_is_abandoned_too(data: AnalyticsData) -> None:
    later = find_abandoned_carts(data, as_of=AS_OF + timedelta(hours=1))
    assert later.counts["open"] == 1  # kim's cart, seen now
    assert later.counts["abandoned"] == 8
    assert "cat" in {c.user_id for c in later.carts}
    # an aware as_of is read in UTC
    aware = find_abandoned_carts(data, as_of=AS_OF.replace(tzinfo=UTC))
    assert aware.counts == find_abandoned_carts(data, as_of=AS_OF).counts


def test_discount_actions(data: AnalyticsData, found: AbandonedCarts) -> None:
    options = RecoveryOptions("spring", discount_percent=10, max_discount_usd=1.5,
                              holdout_share=0.0)  # fmt: skip
    plan = plan_recovery(data, found, options)
    assert sorted(plan.skipped) == [("dan", "d1", "value unknown: the cap cannot hold"),
                                    ("gus", "g1", "ordered since"),
                                    ("hal", "h1", "excluded: blocked")]  # fmt: skip
    by_user = {a.user_id: a for a in plan.actions}
    assert set(by_user) == {"ann", "ivy", "jon", "max"}
    assert {a.group for a in plan.actions} == {"treated"}
    assert {a.kind for a in plan.actions} == {"discount"}
    # 10 % of 20.00 is 2.00, capped at 1.50; 10 % of 2.00 and 7.00 under the cap
    assert by_user["ann"].discount_usd == 1.5
    assert by_user["ivy"].discount_usd == 0.2
    assert by_user["jon"].discount_usd == 0.7
    # without a cap, dan's cart of unknown value gets the percentage alone
    uncapped = plan_recovery(data, found, dataclasses.replace(options, max_discount_usd=None))
    dan = next(a for a in uncapped.actions if a.user_id == "dan")
    assert (dan.discount_usd, dan.discount_percent) == (None, 10)
    assert by_user["ann"].expires_at == AS_OF + timedelta(hours=48)
    assert by_user["ann"].action_at == AS_OF
    # the same campaign re-run gives the same action ids; another campaign other ones
    again = plan_recovery(data, found, options)
    assert [a.action_id for a in again.actions] == [a.action_id for a in plan.actions]
    other = plan_recovery(data, found, dataclasses.replace(options, campaign_id="autumn"))
    assert not {a.action_id for a in other.actions} & {a.action_id for a in plan.actions}


def test_abusers_only_with_include_abusers(data: AnalyticsData, found: AbandonedCarts) -> None:
    options = RecoveryOptions("spring", holdout_share=0.0, include_abusers=True)
    plan = plan_recovery(data, found, options)
    assert "hal" in {a.user_id for a in plan.actions}
    assert plan.skipped == (("gus", "g1", "ordered since"),)


def test_similar_items_from_ordered_carts(data: AnalyticsData, found: AbandonedCarts) -> None:
    # ordered carts of users not excluded: bob {A,C}, fay {A,B}, lee {A,C}, jon {B,E},
    # gus {A} (ordered later). Pairs: A-C 2, A-B 1, B-E 1. Hal's {A,D} is left out.
    options = RecoveryOptions("spring", kind="similar_items", holdout_share=0.0)
    plan = plan_recovery(data, found, options)
    by_user = {a.user_id: a for a in plan.actions}
    assert by_user["ann"].similar_skus == ("C", "B")
    assert by_user["dan"].similar_skus == ("C", "B")
    assert by_user["ivy"].similar_skus == ("B",)
    assert by_user["jon"].similar_skus == ("A",)  # C's partner; C itself is in the cart
    assert by_user["ann"].kind == "similar_items"
    assert by_user["ann"].discount_usd is None
    # nobody bought Z with anything: max gets the discount instead
    assert by_user["max"].kind == "discount"
    assert by_user["max"].discount_usd == 1.0
    one = plan_recovery(data, found, dataclasses.replace(options, similar_count=1))
    assert {a.user_id: a.similar_skus for a in one.actions}["ann"] == ("C",)


def test_holdout_actions_are_recorded_not_hidden(data: AnalyticsData,
                                                 found: AbandonedCarts) -> None:  # fmt: skip
    options = RecoveryOptions("spring", holdout_share=0.5, salt="s")
    plan = plan_recovery(data, found, options)
    for action in plan.actions:
        held = in_holdout("spring", action.user_id, 0.5, "s")
        assert action.group == ("holdout" if held else "treated")
    table = actions_table(plan)
    assert table.num_rows == len(plan.actions)
    assert table.column("group").to_pylist() == [a.group for a in plan.actions]
    payload = action_payload(plan.actions[0])
    assert payload["action_at"] == "2024-03-01T17:00:00Z"
    assert payload["similar_skus"] == []


def test_measured_uplift(data: AnalyticsData, found: AbandonedCarts) -> None:
    plan = plan_recovery(data, found, RecoveryOptions("spring", holdout_share=0.0))
    holdout = {"jon", "max"}
    actions = [
        dataclasses.replace(a, group="holdout") if a.user_id in holdout else a for a in plan.actions
    ]
    # treated: ann (order at +2 d) yes, dan (+7 d exactly) yes, ivy (+7 d 1 s) no -> 2/3
    # holdout: jon (+1 d) yes, max (only a takeover order) no -> 1/2
    done = measure_recovery(data, actions, as_of=AS_OF + 10 * DAY, window=7 * DAY)
    result = done.uplift
    assert (result.treated_recovered, result.treated_carts) == (2, 3)
    assert (result.holdout_recovered, result.holdout_carts) == (1, 2)
    assert result.absolute == pytest.approx(2 / 3 - 1 / 2)
    assert result.relative == pytest.approx((2 / 3 - 1 / 2) / (1 / 2))
    assert done.pending == 0
    assert result.note is not None
    assert result.note.startswith("few carts")
    # three days in, no window has ended: all pending, no figures
    early = measure_recovery(data, actions, as_of=AS_OF + 3 * DAY, window=7 * DAY)
    assert early.pending == 5
    assert early.uplift.treated_rate is None
    assert early.uplift.note == "too few carts: the treated and the holdout group is empty"
    nothing = measure_recovery(data, [], as_of=AS_OF)
    assert nothing.uplift.absolute is None


def test_carts_table_flattens_items(found: AbandonedCarts) -> None:
    table = carts_table(found)
    row = {r["user_id"]: r for r in table.to_pylist()}["ann"]
    assert row["items"] == "A×2"
    assert row["value_usd"] == 20.0
    empty = carts_table(dataclasses.replace(found, carts=()))
    assert empty.num_rows == 0
    assert empty.schema == table.schema


def test_bad_input(data: AnalyticsData, found: AbandonedCarts) -> None:
    with pytest.raises(AnalyticsInputError) as caught:
        find_abandoned_carts(data, as_of=T0 - timedelta(days=30))
    assert caught.value.field == "cart_items"
    with pytest.raises(AnalyticsInputError, match="idle"):
        find_abandoned_carts(data, as_of=AS_OF, idle=timedelta(0))
    with pytest.raises(AnalyticsInputError, match="as_of"):
        find_abandoned_carts(data, as_of="2024-03-01")  # type: ignore[arg-type]
    bad: list[tuple[dict[str, Any], str]] = [
        ({"campaign_id": ""}, "campaign_id"),
        ({"discount_percent": 0}, "discount_percent"),
        ({"discount_percent": 150}, "discount_percent"),
        ({"holdout_share": 1.0}, "holdout_share"),
        ({"kind": "voucher"}, "kind"),
        ({"similar_count": 0}, "similar_count"),
        ({"max_discount_usd": -1}, "max_discount_usd"),
        ({"valid_for": timedelta(0)}, "valid_for"),
    ]
    for change, field in bad:
        options = dataclasses.replace(RecoveryOptions("spring"), **change)
        with pytest.raises(AnalyticsInputError) as caught:
            plan_recovery(data, found, options)
        assert caught.value.field == field
    with pytest.raises(AnalyticsInputError, match="window"):
        measure_recovery(data, [], as_of=AS_OF, window=timedelta(0))
    with AnalyticsData.from_tables({}) as empty, pytest.raises(AnalyticsInputError):
        find_abandoned_carts(empty, as_of=AS_OF)


def test_holdout_split_on_ten_thousand_carts() -> None:
    n = 10_000
    lines = pa.table({
        "ts": [T0] * n, "user_id": [f"u{i}" for i in range(n)],
        "cart_id": [f"c{i}" for i in range(n)], "sku": ["A"] * n, "qty": [1] * n,
        "price_usd": [5.0] * n, "added": [True] * n,
    })  # fmt: skip
    with AnalyticsData.from_tables({"cart_items": lines}) as data:
        carts = find_abandoned_carts(data, as_of=AS_OF)
        options = RecoveryOptions("big", holdout_share=0.10)
        first = plan_recovery(data, carts, options)
        second = plan_recovery(data, carts, options)
    assert carts.counts["abandoned"] == n
    groups = Counter(a.group for a in first.actions)
    # binomial(10000, 0.1): sd 30; 4 sd either side
    assert 880 <= groups["holdout"] <= 1120
    assert groups["treated"] + groups["holdout"] == n
    assert [a.group for a in first.actions] == [a.group for a in second.actions]


def test_online_retail_invoices_replayed_as_carts() -> None:
    """Invoices of 1-14 November 2011 become carts (lines at the invoice time) and orders (at
    the same time); every tenth invoice loses its order. The lost ones are the only abandoned
    carts, with the invoice's lines, and the similar items match a count made here in Python."""
    path = retail_path()
    con = duckdb.connect()
    raw = con.execute(
        """SELECT InvoiceNo AS cart_id, CAST(CAST(CustomerID AS BIGINT) AS VARCHAR) AS user_id,
          InvoiceDate AS ts, StockCode AS sku, Quantity AS qty, UnitPrice AS price_usd
        FROM read_parquet(?) WHERE CustomerID IS NOT NULL AND Quantity > 0 AND UnitPrice > 0
          AND InvoiceNo NOT LIKE 'C%' AND InvoiceDate >= '2011-11-01'
          AND InvoiceDate < '2011-11-15'""",
        [str(path)],
    ).fetchall()
    con.close()
    invoices: dict[str, tuple[str, datetime]] = {}
    for cart, user, ts, *_ in raw:
        invoices[cart] = (user, ts)
    lost = {cart for cart in invoices if int(cart) % 10 == 0}
    kept = {cart: v for cart, v in invoices.items() if cart not in lost}
    lines = pa.table({
        "ts": [r[2] for r in raw], "user_id": [r[1] for r in raw], "cart_id": [r[0] for r in raw],
        "sku": [r[3] for r in raw], "qty": [r[4] for r in raw], "price_usd": [r[5] for r in raw],
        "added": [True] * len(raw),
    })  # fmt: skip
    orders = pa.table({
        "order_id": list(kept), "user_id": [u for u, _ in kept.values()],
        "ts": [t for _, t in kept.values()], "amount_usd": [1.0] * len(kept),
    })  # fmt: skip
    with AnalyticsData.from_tables({"cart_items": lines, "orders": orders}) as data:
        found = find_abandoned_carts(data, as_of=datetime(2011, 11, 15))
        plan = plan_recovery(
            data, found, RecoveryOptions("retail", kind="similar_items", holdout_share=0.1)
        )
    assert sum(found.counts.values()) == len(invoices)
    assert found.counts["empty"] == 0
    assert found.counts["open"] == 0
    assert {c.cart_id for c in found.carts} <= lost
    assert len(found.carts) > 50
    quantities: dict[str, Counter[str]] = {}
    for cart, _, _, sku, qty, _ in raw:
        quantities.setdefault(cart, Counter())[sku] += qty
    for cart in found.carts[:20]:
        assert {i.sku: i.qty for i in cart.items} == quantities[cart.cart_id]
    # co-purchases by hand: invoices followed by an order of their customer (kept ones, and
    # lost ones whose customer ordered again at or after them)
    last_buy: dict[str, datetime] = {}
    for user, ts in kept.values():
        last_buy[user] = max(ts, last_buy.get(user, ts))
    bought = [set(quantities[c]) for c, (u, t) in invoices.items()
              if c in kept or (u in last_buy and last_buy[u] >= t)]  # fmt: skip
    for action in [a for a in plan.actions if a.kind == "similar_items"][:10]:
        own = {i.sku for c in found.carts if c.cart_id == action.cart_id for i in c.items}
        score: Counter[str] = Counter()
        for basket in bought:
            for sku in own & basket:
                score.update(basket - own - {sku})
        expected = sorted(score.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
        assert action.similar_skus == tuple(sku for sku, _ in expected)
    groups = Counter(a.group for a in plan.actions)
    assert 0 < groups["holdout"] < groups["treated"]


def test_the_documented_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    doc = Path(__file__).resolve().parents[2] / "docs" / "analytics-carts.md"
    code = doc.read_text(encoding="utf-8").split("## Example")[1]
    code = code.split("```python")[1].split("```")[0]
    exec(compile(code, str(doc), "exec"), {"__name__": "docs_example"})  # noqa: S102
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "{'empty': 0, 'ordered': 1, 'open': 0, 'abandoned': 2}"
    assert out[1:3] == ["ann treated similar_items ('C',)", "cat holdout similar_items ('C',)"]
    assert out[3] == "1.0 0.0 relative uplift undefined: no holdout cart was recovered"
    assert out[4].startswith("1 0 [")
