"""Lists over HTTP and the CLI: put with a TTL, read, remove, bad input naming the field, every
change audited, and the decision path seeing a change."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from riskops.cli.main import app as cli
from riskops.services.runtime import Runtime
from tests.factories import NOW, event
from tests.integration.testclient import TestClient

RULES = (Path(__file__).resolve().parents[2] / "examples" / "rules_order.yaml").read_bytes()


@pytest.fixture
def runtime(ops_runtime: Runtime) -> Runtime:
    return ops_runtime


@pytest.fixture
def client(ops_client: TestClient) -> TestClient:
    return ops_client


def test_put_read_and_remove_with_audit(client: TestClient, runtime: Runtime) -> None:
    put = client.put(
        "/v1/lists/blocked_devices/device/dev-9",
        json={"kind": "block", "reason": "chargebacks", "ttl": "30d"},
    )
    assert put.status_code == 200, put.text
    assert put.json()["expires_at"] == "2026-12-27T12:00:00Z"
    assert put.json()["source"] == "ops"
    listed = client.get("/v1/lists/blocked_devices").json()["entries"]
    assert [(e["entity_type"], e["entity_id"], e["kind"]) for e in listed] == [
        ("device", "dev-9", "block")
    ]
    assert client.delete("/v1/lists/blocked_devices/device/dev-9").status_code == 204
    assert client.delete("/v1/lists/blocked_devices/device/dev-9").status_code == 404
    assert client.get("/v1/lists/blocked_devices").json()["entries"] == []
    with runtime.store.begin() as uow:
        audit = uow.audit.recent(subject="list:blocked_devices")
    assert [(a.action, a.actor) for a in audit] == [("list.remove", "ops"), ("list.put", "ops")]
    assert audit[0].before is not None
    assert '"dev-9"' in audit[0].before


@pytest.mark.parametrize(
    ("path", "body", "fields"),
    [
        ("/v1/lists/Bad Name/device/x", {"kind": "block", "reason": "r"}, ["list"]),
        ("/v1/lists/l/planet/x", {"kind": "block", "reason": "r"}, ["entity_type"]),
        ("/v1/lists/l/device/x", {"kind": "maybe", "reason": ""}, ["kind", "reason"]),
        ("/v1/lists/l/device/x", {"kind": "block", "reason": "r", "ttl": "soon"}, ["ttl"]),
    ],
)
def test_bad_entries_name_the_fields(
    client: TestClient, path: str, body: dict[str, Any], fields: list[str]
) -> None:
    response = client.put(path, json=body)
    assert response.status_code == 422, response.text
    assert [p["field"] for p in response.json()["error"]["problems"]] == fields


def test_a_decision_sees_a_list_change(client: TestClient) -> None:
    version = client.post("/v1/rulesets/order", content=RULES).json()["version"]
    client.post(f"/v1/rulesets/order/{version}/activate")
    order = event("order.placed", at=NOW - timedelta(minutes=1), device="dev-7")
    assert client.post("/v1/decisions/order", json=order).json()["outcome"] == "allow"
    client.put("/v1/lists/blocked_devices/device/dev-7", json={"kind": "block", "reason": "r"})
    again = event("order.placed", at=NOW - timedelta(seconds=30), device="dev-7")
    assert client.post("/v1/decisions/order", json=again).json()["outcome"] == "deny"


def test_cli_add_show_remove(tmp_path: Path) -> None:
    env = {"COLUMNS": "200", "RISKOPS_DATA_DIR": str(tmp_path / "d"), "RISKOPS_SECRET_KEY": "t"}
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(cli, ["lists", *args], env=env)

    added = run("add", "vip", "user", "u-1", "-k", "allow", "-r", "top buyer", "-a", "ana")
    assert added.exit_code == 0, added.output
    shown = run("show", "vip")
    assert "u-1" in shown.output
    assert "top buyer" in shown.output
    bad = run("add", "vip", "user", "u-2", "-k", "maybe", "-r", "x", "-a", "ana")
    assert bad.exit_code == 2
    assert "kind" in bad.output
    assert run("remove", "vip", "user", "u-1", "-a", "ana").exit_code == 0
    assert run("remove", "vip", "user", "u-1", "-a", "ana").exit_code == 2


def test_the_audit_log_over_http_and_the_cli(client: TestClient, runtime: Runtime) -> None:
    client.put("/v1/lists/vip/user/u-1", json={"kind": "allow", "reason": "top buyer"})
    client.post("/v1/rulesets/order", content=RULES)
    entries = client.get("/v1/audit").json()["entries"]
    assert [(e["action"], e["subject"], e["actor"]) for e in entries] == [
        ("ruleset.push", "ruleset:order", "ops"),
        ("list.put", "list:vip", "ops"),
    ]
    assert entries[1]["after"]["reason"] == "top buyer"
    assert entries[1]["at"] == "2026-11-27T12:00:00Z"
    only = client.get("/v1/audit", params={"subject": "list:vip"}).json()["entries"]
    assert [e["action"] for e in only] == ["list.put"]
    env = {
        "COLUMNS": "250",
        "RISKOPS_DATA_DIR": str(runtime.settings.data_dir),
        "RISKOPS_SECRET_KEY": "test-secret",
    }
    shown = CliRunner().invoke(cli, ["audit", "--subject", "ruleset:order"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "ruleset.push" in shown.output
    assert "list.put" not in shown.output
