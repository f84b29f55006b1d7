"""`riskops audit`: recent changes to rulesets and lists."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from riskops.cli.common import fail_on_error, settings_from

console = Console()


def audit_command(
    subject: str | None = typer.Option(None, "--subject", "-s", help="e.g. ruleset:order"),
    limit: int = typer.Option(50, "--limit", "-n", min=1, max=1000),
    database_url: str | None = typer.Option(None, help="Overrides RISKOPS_DATABASE_URL."),
) -> None:
    """Recent audit entries, newest first: who changed what, when, before and after."""
    from riskops.services.admin import audit_service

    with fail_on_error():
        entries = audit_service(settings_from(database_url=database_url)).recent(limit, subject)
    table = Table(title=f"audit log ({len(entries)} entries)")
    for column in ("at (UTC)", "actor", "action", "subject", "before", "after"):
        table.add_column(column)
    for e in entries:
        table.add_row(
            e["at"],
            e["actor"],
            e["action"],
            e["subject"],
            json.dumps(e["before"], ensure_ascii=False) if e["before"] else "",
            json.dumps(e["after"], ensure_ascii=False) if e["after"] else "",
        )
    console.print(table)
