"""`riskops simulate` writes events and labels with a summary, refuses bad options with exit
code 2, and what it writes loads with `riskops ingest` without a rejected row."""

from __future__ import annotations

from pathlib import Path

import orjson
from typer.testing import CliRunner

from riskops.cli.main import app as cli


def test_simulate_then_ingest(tmp_path: Path) -> None:
    env = {
        "COLUMNS": "200",
        "RISKOPS_DATA_DIR": str(tmp_path / "data"),
        "RISKOPS_SECRET_KEY": "test-secret",
    }
    out = tmp_path / "sim"
    args = [
        "simulate",
        "--out",
        str(out),
        "--days",
        "2",
        "--users",
        "1500",
        "--merchants",
        "50",
        "--seed",
        "3",
        "--generation",
        "2",
    ]
    result = CliRunner().invoke(cli, args, env=env)
    assert result.exit_code == 0, result.output
    assert "coupon_abuse" in result.output
    events = (out / "events.jsonl").read_bytes().splitlines()
    labels = [orjson.loads(x) for x in (out / "labels.jsonl").read_bytes().splitlines()]
    assert len(events) > 5000
    assert {x["generation"] for x in labels} == {2}
    loaded = CliRunner().invoke(cli, ["ingest", str(out / "events.jsonl")], env=env)
    assert loaded.exit_code == 0, loaded.output
    assert not (out / "events.jsonl.rejected.jsonl").exists()


def test_bad_options_exit_with_2(tmp_path: Path) -> None:
    for bad in (
        ["--days", "0"],
        ["--markets", "ID,XX"],
        ["--format", "csv"],
        ["--start", "yesterday"],
    ):
        result = CliRunner().invoke(cli, ["simulate", "--out", str(tmp_path), *bad])
        assert result.exit_code == 2, (bad, result.output)
        assert "riskops simulate:" in result.output
