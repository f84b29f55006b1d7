"""Backtests replay the log with features as they were at each event, join the labels that came
later, and report per rule and overall beside the active ruleset - service and CLI."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from riskops.cli.main import app as cli
from riskops.core.events.envelope import to_us
from riskops.services.runtime import Runtime
from tests.factories import NOW, PAYLOADS, event

RULES = (Path(__file__).resolve().parents[2] / "examples" / "rules_order.yaml").read_text(
    encoding="utf-8"
)
CANDIDATE = RULES.replace("velocity.user.orders_1h >= 3", "velocity.user.orders_1h >= 1")


def _order(user: str, order_id: str, minutes_ago: int, now: datetime = NOW) -> dict[str, Any]:
    payload = copy.deepcopy(PAYLOADS["order.placed"])
    payload["order_id"] = order_id
    return event(
        "order.placed", at=now - timedelta(minutes=minutes_ago), user=user, payload=payload
    )


def _history(rt: Runtime) -> None:
    orders = [_order("u-a", f"o-a{i}", 50 - 10 * i) for i in range(1, 5)]
    orders += [_order("u-b", "o-b1", 45), _order("u-b", "o-b2", 15)]
    later = [
        event(
            "chargeback.received",
            at=NOW - timedelta(minutes=2),
            payload={"order_id": "o-a4", "amount": 100.0, "currency": "IDR"},
        ),
        event("order.cod_refused", at=NOW - timedelta(minutes=1), payload={"order_id": "o-b2"}),
    ]
    results = rt.ingest.ingest(orders + later)
    assert [r.status for r in results] == ["accepted"] * 8


def test_backtest_report_against_the_active_ruleset(ops_runtime: Runtime) -> None:
    rt = ops_runtime
    _history(rt)
    pushed = rt.rules.push(RULES, "ana")
    rt.rules.activate("order", pushed.version, "ana")
    report = rt.backtests.run(CANDIDATE)
    assert (report["events"], report["bad_events"]) == (6, 2)
    assert report["labels"] == {"cod_refusal": 1, "fraud": 1}
    burst = next(r for r in report["rules"] if r["rule"] == "cod_burst")
    # hits: the 2nd-4th orders of u-a and the 2nd of u-b (one or more orders in the hour before)
    assert burst == {
        "rule": "cod_burst",
        "hits": 4,
        "precision": 0.5,
        "recall": {"cod_refusal": 1.0, "fraud": 1.0},
        "false_positive_rate": 0.5,
        "gmv_denied": 0.0,
        "errors": 0,
    }
    assert report["candidate"]["outcomes"] == {"allow": 2, "review": 4}
    assert report["baseline"]["outcomes"] == {"allow": 5, "review": 1}  # only o-a4: 3 before
    assert report["baseline"]["caught"] == {"cod_refusal": 0.0, "fraud": 1.0}
    assert report["changes"] == {"allow -> review": 3}
    assert report["baseline_version"] == pushed.version
    later = rt.backtests.run(CANDIDATE, since_us=to_us(NOW - timedelta(minutes=25)))
    assert later["events"] == 3  # o-a3, o-a4, o-b2: their features still saw earlier orders
    assert later["candidate"]["outcomes"] == {"review": 3}


def test_backtest_cli_prints_tables_and_writes_json(tmp_path: Path, ops_runtime: Runtime) -> None:
    _history(ops_runtime)
    candidate = tmp_path / "candidate.yaml"
    candidate.write_text(CANDIDATE, encoding="utf-8")
    out = tmp_path / "report.json"
    env = {
        "COLUMNS": "250",
        "RISKOPS_DATA_DIR": str(ops_runtime.settings.data_dir),
        "RISKOPS_SECRET_KEY": "test-secret",
    }
    result = CliRunner().invoke(cli, ["backtest", str(candidate), "--json", str(out)], env=env)
    assert result.exit_code == 0, result.output
    assert "cod_burst" in result.output
    assert "6 events, 2 labelled bad" in result.output
    assert json.loads(out.read_text(encoding="utf-8"))["candidate"]["outcomes"]["review"] == 4
    bad = CliRunner().invoke(cli, ["backtest", str(candidate), "--from", "yesterday"], env=env)
    assert bad.exit_code == 2
    assert "--from" in bad.output


def test_backtest_over_http(ops_client: Any, ops_runtime: Runtime) -> None:
    _history(ops_runtime)
    response = ops_client.post(
        "/v1/backtests?from=2026-11-27T11:35:00Z", content=CANDIDATE.encode()
    )
    assert response.status_code == 200, response.text
    assert response.json()["events"] == 3
    bad = ops_client.post("/v1/backtests?to=tomorrow", content=CANDIDATE.encode())
    assert bad.status_code == 422
    assert bad.json()["error"]["problems"][0]["field"] == "to"


def test_backtest_cli_replays_a_file_instead_of_the_log(
    tmp_path: Path, ops_runtime: Runtime
) -> None:
    now = datetime.now(UTC)  # the CLI validates times against the real clock
    orders = [_order("u-a", f"o-a{i}", 50 - 10 * i, now) for i in range(1, 5)]
    refused = event(
        "order.cod_refused", at=now - timedelta(minutes=1), payload={"order_id": "o-a4"}
    )
    lines = [json.dumps(e) for e in [*orders, refused]] + ['{"type": "order.placed"}']
    events_file = tmp_path / "history.jsonl"
    events_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    candidate = tmp_path / "candidate.yaml"
    candidate.write_text(CANDIDATE, encoding="utf-8")
    env = {
        "COLUMNS": "250",
        "RISKOPS_DATA_DIR": str(ops_runtime.settings.data_dir),
        "RISKOPS_SECRET_KEY": "test-secret",
    }
    args = ["backtest", str(candidate), "--events", str(events_file), "--no-baseline"]
    result = CliRunner().invoke(cli, args, env=env)
    assert result.exit_code == 0, result.output
    assert "5 events loaded, 1 rejected" in result.output
    assert "4 events, 1 labelled bad" in result.output
    assert (tmp_path / "history.jsonl.rejected.jsonl").exists()
    with ops_runtime.store.begin() as uow:
        assert uow.events.count() == 0  # the real log is untouched
