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


def test_push_activate_pull_and_roll_back(tmp_path: Path) -> None:
    env = {
        "COLUMNS": "200",
        "RISKOPS_DATA_DIR": str(tmp_path / "data"),
        "RISKOPS_SECRET_KEY": "t",
    }
    runner = CliRunner()
    example = str(ROOT / "examples" / "rules_order.yaml")

    def run(*args: str) -> str:
        result = runner.invoke(app, ["rules", *args], env=env)
        assert result.exit_code == 0, result.output
        return result.output

    assert "version 1 stored (4 rules)" in run("push", example, "-a", "ana", "-m", "starter")
    changed = tmp_path / "v2.yaml"
    changed.write_text(
        (ROOT / "examples" / "rules_order.yaml")
        .read_text(encoding="utf-8")
        .replace(">= 3", ">= 5"),
        encoding="utf-8",
    )
    assert "active version None → 2" in run("push", str(changed), "-a", "bo", "--activate")
    assert ">= 5" in run("pull", "order")
    assert "active version 2 → 1" in run("activate", "order", "1", "-a", "ana")
    assert ">= 3" in run("pull", "order")
    table = run("versions", "order")
    assert "starter" in table
    rows = [line for line in table.splitlines() if line.startswith("│")]
    assert [r.split("│")[2].strip() for r in rows] == ["✓", ""]  # version 1 is active
    missing = runner.invoke(app, ["rules", "activate", "order", "9", "-a", "x"], env=env)
    assert missing.exit_code == 2
    assert "no version 9" in missing.output
