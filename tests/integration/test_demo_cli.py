"""`riskops demo` runs the whole product for a while - history, starter rules, live decisions
over HTTP - stops on its own (or on Ctrl-C), and runs again from a fresh start."""

from __future__ import annotations

import re
import socket
from pathlib import Path

from typer.testing import CliRunner

from riskops.cli.main import app as cli


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_demo_runs_twice(tmp_path: Path) -> None:
    for _ in range(2):
        args = [
            "demo",
            "--data-dir",
            str(tmp_path / "demo"),
            "--port",
            str(_free_port()),
            "--users",
            "800",
            "--history-days",
            "2",
            "--rate",
            "200",
            "--duration",
            "6",
            "--plain",
        ]
        result = CliRunner().invoke(cli, args, env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        assert "/docs" in result.output
        assert "attacks caught" in result.output
        assert "top firing rules" in result.output
        assert " 0 errors" in result.output
        decided = re.search(r"([\d,]+) decisions \(", result.output)
        assert decided is not None
        assert int(decided.group(1).replace(",", "")) > 10


def test_demo_never_deletes_a_folder_it_did_not_make(tmp_path: Path) -> None:
    precious = tmp_path / "mine"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me", encoding="utf-8")
    result = CliRunner().invoke(cli, ["demo", "--data-dir", str(precious), "--duration", "1"])
    assert result.exit_code == 2
    assert (precious / "notes.txt").read_text(encoding="utf-8") == "keep me"
