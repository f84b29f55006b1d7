"""`riskops calibrate` on a simulated log with its labels: a trained champion scores the events
after its training rows, each market gets the cut that approves the most GMV within its
tolerance, the curve goes to a table, a JSON file and an HTML chart, and `--apply` writes the
thresholds, for the model's checkpoint only, into a new, audited policy version that `riskops
policy show` reads back."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from riskops.cli.main import app as cli
from riskops.core.decisions.policy import load_policy
from riskops.services.models.registry import ModelRegistry
from riskops.services.runtime import Runtime
from tests.integration.testclient import TestClient


def _env(runtime: Runtime) -> dict[str, str]:
    return {"COLUMNS": "220", "RISKOPS_DATA_DIR": str(runtime.settings.data_dir),
            "RISKOPS_SECRET_KEY": "test-secret"}  # fmt: skip


@pytest.fixture
def trained(market: TestClient, ops_runtime: Runtime) -> dict[str, str]:
    env = _env(ops_runtime)
    result = CliRunner().invoke(cli, ["train", "--model", "order_fraud", "--promote"], env=env)
    assert result.exit_code == 0, result.output
    return env


def _orders_after(events: Path, after_us: int) -> Counter[str]:
    """order.placed events per market that occurred after ``after_us``, from the file."""
    counts: Counter[str] = Counter()
    for line in events.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        at = datetime.fromisoformat(row["occurred_at"].replace("Z", "+00:00"))
        if row["type"] == "order.placed" and at.timestamp() * 1_000_000 > after_us:
            counts[row["market"]] += 1
    return counts


def _check_market(m: dict[str, Any]) -> None:
    curve = m["curve"]
    cuts = [p["cut"] for p in curve]
    assert cuts == sorted(set(cuts))
    assert cuts[-1] == 100.0
    within = [p for p in curve if p["loss_rate"] is not None and p["loss_rate"] <= m["tolerance"]]
    chosen = next(p for p in curve if p["cut"] == m["cut"])
    assert m["status"] == "met"  # every simulated market has labelled bad orders
    assert chosen["loss_rate"] <= m["tolerance"]
    assert chosen["approved_gmv"] == max(p["approved_gmv"] for p in within)
    assert m["approved_gmv_share"] == chosen["approved_gmv_share"]
    # the threshold approves the same events as the cut: above the previous distinct score
    previous = cuts[cuts.index(m["cut"]) - 1]
    assert previous < m["threshold"] <= m["cut"]
    review = m["threshold"]
    assert m["thresholds"] == {
        "challenge": pytest.approx(review / 4, rel=1e-5),  # the default bands 1 : 4 : 12
        "review": review,
        "deny": pytest.approx(min(100.0, review * 3), rel=1e-5),
    }


def test_calibrate_report_chart_and_apply(
    trained: dict[str, str], ops_runtime: Runtime, tmp_path: Path
) -> None:
    runner = CliRunner()
    out, chart = tmp_path / "calibration.json", tmp_path / "curve.html"
    args = ["calibrate", "--model", "order_fraud", "--out", str(out), "--chart", str(chart)]
    result = runner.invoke(cli, args, env=trained)
    assert result.exit_code == 0, result.output
    assert "after the model's training rows" in result.output
    assert "thresholds per market" in result.output
    assert "trade-off curve" in result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert (data["model"], data["version"], data["by"]) == ("order_fraud", "v1", "gmv")
    meta = ModelRegistry(ops_runtime.settings.data_dir).meta("order_fraud", "v1")
    train_last = meta["data_window"]["parts"]["train"]["last_us"]
    assert data["since_us"] == train_last + 1
    # every order after the training rows is scored, in its own market
    assert len(data["markets"]) >= 3  # the simulator's markets
    by_market = {m["market"]: m for m in data["markets"]}
    assert {k: m["events"] for k, m in by_market.items()} == _orders_after(
        tmp_path / "events.jsonl", train_last
    )
    for m in data["markets"]:
        _check_market(m)
        row = next(line for line in result.output.splitlines() if f"│ {m['market']} " in line)
        assert f"{m['loss_rate']:.2%}" in row
    page = chart.read_text(encoding="utf-8")
    assert page.count("<svg") == len(data["markets"])
    assert "tolerance 5.0%" in page
    assert "<script" not in page
    assert "http" not in page  # self-contained: nothing fetched

    # an earlier calibration at another checkpoint (another model) must survive --apply
    cod = {"TH": {"challenge": 4.5, "review": 18.0, "deny": 54.0}}
    ops_runtime.policy.calibrate("payment_method", cod, "bo", "cod_refusal v1")
    applied = runner.invoke(
        cli, ["calibrate", "--model", "order_fraud", "--apply", "--author", "ana"], env=trained
    )
    assert applied.exit_code == 0, applied.output
    assert "policy: active version 1 → 2" in applied.output
    assert "at the order checkpoint" in applied.output
    version, policy = ops_runtime.policy.active()
    assert version == 2
    calibrated = {m["market"]: m["thresholds"] for m in data["markets"]}
    assert policy.calibrated == {"payment_method": cod, "order": calibrated}
    assert load_policy(ops_runtime.policy.get().body) == policy
    for market, thresholds in calibrated.items():
        assert policy.thresholds(market, "order") == thresholds
        assert policy.thresholds(market, "login") == policy.thresholds(market)  # the bands
    shown = runner.invoke(cli, ["policy", "show"], env=trained)
    assert shown.exit_code == 0, shown.output
    rows = {
        (cells[0], cells[3]): cells
        for line in shown.output.splitlines()
        if len(cells := [c.strip() for c in line.split("│")[1:-1]]) == 8
    }
    for m in data["markets"]:
        assert rows[(m["market"], "order")][-1] == "calibrated"
        assert rows[(m["market"], "order")][5] == f"{m['thresholds']['review']:g}"
        assert rows[(m["market"], "(others)")][-1] == "bands"
    assert rows[("TH", "payment_method")][4:] == ["4.5", "18", "54", "calibrated"]
    assert rows[("(other)", "(all)")][-1] == "bands"
    audit = ops_runtime.audit.recent(10, "policy")
    assert [(e["action"], e["actor"]) for e in audit[:2]] == [
        ("policy.activate", "ana"),
        ("policy.push", "ana"),
    ]
    assert "at the order checkpoint with order_fraud v1" in audit[1]["after"]["note"]


BAD = [
    (["--model", "horoscope"], "--model"),
    (["--model", "coupon_abuse"], "--version"),  # never trained: no champion
    (["--model", "order_fraud", "--version", "v9"], "--version"),
    (["--model", "order_fraud", "--since", "yesterday"], "--since"),
    (["--model", "order_fraud", "--since", "2030-01-01T00:00:00Z"], "--since/--until"),
    (["--model", "order_fraud", "--until", "2020-01-01T00:00:00Z"], "--until"),
    (["--model", "order_fraud", "--chart", "curve.png"], "--chart"),
    (["--model", "order_fraud", "--out", "result.csv"], "--out"),
    (["--model", "order_fraud", "--apply"], "--author"),
]


def test_bad_input_names_the_option(trained: dict[str, str]) -> None:
    # one test for every case: each needs the trained model, which takes a while
    runner = CliRunner()
    for args, option in BAD:
        result = runner.invoke(cli, ["calibrate", *args], env=trained)
        assert result.exit_code == 2, (args, result.output)
        errors = [line for line in result.output.splitlines() if line.startswith("error:")]
        assert len(errors) == 1, (args, result.output)
        assert errors[0].startswith(f"error: {option}: "), (args, result.output)
