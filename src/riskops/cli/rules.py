"""`riskops rules ...`: rulesets as YAML files (that can live in git)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from riskops.cli.common import EXIT_INPUT, read_text_file

app = typer.Typer(
    help="Rulesets: validate, push, pull, activate (YAML files that can live in git).",
    no_args_is_help=True,
)
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


def _rules(database_url: str | None):  # type: ignore[no-untyped-def]
    from riskops.cli.common import settings_from
    from riskops.services.admin import rules_service

    return rules_service(settings_from(database_url=database_url))


_DB = typer.Option(None, "--database-url", help="Overrides RISKOPS_DATABASE_URL.")


@app.command("push")
def push(
    file: Path = typer.Argument(..., help="Ruleset YAML file."),
    author: str = typer.Option(..., "--author", "-a", help="Who makes the change (audited)."),
    note: str = typer.Option("", "--note", "-m", help="What changed and why."),
    activate: bool = typer.Option(False, "--activate", help="Make the new version active."),
    database_url: str | None = _DB,
) -> None:
    """Validate FILE and store it as the checkpoint's next version (immutable)."""
    from riskops.cli.common import fail_on_error

    text = read_text_file(file)
    with fail_on_error():
        service = _rules(database_url)
        pushed = service.push(text, author, note)
        console.print(
            f"{pushed.checkpoint}: version [bold]{pushed.version}[/] stored ({pushed.rules} rules)"
        )
        if activate:
            before = service.activate(pushed.checkpoint, pushed.version, author)
            console.print(f"{pushed.checkpoint}: active version {before} → {pushed.version}")


@app.command("activate")
def activate_version(
    checkpoint: str = typer.Argument(...),
    version: int = typer.Argument(..., help="An older version rolls back."),
    author: str = typer.Option(..., "--author", "-a", help="Who makes the change (audited)."),
    database_url: str | None = _DB,
) -> None:
    """Make VERSION the checkpoint's active ruleset; running servers pick it up without a
    restart."""
    from riskops.cli.common import fail_on_error

    with fail_on_error():
        before = _rules(database_url).activate(checkpoint, version, author)
    console.print(f"{checkpoint}: active version {before} → {version}")


@app.command("pull")
def pull(
    checkpoint: str = typer.Argument(...),
    version: int | None = typer.Option(None, "--version", "-v", help="Default: the active one."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write to a file."),
    database_url: str | None = _DB,
) -> None:
    """Print (or write) a ruleset version as YAML."""
    from riskops.cli.common import fail_on_error

    with fail_on_error():
        found = _rules(database_url).get(checkpoint, version)
    if out is None:
        typer.echo(found.body, nl=False)
    else:
        out.write_text(found.body, encoding="utf-8")
        console.print(f"wrote {checkpoint} version {found.version} to {out}")


@app.command("versions")
def versions(checkpoint: str = typer.Argument(...), database_url: str | None = _DB) -> None:
    """The checkpoint's ruleset versions and which one is active."""
    from datetime import UTC, datetime

    from riskops.cli.common import fail_on_error

    with fail_on_error():
        found, active = _rules(database_url).versions(checkpoint)
    table = Table(title=f"{checkpoint} rulesets")
    for column in ("version", "active", "author", "created (UTC)", "note"):
        table.add_column(column)
    for v in found:
        when = datetime.fromtimestamp(v.created_at_us / 1e6, UTC).strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(str(v.version), "✓" if v.version == active else "", v.author, when, v.note)
    console.print(table)
