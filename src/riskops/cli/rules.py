"""`riskops rules ...`: rulesets as YAML files (that can live in git)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from riskops.cli.common import EXIT_INPUT

app = typer.Typer(help="Rulesets: validate YAML rule files.", no_args_is_help=True)
console = Console()
errors = Console(stderr=True)


@app.command("validate")
def validate(
    files: list[Path] = typer.Argument(..., help="Ruleset YAML files.", exists=False),
) -> None:
    """Parse and type-check every rule of each file against its checkpoint; print the rules,
    or every problem with its place (exit code 2 when any file is invalid)."""
    from riskops.core.decisions.ruleset import InvalidRuleset, load_ruleset

    failed = False
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            errors.print(f"[red]{path}: cannot read: {exc}[/]")
            failed = True
            continue
        try:
            ruleset = load_ruleset(text)
        except InvalidRuleset as exc:
            failed = True
            errors.print(f"[red]{path}: {len(exc.problems)} problem(s)[/]")
            for problem in exc.problems:
                errors.print(f"  {path}: {problem}", markup=False, highlight=False)
            continue
        table = Table(title=f"{path} · checkpoint {ruleset.checkpoint} · valid")
        for column in ("rule", "state", "priority", "outcome", "score", "actions", "reads"):
            table.add_column(column, justify="right" if column in ("priority", "score") else "left")
        for compiled in ruleset.rules:
            rule = compiled.rule
            table.add_row(
                rule.id,
                rule.state,
                str(rule.priority),
                rule.outcome,
                str(rule.score),
                ", ".join(rule.actions) or "-",
                ", ".join(sorted(compiled.fields)),
            )
        console.print(table)
    if failed:
        raise typer.Exit(EXIT_INPUT)
