"""The `riskops` command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from riskops.cli import analytics as analytics_cmd
from riskops.cli import analytics_flow, analytics_ops  # noqa: F401  (add their commands)
from riskops.cli import credit as credit_cmd
from riskops.cli import keys as keys_cmd
from riskops.cli import lists as lists_cmd
from riskops.cli import models as models_cmd
from riskops.cli import policy as policy_cmd
from riskops.cli import rules as rules_cmd
from riskops.cli.audit import audit_command
from riskops.cli.backtest import backtest_command
from riskops.cli.calibrate import calibrate_command
from riskops.cli.common import fail_on_error, settings_from
from riskops.cli.demo import demo_command
from riskops.cli.evaluate import evaluate_command
from riskops.cli.ingest import ingest_command
from riskops.cli.serve import serve_command
from riskops.cli.simulate import simulate_command

app = typer.Typer(
    name="riskops",
    help="Risk control and operations analytics for e-commerce, on one event stream.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(keys_cmd.app, name="keys")
app.add_typer(rules_cmd.app, name="rules")
app.add_typer(lists_cmd.app, name="lists")
app.add_typer(policy_cmd.app, name="policy")
app.add_typer(analytics_cmd.app, name="analytics")
app.add_typer(credit_cmd.app, name="credit")
app.add_typer(models_cmd.app, name="models")
app.command("train")(models_cmd.train_command)
app.command("calibrate")(calibrate_command)
app.command("serve")(serve_command)
app.command("ingest")(ingest_command)
app.command("backtest")(backtest_command)
app.command("simulate")(simulate_command)
app.command("evaluate")(evaluate_command)
app.command("demo")(demo_command)
app.command("audit")(audit_command)

console = Console()


@db_app.command("upgrade")
def db_upgrade(
    database_url: str | None = typer.Option(None, help="Overrides RISKOPS_DATABASE_URL."),
) -> None:
    """Apply every pending migration (SQLite or PostgreSQL)."""
    from riskops.services.admin import migrate

    settings = settings_from(database_url=database_url)
    with fail_on_error():
        before, after = migrate(settings)
    table = Table(title="database schema")
    table.add_column("database")
    table.add_column("before")
    table.add_column("now")
    table.add_row(_safe_url(settings.resolved_database_url()), before or "(empty)", after)
    console.print(table)


def _safe_url(url: str) -> str:
    if "@" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


@app.command("schema")
def schema(
    out: Path | None = typer.Option(None, "--out", "-o", help="Write to a file."),
    types: bool = typer.Option(False, "--types", help="List event types as a table instead."),
) -> None:
    """Print the JSON Schema of the event catalogue (or a table of its types)."""
    from riskops.core.events import CATALOGUE
    from riskops.core.events.schema import catalogue_schema

    if types:
        table = Table(title="event catalogue")
        table.add_column("type")
        table.add_column("version", justify="right")
        table.add_column("what it records")
        for name, et in sorted(CATALOGUE.items()):
            table.add_row(name, str(et.version), et.summary)
        console.print(table)
        return
    text = json.dumps(catalogue_schema(), indent=2, ensure_ascii=False)
    if out:
        out.write_text(text + "\n", encoding="utf-8")
        console.print(f"wrote {out}")
    else:
        sys.stdout.write(text + "\n")


if __name__ == "__main__":  # pragma: no cover
    app()
