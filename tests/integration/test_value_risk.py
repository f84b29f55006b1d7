"""Value × risk on a simulated market (API and CLI): the matrix and the insult rates agree with
a recount from the replayed decisions and the raw labels; and on hand-made tables, lifetime
value for every customer (abusers valued with the honest customers' models) and the labels
that make a customer bad."""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from riskops.cli.main import app as cli
from riskops.core.analytics.clv import ClvFitError
from riskops.core.analytics.value_risk import TREATMENTS
from riskops.services.analytics.clv import clv
from riskops.services.analytics.data import AnalyticsData
from riskops.services.analytics.inputs import AnalyticsInputError
from riskops.services.analytics.value_risk import Replayed, value_risk
from riskops.services.runtime import Runtime
from tests.integration.analytics_data import T0, labels, orders
from tests.integration.testclient import TestClient

STRICT = """checkpoint: order
rules:
  - id: cod_check
    when: event.payment_method == "cod"
    outcome: challenge
    reason: {en: Cash on delivery, zh: 货到付款}
  - id: second_order_today
    when: velocity.user.orders_24h >= 1
    outcome: review
    reason: {en: A second order within a day, zh: 一天内第二笔订单}
"""
"""Deliberately blunt rules: they stop many good customers, so the insult rate is not 0."""
NON_ALLOW = ("challenge", "review", "deny")
ENV = {"COLUMNS": "200", "RISKOPS_SECRET_KEY": "test-secret"}


def _activate(client: TestClient, text: str) -> int:
    pushed = client.post("/v1/rulesets/order?note=strict", content=text.encode())
    assert pushed.status_code == 201, pushed.text
    version: int = pushed.json()["version"]
    assert client.post(f"/v1/rulesets/order/{version}/activate").status_code == 200
    return version


def _read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _raw_truth(folder: Path) -> tuple[dict[str, str], set[str]]:
    """From the simulator's files, apart from riskops: who each event is about, and the users
    a label other than legit names (directly, by order, by event or by device)."""
    events = _read(folder / "events.jsonl")
    owner = {e["event_id"]: e["user_id"] for e in events if e.get("user_id")}
    buyer = {e["payload"]["order_id"]: e["user_id"] for e in events if e["type"] == "order.placed"}
    on_device: defaultdict[str, set[str]] = defaultdict(set)
    for e in events:
        if e.get("user_id") and (e.get("device") or {}).get("fingerprint"):
            on_device[e["device"]["fingerprint"]].add(e["user_id"])
    named = [
        (e["payload"]["entity_type"], e["payload"]["entity_id"])
        for e in _read(folder / "labels.events.jsonl")
        if e["payload"]["label"] != "legit"
    ]
    named += [
        ("order", e["payload"]["order_id"])
        for e in events
        if e["type"] in ("chargeback.received", "order.cod_refused")
    ]
    bad: set[str] = set()
    for kind, key in named:
        if kind == "user":
            bad.add(key)
        elif kind == "order" and key in buyer:
            bad.add(buyer[key])
        elif kind == "event" and key in owner:
            bad.add(owner[key])
        elif kind == "device":
            bad |= on_device.get(key, set())
    return owner, bad


def test_report_over_http_agrees_with_a_recount(
    market: TestClient, ops_runtime: Runtime, tmp_path: Path
) -> None:
    version = _activate(market, STRICT)
    got = market.get("/v1/analytics/value-risk", params={"limit": 100_000})
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["checkpoints"] == {"order": version}
    customers = {c["user_id"]: c for c in body["customers"]}
    assert len(customers) == body["customers_total"] > 100
    # the matrix and the segments add up to the customers
    assert sum(c["customers"] for c in body["matrix"]) == body["customers_total"]
    assert len(body["matrix"]) == 12
    assert all(c["treatment_en"] and c["treatment_zh"] for c in body["matrix"])
    insult = {r["value_segment"]: r for r in body["insult"]}
    parts = [insult[s] for s in ("high", "mid", "low", "new")]
    assert sum(r["customers"] for r in parts) == insult["all"]["customers"] == len(customers)
    assert sum(r["insulted"] for r in parts) == insult["all"]["insulted"]
    for r in body["insult"]:
        for rate in ("insult_rate", "deny_rate", "decision_fp_rate", "decision_deny_rate"):
            assert r[rate] is None or 0 <= r[rate] <= 1
    # the value ranks: a fifth of the valued customers at most are high value
    valued = [c for c in customers.values() if c["value_segment"] != "new"]
    assert all(c["value"] is not None for c in valued)
    high = sum(c["value_segment"] == "high" for c in valued)
    assert 0 < high <= 0.2 * body["valued_customers"] + 1
    assert min(c["value"] for c in valued if c["value_segment"] == "high") == body["high_from"]
    # a recount: the strict ruleset replayed again, joined to users through the raw events
    owner, bad = _raw_truth(tmp_path)
    assert {u for u, c in customers.items() if not c["good"]} == bad & set(customers)
    replayed = ops_runtime.backtests.decisions(STRICT)
    by_user: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for event_id, outcome, _, _ in replayed:
        by_user[owner[event_id]][outcome] += 1
    assert set(by_user) == set(customers)
    for segment in ("high", "mid", "low", "new", "all"):
        good = [
            u for u, c in customers.items() if c["good"] and segment in ("all", c["value_segment"])
        ]
        stopped = [u for u in good if any(by_user[u][o] for o in NON_ALLOW)]
        decisions = sum(sum(by_user[u].values()) for u in good)
        non_allow = sum(by_user[u][o] for u in good for o in NON_ALLOW)
        row = insult[segment]
        assert (row["good_customers"], row["insulted"]) == (len(good), len(stopped))
        assert (row["decisions"], row["non_allow"]) == (decisions, non_allow)
        if good:
            assert row["insult_rate"] == pytest.approx(len(stopped) / len(good))
            assert row["decision_fp_rate"] == pytest.approx(non_allow / decisions)
    assert insult["all"]["insulted"] > 0  # the blunt rules do stop good customers
    for user, c in customers.items():
        risk = "high" if by_user[user]["review"] + by_user[user]["deny"] else "low"
        risk = "medium" if risk == "low" and by_user[user]["challenge"] else risk
        assert c["risk_segment"] == risk, user


def test_bad_requests_name_the_field(market: TestClient) -> None:
    for params, field in (
        ({"checkpoint": "order"}, "checkpoint"),  # nothing active yet
        ({"checkpoint": "listing"}, "checkpoint"),
        ({"checkpoint": "nowhere"}, "checkpoint"),
        ({"checkpoint": "all"}, "checkpoint"),
        ({"high_share": "2"}, "high_share"),
        ({"high_share": "0.7", "mid_share": "0.5"}, "mid_share"),
        ({"value": "gut_feeling"}, "value"),
        ({"limit": "0"}, "limit"),
        ({"high_share": "a lot"}, "query.high_share"),
    ):
        got = market.get("/v1/analytics/value-risk", params=params)
        assert got.status_code == 422, (params, got.text)
        assert got.json()["error"]["problems"][0]["field"] == field, params


def test_cli_matrix_insult_table_out_and_chart(market: TestClient, tmp_path: Path) -> None:
    env = ENV | {"RISKOPS_DATA_DIR": str(tmp_path / "data")}
    rules, out, chart = tmp_path / "strict.yaml", tmp_path / "customers.csv", tmp_path / "vr.html"
    rules.write_text(STRICT, encoding="utf-8")
    args = ["analytics", "value-risk", "--rules", str(rules), "--out", str(out)]
    done = CliRunner().invoke(cli, [*args, "--chart", str(chart)], env=env)
    assert done.exit_code == 0, done.output
    assert "replayed order (candidate)" in done.output
    assert "serve with limits" in done.output
    assert "误伤率" in done.output
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith('"user_id","value","value_segment","risk_segment","good"')
    page = chart.read_text(encoding="utf-8")
    assert page.count("<svg") == 2
    assert "<script" not in page
    # the candidate was replayed, not activated: there is still nothing active to replay
    plain = CliRunner().invoke(cli, ["analytics", "value-risk"], env=env)
    assert plain.exit_code == 2
    assert "checkpoint" in plain.output


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--high-share", "0"], "--high-share"),
        (["--value", "vibes"], "--value"),
        (["--out", "customers.xlsx"], "--out"),
        (["--chart", "matrix.png"], "--chart"),
        (["--checkpoint", "listing"], "checkpoint"),
        (["--horizon", "0"], "--horizon"),
        (["--checkpoint", "all"], "checkpoint"),
    ],
)
def test_cli_bad_options_exit_2_naming_them(tmp_path: Path, args: list[str], named: str) -> None:
    env = ENV | {"RISKOPS_DATA_DIR": str(tmp_path / "data")}
    done = CliRunner().invoke(cli, ["analytics", "value-risk", *args], env=env)
    assert done.exit_code == 2, done.output
    assert named in done.output


def _history(customers: int = 300, seed: int = 5) -> list[tuple[str, str, float, float]]:
    """Customers buying at their own pace and leaving after some purchase (fits BG/NBD)."""
    rng = random.Random(seed)
    rows: list[tuple[str, str, float, float]] = []
    for c in range(customers):
        day, rate, leave = rng.uniform(0, 120), rng.gammavariate(1.0, 0.05), rng.betavariate(1, 4)
        spend = rng.lognormvariate(3.5, 0.4)
        while day < 300:
            rows.append((f"o{len(rows)}", f"c{c}", day, round(spend * rng.uniform(0.7, 1.3), 2)))
            if rng.random() < leave:
                break
            day += rng.expovariate(rate)
    return rows


def _decided(rows: list[tuple[str | None, str, str | None, str | None, str | None]]) -> Replayed:
    """(user, outcome, order id, event id, device) as one replayed decision each."""
    return Replayed(
        {"order": 1},
        pa.table(
            {
                "checkpoint": ["order"] * len(rows),
                "event_id": [r[3] or f"e{i}" for i, r in enumerate(rows)],
                "outcome": [r[1] for r in rows],
                "user_id": [r[0] for r in rows],
                "order_id": [r[2] for r in rows],
                "device": [r[4] for r in rows],
            }
        ),
    )


def test_every_customer_is_valued_with_the_honest_customers_models() -> None:
    history = _history()
    abusers = {"c1", "c2", "c3"}
    tables = {"orders": orders(history), "labels": labels(("user", u, "fraud") for u in abusers)}
    decided = _decided([(u, "allow", None, None, None) for u in sorted({r[1] for r in history})])
    with AnalyticsData.from_tables(tables) as data:
        honest = clv(data)  # abusers left out, as everywhere in analytics
        result = value_risk(data, decided, value="clv")
        spent = value_risk(data, decided, value="spend")
    assert result.value_measure == "clv_usd"
    assert result.value_note is None
    worth = {c.user_id: c.value for c in result.report.customers}
    ids, values = (honest.customers.column(n).to_pylist() for n in ("user_id", "clv_usd"))
    fitted = dict(zip(ids, values, strict=True))
    assert abusers.isdisjoint(fitted)
    assert set(worth) == set(fitted) | abusers
    assert all(worth[u] == pytest.approx(v, abs=0.011) for u, v in fitted.items())
    assert all((worth[u] or 0) > 0 for u in abusers)
    assert {c.user_id for c in result.report.customers if not c.good} == abusers
    total: defaultdict[str, float] = defaultdict(float)
    for _, user, _, amount in history:
        total[user] += amount
    assert spent.value_measure == "spend_usd"
    assert all(c.value == pytest.approx(total[c.user_id]) for c in spent.report.customers)


def test_too_little_history_ranks_by_spend_unless_clv_is_demanded() -> None:
    refund: dict[str, list[object]] = {"order_id": ["o1"], "user_id": ["a"]}
    refund |= {"type": ["refund.issued"], "ts": [T0 + timedelta(days=9)], "amount_usd": [4.0]}
    tables = {
        "orders": orders([("o1", "a", 0, 10.0), ("o2", "a", 5, 20.0), ("o3", "b", 1, 5.0)]),
        "order_events": pa.table(refund),  # a refund after the last order still counts
    }
    decided = _decided([("a", "allow", "o1", None, None), ("b", "deny", "o3", None, None)])
    with AnalyticsData.from_tables(tables) as data:
        auto = value_risk(data, decided)
        with pytest.raises((ClvFitError, AnalyticsInputError)):
            value_risk(data, decided, value="clv")
        with pytest.raises(AnalyticsInputError) as bad:
            value_risk(data, decided, value="spend", horizon_days=0)
    assert bad.value.field == "horizon_days"
    assert auto.value_measure == "spend_usd"
    assert auto.value_note is not None
    assert "lifetime value cannot be fitted" in auto.value_note
    assert {c.user_id: c.value for c in auto.report.customers} == {"a": 26.0, "b": 5.0}


def test_labels_on_orders_events_and_devices_make_a_customer_bad() -> None:
    tables = {
        "orders": orders([("o1", "a", 0, 10.0), ("o2", "b", 1, 20.0)]),
        "labels": labels(
            [
                ("order", "o1", "cod_refusal"),  # a's order
                ("event", "e-c", "account_takeover"),  # an event decided about c
                ("device", "dv-bad", "scraping"),  # the device d ordered from
                ("order", "o-e", "fraud"),  # e's checkout, not in the orders table
                ("user", "f", "legit"),  # legit is no mark
            ]
        ),
    }
    decided = _decided(
        [
            ("a", "allow", "o1", None, None),
            ("b", "challenge", "o2", None, None),
            ("c", "allow", None, "e-c", None),
            ("d", "allow", None, None, "dv-bad"),
            ("e", "allow", "o-e", None, None),
            ("f", "review", None, None, None),
            (None, "deny", None, None, None),
        ]
    )
    with AnalyticsData.from_tables(tables) as data:
        result = value_risk(data, decided)
    good = {c.user_id: c.good for c in result.report.customers}
    assert good == {"a": False, "b": True, "c": False, "d": False, "e": False, "f": True}
    assert (result.decisions, result.decisions_without_user) == (7, 1)
    every = result.report.insult[-1]
    assert (every.good_customers, every.insulted, every.insult_rate) == (2, 2, 1.0)


def test_the_documented_treatments_are_the_ones_in_the_code() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "value-risk.md").read_text("utf-8")
    for treatment in TREATMENTS.values():
        assert f"`{treatment.id}`: {treatment.en} / {treatment.zh}" in doc, treatment.id
