"""`riskops train` on a simulated log with its labels, then the registry from the CLI."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from riskops.cli.main import app as cli
from tests.integration.testclient import TestClient


def test_train_register_list_and_promote(market: TestClient, tmp_path: Path) -> None:
    env = {"COLUMNS": "200", "RISKOPS_DATA_DIR": str(tmp_path / "data"),
           "RISKOPS_SECRET_KEY": "test-secret"}  # fmt: skip
    runner = CliRunner()
    trained = runner.invoke(cli, ["train", "--model", "order_fraud", "--promote"], env=env)
    assert trained.exit_code == 0, trained.output
    assert "registered order_fraud v1 as champion" in trained.output
    assert "pr_auc" in trained.output
    again = runner.invoke(cli, ["train", "--model", "order_fraud"], env=env)
    assert again.exit_code == 0, again.output
    listed = runner.invoke(cli, ["models", "list"], env=env)
    assert listed.exit_code == 0, listed.output
    assert "champion" in listed.output
    assert "challenger" in listed.output
    promoted = runner.invoke(cli, ["models", "promote", "order_fraud", "v2"], env=env)
    assert promoted.exit_code == 0, promoted.output
    missing = runner.invoke(cli, ["models", "promote", "order_fraud", "v9"], env=env)
    assert missing.exit_code == 2
    assert "version" in missing.output
    bad = runner.invoke(cli, ["train", "--model", "horoscope"], env=env)
    assert bad.exit_code == 2
    assert "model" in bad.output
