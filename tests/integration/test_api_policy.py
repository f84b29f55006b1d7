"""The policy over HTTP and the CLI: push, activate, thresholds per market, and the decision
path applying it (phase thresholds, the cash-on-delivery switch, versions in the answer)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from riskops.cli.main import app as cli
from riskops.services.runtime import Runtime
from tests.factories import NOW, event
from tests.integration.testclient import TestClient

ROOT = Path(__file__).resolve().parents[2]
POLICY = (ROOT / "examples" / "policy.yaml").read_bytes()
RULES = """checkpoint: payment_method
rules:
  - id: risky_cod
    when: event.payment_method == "cod" && velocity.user.orders_1h >= 1
    outcome: review
    score: 30
    actions: [hold_for_review]
    reason: {en: Repeat COD order within an hour, zh: 一小时内重复货到付款}
""".encode()


def _activate(client: TestClient) -> None:
    v = client.post("/v1/rulesets/payment_method", content=RULES).json()["version"]
    client.post(f"/v1/rulesets/payment_method/{v}/activate")
    p = client.post("/v1/policy", content=POLICY)
    assert p.status_code == 201, p.text
    assert client.post(f"/v1/policy/{p.json()['version']}/activate").status_code == 200


def _order(minutes_ago: int, market: str, method: str = "cod") -> dict[str, Any]:
    body = event("order.placed", at=NOW - timedelta(minutes=minutes_ago), market=market)
    body["payload"]["payment_method"] = method
    return body


def test_cod_switch_and_policy_versions(ops_client: TestClient) -> None:
    _activate(ops_client)
    ops_client.post("/v1/decisions/payment_method", json=_order(30, "TH"))
    risky = ops_client.post("/v1/decisions/payment_method", json=_order(5, "TH")).json()
    assert risky["outcome"] == "allow"
    assert risky["actions"] == ["require_online_payment"]
    assert risky["policy"]["rules_outcome"] == "review"
    assert risky["policy"]["phase"] == "growth"
    assert risky["versions"] == {"ruleset": 1, "model": None, "policy": 1}
    card = ops_client.post(
        "/v1/decisions/payment_method", json=_order(4, "TH", method="card")
    ).json()
    assert (card["outcome"], card["actions"]) == ("allow", [])  # the rule needs COD


def test_policy_read_shows_thresholds_per_market(ops_client: TestClient) -> None:
    assert ops_client.get("/v1/policy").json()["version"] is None  # defaults
    _activate(ops_client)
    body = ops_client.get("/v1/policy").json()
    assert body["thresholds"]["SG"] == {"challenge": 3.0, "review": 12.0, "deny": 36.0}
    assert body["thresholds"]["default"] == {"challenge": 5.0, "review": 20.0, "deny": 60.0}
    bad = ops_client.post("/v1/policy", content=b"tolerance: {growth: 3}\n")
    assert bad.status_code == 422
    assert bad.json()["error"]["problems"][0]["field"] == "tolerance.growth"


def test_policy_cli(tmp_path: Path, ops_runtime: Runtime) -> None:
    env = {
        "COLUMNS": "200",
        "RISKOPS_DATA_DIR": str(ops_runtime.settings.data_dir),
        "RISKOPS_SECRET_KEY": "test-secret",
    }
    runner = CliRunner()
    example = str(ROOT / "examples" / "policy.yaml")
    pushed = runner.invoke(cli, ["policy", "push", example, "-a", "ana", "--activate"], env=env)
    assert pushed.exit_code == 0, pushed.output
    assert "active version None → 1" in pushed.output
    shown = runner.invoke(cli, ["policy", "show"], env=env)
    assert shown.exit_code == 0, shown.output
    rows = {line.split("│")[1].strip(): line for line in shown.output.splitlines() if "│" in line}
    assert "launch" in rows["ID"]
    assert "84" in rows["ID"]
