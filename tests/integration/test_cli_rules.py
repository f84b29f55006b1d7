"""`riskops rules validate`: a table for a valid ruleset; every problem with its place and exit
code 2 for an invalid one."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from riskops.cli.main import app

ROOT = Path(__file__).resolve().parents[2]


def test_a_valid_ruleset_prints_its_rules_in_run_order() -> None:
    result = CliRunner().invoke(
        app,
        ["rules", "validate", str(ROOT / "examples" / "rules_order.yaml")],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert "checkpoint order" in result.output
    rows = [line for line in result.output.splitlines() if "│" in line]
    assert [r.split("│")[1].strip() for r in rows] == [
        "blocked_device",
        "cod_burst",
        "shared_device",
        "big_first_order",
    ]


def test_an_invalid_ruleset_names_every_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "checkpoint: order\nrules:\n"
        "  - id: r1\n    when: event.amout > 1\n    outcome: deny\n"
        "  - id: r2\n    when: 'true'\n    outcome: maybe\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        app, ["rules", "validate", str(bad), str(tmp_path / "missing.yaml")], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 2
    assert "rules[0] (r1).when (line 3): 1:1: unknown field 'event.amout'" in result.output
    assert "rules[1] (r2).outcome (line 6): required: one of allow" in result.output
    assert "missing.yaml: cannot read" in result.output
