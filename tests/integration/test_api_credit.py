"""User and merchant credit over HTTP and the CLI, on a simulated marketplace in the log."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from riskops.cli.main import app as cli
from tests.integration.testclient import TestClient


def test_user_and_merchant_credit_over_http(market: TestClient) -> None:
    merchants = market.get("/v1/credit/merchants")
    assert merchants.status_code == 200, merchants.text
    rows = merchants.json()["merchants"]
    assert rows
    assert all(0 <= m["score"] <= 100 for m in rows)
    assert {m["tier"] for m in rows} <= {"A", "B", "C", "D", "suspended"}
    one = market.get(f"/v1/credit/merchants/{rows[0]['merchant_id']}")
    assert one.json()["merchant_id"] == rows[0]["merchant_id"]
    assert market.get("/v1/credit/merchants/nobody").status_code == 404
    user = market.get("/v1/credit/users/u0000001")
    assert user.status_code == 200, user.text
    body = user.json()
    assert 300 <= body["score"] <= 850
    assert body["tier"] in ("restricted", "new", "bronze", "silver", "gold", "platinum")
    assert {"express_refund", "password_free_limit_usd"} <= set(body["privileges"])
    assert all(r["en"] and r["zh"] for r in body["reasons"])
    assert market.get("/v1/credit/users/nobody").status_code == 404
    bad = market.get("/v1/credit/users/u0000001", params={"as_of": "soon"})
    assert bad.status_code == 422
    assert bad.json()["error"]["problems"][0]["field"] == "as_of"


def test_credit_cli(market: TestClient, tmp_path: Path) -> None:
    env = {
        "COLUMNS": "200",
        "RISKOPS_DATA_DIR": str(tmp_path / "data"),
        "RISKOPS_SECRET_KEY": "test-secret",
    }
    out = tmp_path / "users.csv"
    users = CliRunner().invoke(cli, ["credit", "users", "--out", str(out)], env=env)
    assert users.exit_code == 0, users.output
    assert "tiers:" in users.output
    assert out.read_text(encoding="utf-8").startswith('"user_id"')
    merchants = CliRunner().invoke(cli, ["credit", "merchants", "--top", "3"], env=env)
    assert merchants.exit_code == 0, merchants.output
    assert "exposure" in merchants.output
