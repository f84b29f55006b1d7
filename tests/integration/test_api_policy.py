"""The policy over HTTP and the CLI: push, activate, thresholds per market (and per checkpoint
where calibrated), and the decision path applying it (phase thresholds, calibrated thresholds of
the decision's checkpoint only, the cash-on-delivery switch, versions in the answer)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from riskops.cli.main import app as cli
from riskops.errors import ValidationFailed
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


def test_policy_read_shows_thresholds_per_market(
    ops_client: TestClient, ops_runtime: Runtime
) -> None:
    assert ops_client.get("/v1/policy").json()["version"] is None  # defaults
    _activate(ops_client)
    body = ops_client.get("/v1/policy").json()
    assert body["thresholds"]["SG"] == {"challenge": 3.0, "review": 12.0, "deny": 36.0}
    assert body["thresholds"]["default"] == {"challenge": 5.0, "review": 20.0, "deny": 60.0}
    assert body["calibrated"] == {}
    ops_runtime.policy.calibrate("payment_method", {"TH": TH, "VN": VN}, "ana", "test")
    body = ops_client.get("/v1/policy").json()
    assert body["version"] == 2
    # VN is not under markets: listed for its calibration, with the default phase's bands
    assert body["thresholds"]["VN"] == body["thresholds"]["default"]
    assert body["thresholds"]["TH"] == {"challenge": 5.0, "review": 20.0, "deny": 60.0}
    assert body["calibrated"] == {"payment_method": {"TH": TH, "VN": VN}}
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
    rows = _rows(shown.output)
    assert rows[("ID", "(all)")] == ["launch", "7.0%", "7", "28", "84", "bands"]
    assert rows[("(other)", "(all)")] == ["growth", "5.0%", "5", "20", "60", "bands"]
    ops_runtime.policy.calibrate("payment_method", {"TH": TH, "VN": VN}, "ana", "test")
    shown = runner.invoke(cli, ["policy", "show"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "policy version 2" in shown.output
    rows = _rows(shown.output)
    assert rows[("TH", "(others)")] == ["growth", "5.0%", "5", "20", "60", "bands"]
    assert rows[("TH", "payment_method")] == ["growth", "5.0%", "4.5", "18", "54", "calibrated"]
    assert rows[("VN", "(others)")] == ["growth", "5.0%", "5", "20", "60", "bands"]
    assert rows[("VN", "payment_method")] == ["growth", "5.0%", "1", "4", "12", "calibrated"]
    assert rows[("ID", "(all)")] == ["launch", "7.0%", "7", "28", "84", "bands"]
    assert len(rows) == len(set(POLICY_MARKETS) | {"VN", "(other)"}) + 2


POLICY_MARKETS = ("ID", "TH", "MY", "SG", "DE")


def _rows(output: str) -> dict[tuple[str, str], list[str]]:
    """The table's rows by (market, checkpoint): the other cells."""
    rows = {}
    for line in output.splitlines():
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if len(cells) == 8 and cells[0] != "market":
            rows[(cells[0], cells[3])] = cells[1:3] + cells[4:]
    return rows


TH = {"challenge": 4.5, "review": 18.0, "deny": 54.0}
VN = {"challenge": 1.0, "review": 4.0, "deny": 12.0}
ID = {"challenge": 10.0, "review": 40.0, "deny": 90.0}
SCORED = """checkpoint: {checkpoint}
rules:
  - id: flat_score
    when: event.amount > 0
    outcome: challenge
    score: 19
    actions: [require_otp]
    reason: {{en: Any paid order, zh: 任何付费订单}}
"""


def _decide(client: TestClient, checkpoint: str, market: str) -> dict[str, Any]:
    body = _order(1, market, method="card")
    response = client.post(f"/v1/decisions/{checkpoint}", json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_calibrating_one_checkpoint_leaves_the_others_alone(
    ops_client: TestClient, ops_runtime: Runtime
) -> None:
    for checkpoint in ("order", "payment_method"):
        text = SCORED.format(checkpoint=checkpoint).encode()
        v = ops_client.post(f"/v1/rulesets/{checkpoint}", content=text).json()["version"]
        ops_client.post(f"/v1/rulesets/{checkpoint}/{v}/activate")
    p = ops_client.post("/v1/policy", content=POLICY).json()["version"]
    ops_client.post(f"/v1/policy/{p}/activate")
    before = {cp: _decide(ops_client, cp, "TH") for cp in ("order", "payment_method")}
    growth = {"challenge": 5.0, "review": 20.0, "deny": 60.0}
    for answer in before.values():
        assert (answer["outcome"], answer["score"]) == ("challenge", 19)
        assert answer["policy"]["thresholds"] == growth

    service = ops_runtime.policy
    assert service.calibrate("payment_method", {"TH": TH}, "ana", "cod model") == (p, p + 1)
    order = _decide(ops_client, "order", "TH")
    assert (order["outcome"], order["policy"]["thresholds"]) == ("challenge", growth)
    payment = _decide(ops_client, "payment_method", "TH")
    assert (payment["outcome"], payment["policy"]["thresholds"]) == ("review", TH)
    assert payment["versions"]["policy"] == p + 1

    # a second calibration, of another checkpoint, keeps the first one
    service.calibrate("order", {"ID": ID}, "ana", "order model")
    _, policy = service.active()
    assert policy.calibrated == {"payment_method": {"TH": TH}, "order": {"ID": ID}}
    assert _decide(ops_client, "payment_method", "TH")["policy"]["thresholds"] == TH
    assert _decide(ops_client, "order", "TH")["policy"]["thresholds"] == growth
    # recalibrating a checkpoint replaces its calibrated markets only
    service.calibrate("payment_method", {"VN": VN}, "ana", "cod model again")
    _, policy = service.active()
    assert policy.calibrated == {
        "payment_method": {"TH": TH, "VN": VN},
        "order": {"ID": ID},
    }
    with pytest.raises(ValidationFailed) as err:
        service.calibrate("checkout", {"TH": TH}, "ana", "typo")
    assert [(e.field, e.reason.split(" (")[0]) for e in err.value.problems] == [
        ("checkpoint", "not a checkpoint")
    ]
    assert service.active()[1] == policy  # nothing written
