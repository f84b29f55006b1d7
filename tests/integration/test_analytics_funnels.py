"""Funnels and page exits on small hand-made step logs whose answers are worked out by hand, and
on sessions rebuilt from the UCI Online Shoppers file (whose counts the funnel must reproduce)."""

from __future__ import annotations

import csv
import math
import os
import random
import statistics
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from riskops.services.analytics.data import AnalyticsData
from riskops.services.analytics.funnels import (
    FunnelRow,
    FunnelStep,
    funnel,
    parse_window,
)
from riskops.services.analytics.inputs import AnalyticsInputError
from riskops.services.analytics.pages import page_exits

T0 = datetime(2024, 3, 1, 10, 0)
SHOP = ["page.viewed[page_type=product]", "cart.item_added", "checkout.started", "order.placed"]
STEP_COLUMNS = ("ts", "user_id", "session_id", "type", "page", "page_type", "dwell_ms", "device")


def minutes(m: float) -> datetime:
    return T0 + timedelta(minutes=m)


def steps_table(rows: list[tuple[Any, ...]]) -> pa.Table:
    """Rows of (minute, user, session, type, page, page_type, dwell_ms, device), in log order."""
    cols: dict[str, list[Any]] = {c: [] for c in STEP_COLUMNS}
    for row in rows:
        padded = (minutes(row[0]), *row[1:], *([None] * (len(STEP_COLUMNS) - len(row))))
        for c, v in zip(STEP_COLUMNS, padded, strict=True):
            cols[c].append(v)
    return pa.table(cols)


def by_step(rows: list[FunnelRow], group: str | None = None) -> dict[int, FunnelRow]:
    return {r.step: r for r in rows if r.group == group}


def shop_data() -> AnalyticsData:
    """u1 goes all the way in 20 min; u2 reaches checkout 90 min after the product page (out of a
    1 h window); u3 adds to cart before viewing; u4 views twice a day apart, then adds to cart 10
    min after the second view; u5 (labelled fraud) goes all the way in 3 min; u6 only checks out.
    """
    pv, cart, co, order = "page.viewed", "cart.item_added", "checkout.started", "order.placed"
    rows: list[tuple[Any, ...]] = [
        (0, "u1", "s1", pv, "/p/1", "product", 1000, "mobile"),
        (5, "u1", "s1", cart, None, None, None, "mobile"),
        (10, "u1", "s1", co, None, None, None, "mobile"),
        (20, "u1", "s1", order, None, None, None, "mobile"),
        (0, "u2", "s2", pv, "/p/2", "product", 2000, "desktop"),
        (30, "u2", "s2", cart, None, None, None, "desktop"),
        (90, "u2", "s2", co, None, None, None, "desktop"),
        (0, "u3", "s3", cart, None, None, None, "mobile"),
        (5, "u3", "s3", pv, "/p/1", "product", 500, "mobile"),
        (0, "u4", "s4", pv, "/p/3", "product", 700, "desktop"),
        (1440, "u4", "s5", pv, "/p/3", "product", 900, "mobile"),
        (1450, "u4", "s5", cart, None, None, None, "mobile"),
        (0, "u5", "s6", pv, "/p/1", "product", 100, "mobile"),
        (1, "u5", "s6", cart, None, None, None, "mobile"),
        (2, "u5", "s6", co, None, None, None, "mobile"),
        (3, "u5", "s6", order, None, None, None, "mobile"),
        (0, "u6", "s7", co, None, None, None, "mobile"),
        (1, "u1", "s1", pv, "/home", "home", 300, "mobile"),
    ]
    sessions = pa.table(
        {
            "session_id": ["s1", "s2", "s3", "s4", "s5", "s6", "s7"],
            "user_id": ["u1", "u2", "u3", "u4", "u4", "u5", "u6"],
            "ts": [T0] * 7,
            "channel": ["ads", "seo", "ads", "seo", "email", "ads", "seo"],
        }
    )
    users = pa.table(
        {
            "user_id": ["u1", "u2", "u3", "u4", "u5", "u6"],
            "registered_at": [T0] * 6,
            "channel": ["organic", "paid", "paid", "organic", "paid", "organic"],
        }
    )
    labels = pa.table({"entity_type": ["user"], "entity_id": ["u5"], "label": ["fraud"]})
    tables = {"steps": steps_table(rows), "sessions": sessions, "users": users, "labels": labels}
    return AnalyticsData.from_tables(tables)


def test_strict_funnel_by_hand() -> None:
    with shop_data() as data:
        rows = funnel(data, SHOP, window="1h")
    s = by_step(rows)
    assert [s[i].entered for i in (1, 2, 3, 4)] == [4, 3, 1, 1]
    assert [s[i].drop_off for i in (1, 2, 3, 4)] == [None, 1, 2, 0]
    assert s[1].conversion_from_previous is None
    assert s[2].conversion_from_previous == pytest.approx(3 / 4)
    assert s[3].conversion_from_previous == pytest.approx(1 / 3)
    assert s[4].conversion_from_previous == pytest.approx(1.0)
    assert [s[i].conversion_from_first for i in (1, 2, 3, 4)] == pytest.approx(
        [1, 0.75, 0.25, 0.25]
    )
    # to cart: u1 300 s, u4 600 s (from its second view), u2 1800 s; p90 interpolates 600..1800
    assert s[2].median_s_from_previous == pytest.approx(600)
    assert s[2].p90_s_from_previous == pytest.approx(600 + 0.8 * 1200)
    assert s[3].median_s_from_previous == pytest.approx(300)
    assert s[4].median_s_from_previous == pytest.approx(600)
    assert s[1].median_s_from_previous is None
    assert s[1].name == "page.viewed[page_type=product]"


def test_abusers_are_left_out_unless_asked() -> None:
    with shop_data() as data:
        rows = funnel(data, SHOP, window="1h", include_abusers=True)
    s = by_step(rows)
    assert [s[i].entered for i in (1, 2, 3, 4)] == [5, 4, 2, 2]
    assert s[2].median_s_from_previous == pytest.approx((300 + 600) / 2)  # 60, 300, 600, 1800


def test_a_wider_window_lets_u2_check_out() -> None:
    with shop_data() as data:
        rows = funnel(data, SHOP, window=timedelta(hours=2))
    assert [r.entered for r in rows] == [4, 3, 2, 1]


def test_breakdown_takes_the_best_attempts_first_event() -> None:
    with shop_data() as data:
        device = funnel(data, SHOP, window="1h", breakdown="device")
        channel = funnel(data, SHOP, window="1h", breakdown="session_channel")
        registered = funnel(data, SHOP, window="1h", breakdown="user_channel")
    # u4's best attempt starts at its second view, on mobile in session s5 (email)
    assert [r.entered for r in by_step(device, "mobile").values()] == [3, 2, 1, 1]
    assert [r.entered for r in by_step(device, "desktop").values()] == [1, 1, 0, 0]
    assert by_step(device, "desktop")[3].conversion_from_previous == 0.0
    assert by_step(device, "desktop")[4].conversion_from_previous is None
    assert [r.entered for r in by_step(channel, "ads").values()] == [2, 1, 1, 1]
    assert [r.entered for r in by_step(channel, "email").values()] == [1, 1, 0, 0]
    assert [r.entered for r in by_step(channel, "seo").values()] == [1, 1, 0, 0]
    assert [r.entered for r in by_step(registered, "organic").values()] == [2, 2, 1, 1]
    assert [r.entered for r in by_step(registered, "paid").values()] == [2, 1, 0, 0]
    assert device[0].group == "mobile"  # the biggest group first


def test_per_session_the_two_visits_of_u4_count_apart() -> None:
    with shop_data() as data:
        rows = funnel(data, SHOP[:2], window="1d", unit="session")
    s = by_step(rows)
    # sessions with a product view: s1, s2, s3, s4, s5; to cart after it: s1, s2, s5
    assert [s[1].entered, s[2].entered] == [5, 3]


def test_the_latest_quickest_attempt_is_kept() -> None:
    pv, cart, co = "page.viewed", "cart.item_added", "checkout.started"
    rows = [
        (0, "u1", None, pv, "/p", "product"),
        (1, "u1", None, cart),
        (60, "u1", None, pv, "/p", "product"),
        (61, "u1", None, cart),
        (62, "u1", None, co),
    ]
    with AnalyticsData.from_tables({"steps": steps_table(rows)}) as data:
        out = funnel(data, SHOP[:3], window="1d")
    assert [r.entered for r in out] == [1, 1, 1]
    assert [r.median_s_from_previous for r in out] == [None, 60, 60]


def test_same_instant_follows_the_log_order() -> None:
    pv, cart = "page.viewed", "cart.item_added"
    in_order = [(0, "u1", None, pv, "/p", "product"), (0, "u1", None, cart)]
    reversed_ = [(0, "u1", None, cart), (0, "u1", None, pv, "/p", "product")]
    with AnalyticsData.from_tables({"steps": steps_table(in_order)}) as data:
        assert [r.entered for r in funnel(data, SHOP[:2])] == [1, 1]
        assert funnel(data, SHOP[:2])[1].median_s_from_previous == 0.0
    with AnalyticsData.from_tables({"steps": steps_table(reversed_)}) as data:
        assert [r.entered for r in funnel(data, SHOP[:2])] == [1, 0]
        assert [r.entered for r in funnel(data, SHOP[:2], order="any")] == [1, 1]


def test_a_step_can_repeat_in_strict_order() -> None:
    rows = [
        (0, "u1", None, "page.viewed", "/a"),
        (1, "u1", None, "page.viewed", "/b"),
        (2, "u2", None, "page.viewed", "/a"),
    ]
    with AnalyticsData.from_tables({"steps": steps_table(rows)}) as data:
        out = funnel(data, ["page.viewed", "page.viewed"])
    assert [r.entered for r in out] == [2, 1]


def test_any_order_by_hand() -> None:
    search, cart, co = "search.performed", "cart.item_added", "checkout.started"
    rows = [
        (0, "a1", None, cart),
        (10, "a1", None, search),
        (20, "a1", None, co),
        (0, "a2", None, search),
        (30, "a2", None, co),
        (120, "a2", None, cart),
        (0, "a3", None, cart),
    ]
    steps = [search, cart, co]
    with AnalyticsData.from_tables({"steps": steps_table(rows)}) as data:
        anyway = funnel(data, steps, window="1h", order="any")
        strict = funnel(data, steps, window="1h")
    # a1 did all three within 20 min; a2's cart came 2 h later; a3 never searched
    assert [r.entered for r in anyway] == [2, 1, 1]
    # a1 had all of search and cart at minute 10 (0 s more), checkout 600 s after that
    assert [r.median_s_from_previous for r in anyway] == [None, 0.0, 600.0]
    assert [r.entered for r in strict] == [2, 0, 0]


def reference(
    events: list[tuple[int, str, str]], steps: list[str], window: int, order: str
) -> list[tuple[int, float | None]]:
    """The funnel by brute force over (minute, user, type) events in log order: every attempt
    of every user, the best one kept; per step the users entered and the median seconds from
    the previous step."""
    best: dict[str, tuple[tuple[int, int, int], list[int]]] = {}
    for user in {u for _, u, _ in events}:
        mine = sorted((t, pos, kind) for pos, (t, u, kind) in enumerate(events) if u == user)
        for a, (t0, _, first) in enumerate(mine):
            reached: list[int] = []
            if order == "strict" and first == steps[0]:
                reached, at = [t0], a
                for step in steps[1:]:
                    nxt = [j for j in range(at + 1, len(mine)) if mine[j][2] == step]
                    if not nxt or mine[nxt[0]][0] - t0 > window:
                        break
                    at = nxt[0]
                    reached.append(mine[at][0])
            elif order == "any":
                for step in steps:
                    hits = [t for t, _, kind in mine[a:] if kind == step and t - t0 <= window]
                    if not hits:
                        break
                    reached.append(max([hits[0], *reached]))
            if reached:
                key = (len(reached), t0 - reached[-1], a)
                if user not in best or key > best[user][0]:
                    best[user] = (key, reached)
    out: list[tuple[int, float | None]] = []
    for i in range(len(steps)):
        paths = [r for _, r in best.values() if len(r) > i]
        gaps = [(r[i] - r[i - 1]) * 60.0 for r in paths] if i else []
        out.append((len(paths), statistics.median(gaps) if gaps else None))
    return out


@pytest.mark.parametrize("order", ["strict", "any"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_funnel_agrees_with_brute_force(order: str, seed: int) -> None:
    rng = random.Random(seed)
    kinds = ["search.performed", "cart.item_added", "checkout.started"]
    events = [
        (rng.randrange(0, 240, 3), f"u{rng.randrange(25)}", rng.choice(kinds)) for _ in range(300)
    ]
    table = steps_table([(t, u, None, kind) for t, u, kind in events])
    with AnalyticsData.from_tables({"steps": table}) as data:
        rows = funnel(data, kinds, window="1h", order=order)
    got = [(r.entered, r.median_s_from_previous) for r in rows]
    assert got == reference(events, kinds, 60, order)
    assert got[-1][0] > 0


def test_page_exits_and_dwell_by_hand() -> None:
    pv = "page.viewed"
    rows = [
        (0, "v1", "s1", pv, "/", "home", 1000),
        (1, "v1", "s1", pv, "/p/1", "product", 5000),
        (2, "v1", "s1", pv, "/cart", "cart", 2000),
        (3, "v1", "s1", "order.placed"),
        (0, "v2", "s2", pv, "/", "home", 3000),
        (1, "v2", "s2", pv, "/p/2", "product", 4000),
        (0, "v3", None, pv, "/", "home", 1000),
        (1, "v3", None, pv, "/p/1", "product", None),
        (1440, "v3", None, pv, "/", "home", 500),
        (5, None, None, pv, "/p/9", "product", 100),
        (0, "bad", "s9", pv, "/", "home", 10),
    ]
    labels = pa.table({"entity_type": ["user"], "entity_id": ["bad"], "label": ["scraping"]})
    with AnalyticsData.from_tables({"steps": steps_table(rows), "labels": labels}) as data:
        out = page_exits(data, by="page_type")
        pages = page_exits(data)
        with_bad = page_exits(data, by="page_type", include_abusers=True)
    got = {r.page: (r.views, r.exits, r.views_with_dwell, r.median_dwell_ms) for r in out}
    assert got == {
        "home": (4, 1, 4, 1000.0),
        "product": (3, 2, 2, 4500.0),
        "cart": (1, 1, 1, 2000.0),
    }
    assert [r.page for r in out] == ["home", "product", "cart"]
    assert out[1].exit_rate == pytest.approx(2 / 3)
    assert {r.page: r.exits for r in pages} == {"/": 1, "/p/1": 1, "/p/2": 1, "/cart": 1}
    assert {r.page: r.views for r in with_bad}["home"] == 5


def test_since_and_until_cut_the_steps() -> None:
    with shop_data() as data:
        rows = funnel(data, SHOP, window="1h", since=minutes(1000), until=minutes(2000))
    assert [r.entered for r in rows] == [1, 1, 0, 0]  # u4's second visit alone


def test_nobody_entering_still_gives_one_row_per_step() -> None:
    with shop_data() as data:
        rows = funnel(data, SHOP, since=minutes(5000))
        grouped = funnel(data, SHOP, since=minutes(5000), breakdown="market")
    assert [(r.entered, r.conversion_from_first, r.drop_off) for r in rows] == [
        (0, None, None),
        (0, None, 0),
        (0, None, 0),
        (0, None, 0),
    ]
    assert grouped == []


def test_step_and_window_parsing() -> None:
    step = FunnelStep.parse(" page.viewed [ page_type = product , device=d1 ] ")
    assert step == FunnelStep("page.viewed", (("page_type", "product"), ("device", "d1")))
    assert FunnelStep("cart.item_added", label="Cart").name == "Cart"
    assert parse_window("90s") == 90_000_000
    assert parse_window("1.5h") == 5_400_000_000
    assert parse_window(timedelta(days=1)) == 86_400_000_000


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"steps": ["page.viewed"]}, "steps"),
        ({"steps": "page.viewed"}, "steps"),
        ({"steps": ["page.viewed", "cart.added"]}, "steps"),
        ({"steps": ["page.viewed[colour=red]", "cart.item_added"]}, "steps"),
        ({"steps": ["page.viewed[page_type]", "cart.item_added"]}, "steps"),
        ({"steps": ["page.viewed", "page.viewed[page_type=product]"], "order": "any"}, "steps"),
        ({"window": "0h"}, "window"),
        ({"window": "soon"}, "window"),
        ({"order": "loose"}, "order"),
        ({"unit": "device"}, "unit"),
        ({"breakdown": "colour"}, "breakdown"),
        ({"since": minutes(10), "until": minutes(10)}, "until"),
    ],
)
def test_bad_options_name_the_field(kwargs: dict[str, Any], field: str) -> None:
    args: dict[str, Any] = {"steps": SHOP, **kwargs}
    with shop_data() as data, pytest.raises(AnalyticsInputError) as err:
        funnel(data, **args)
    assert err.value.field == field


def test_empty_steps_table_is_an_input_error() -> None:
    with AnalyticsData.from_tables({}) as data:
        with pytest.raises(AnalyticsInputError, match="empty"):
            funnel(data, SHOP)
        with pytest.raises(AnalyticsInputError, match=r"page\.viewed"):
            page_exits(data)
        with pytest.raises(AnalyticsInputError) as err:
            page_exits(data, by="sku")
        assert err.value.field == "by"


# --- real data: UCI Online Shoppers, one row per session with page counts and durations ---

SHARED = Path(
    os.environ.get("RISKOPS_SHARED_DATA")
    or Path(__file__).resolve().parents[2].parent / "shared" / "data"
)
SHOPPERS = SHARED / "online_shoppers" / "online_shoppers_intention.csv"
KINDS = (
    ("administrative", "Administrative"),
    ("info", "Informational"),
    ("product", "ProductRelated"),
)


STEPS_SQL = """
WITH p AS (
  SELECT n, 'administrative' AS kind, 0 AS k, unnest(range(Administrative)) AS j,
         floor(Administrative_Duration * 1000 / Administrative)::BIGINT AS dwell
  FROM s WHERE Administrative > 0
  UNION ALL
  SELECT n, 'info', 1, unnest(range(Informational)),
         floor(Informational_Duration * 1000 / Informational)::BIGINT
  FROM s WHERE Informational > 0
  UNION ALL
  SELECT n, 'product', 2, unnest(range(ProductRelated)),
         floor(ProductRelated_Duration * 1000 / ProductRelated)::BIGINT
  FROM s WHERE ProductRelated > 0)
SELECT TIMESTAMP '2024-01-01' + INTERVAL (n) HOUR AS ts, 's' || n AS session_id,
       'session.started' AS type, NULL AS page_type, NULL::BIGINT AS dwell_ms, 0 AS o
FROM s
UNION ALL
SELECT TIMESTAMP '2024-01-01' + INTERVAL (n) HOUR + INTERVAL (1 + k * 1000 + j) SECOND,
       's' || n, 'page.viewed', kind, dwell, 1 FROM p
UNION ALL
SELECT TIMESTAMP '2024-01-01' + INTERVAL (n) HOUR + INTERVAL 50 MINUTE, 's' || n,
       'order.placed', NULL, NULL, 2 FROM s WHERE Revenue
ORDER BY ts, o"""


@pytest.fixture(scope="module")
def shoppers() -> Iterator[AnalyticsData]:
    """Each session of the file rebuilt as steps: session.started, then its administrative,
    informational and product pages (in that order, one second apart, each with the session's
    mean dwell of its kind), then order.placed when Revenue is true. Its channel is VisitorType.
    """
    if not SHOPPERS.exists():
        pytest.skip(f"the Online Shoppers file is not here: {SHOPPERS}")
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE s AS SELECT row_number() OVER () AS n, * FROM read_csv(?)", [str(SHOPPERS)]
    )
    steps = con.sql(STEPS_SQL).to_arrow_table()
    sessions = con.sql(
        """SELECT 's' || n AS session_id, TIMESTAMP '2024-01-01' + INTERVAL (n) HOUR AS ts,
                  VisitorType AS channel FROM s"""
    ).to_arrow_table()
    con.close()
    data = AnalyticsData.from_tables({"steps": steps.drop_columns(["o"]), "sessions": sessions})
    yield data
    data.close()


def read_shoppers() -> list[dict[str, str]]:
    with SHOPPERS.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_online_shoppers_conversion_matches_the_file(shoppers: AnalyticsData) -> None:
    rows = read_shoppers()
    bought = [r for r in rows if r["Revenue"] == "TRUE"]
    assert (len(rows), len(bought)) == (12330, 1908)
    overall = funnel(shoppers, ["session.started", "order.placed"], unit="session")
    assert [r.entered for r in overall] == [12330, 1908]
    assert overall[1].conversion_from_first == pytest.approx(1908 / 12330)
    steps = ["session.started", "page.viewed[page_type=product]", "order.placed"]
    by_type = funnel(shoppers, steps, unit="session", breakdown="session_channel")
    for visitor in {r["VisitorType"] for r in rows}:
        mine = [r for r in rows if r["VisitorType"] == visitor]
        product = [r for r in mine if int(r["ProductRelated"]) > 0]
        expected = [len(mine), len(product), sum(r["Revenue"] == "TRUE" for r in product)]
        assert [r.entered for r in by_step(by_type, visitor).values()] == expected, visitor


def test_online_shoppers_views_exits_and_dwell_match_the_file(shoppers: AnalyticsData) -> None:
    rows = read_shoppers()
    views: Counter[str] = Counter()
    exits: Counter[str] = Counter()
    dwell: dict[str, list[int]] = {kind: [] for kind, _ in KINDS}
    for r in rows:
        last = None
        for kind, col in KINDS:
            n = int(r[col])
            if n > 0:
                views[kind] += n
                last = kind
                ms = math.floor(float(r[f"{col}_Duration"]) * 1000 / n)
                if ms >= 0:
                    dwell[kind] += [ms] * n
        if last is not None:
            exits[last] += 1
    out = {p.page: p for p in page_exits(shoppers, by="page_type")}
    assert sum(views.values()) == 426004
    for kind, _ in KINDS:
        page = out[kind]
        assert (page.views, page.exits, page.views_with_dwell) == (
            views[kind],
            exits[kind],
            len(dwell[kind]),
        )
        assert page.median_dwell_ms == pytest.approx(statistics.median(dwell[kind]))


def test_the_documented_example_prints_what_the_page_says(
    capsys: pytest.CaptureFixture[str],
) -> None:
    doc = Path(__file__).resolve().parents[2] / "docs" / "analytics-funnels-cohorts.md"
    text = doc.read_text(encoding="utf-8")
    code = text.split("## Example\n\n```python\n", 1)[1].split("```", 1)[0]
    printed = text.split("\nprints\n\n```\n", 1)[1].split("```", 1)[0]
    exec(compile(code, str(doc), "exec"), {})  # noqa: S102 - our own documentation
    assert capsys.readouterr().out == printed
