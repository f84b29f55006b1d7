"""`riskops lists add | remove | show`: block / allow / watch lists (audited)."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from riskops.cli.common import fail_on_error, settings_from

app = typer.Typer(help="Block / allow / watch lists (every change audited).", no_args_is_help=True)
console = Console()
_DB = typer.Option(None, "--database-url", help="Overrides RISKOPS_DATABASE_URL.")


def _lists(database_url: str | None):  # type: ignore[no-untyped-def]
    from riskops.services.admin import lists_service

    return lists_service(settings_from(database_url=database_url))


@app.command("add")
def add(
    list_name: str = typer.Argument(..., help="e.g. blocked_devices"),
    entity_type: str = typer.Argument(..., help="user, device, ip, address, ..."),
    entity_id: str = typer.Argument(...),
    kind: str = typer.Option(..., "--kind", "-k", help="block | allow | watch"),
    reason: str = typer.Option(..., "--reason", "-r"),
    author: str = typer.Option(..., "--author", "-a", help="Who makes the change (audited)."),
    source: str = typer.Option("cli", "--source"),
    ttl: str | None = typer.Option(None, "--ttl", help="e.g. 30d; default: no expiry"),
    database_url: str | None = _DB,
) -> None:
    """Put an entity on a list (replacing an existing entry)."""
    from riskops.core.state.windows import parse_window
    from riskops.errors import Problem, ValidationFailed
    from riskops.services.lists import list_entry_dict

    with fail_on_error():
        try:
            ttl_s = parse_window(ttl) if ttl else None
        except ValueError as exc:
            raise ValidationFailed("invalid ttl", [Problem("ttl", str(exc))]) from None
        entry = _lists(database_url).put(
            list_name,
            entity_type,
            entity_id,
            kind=kind,
            reason=reason,
            source=source,
            actor=author,
            ttl_s=ttl_s,
        )
    expires = f", expires {list_entry_dict(entry)['expires_at']}" if entry.expires_at_us else ""
    console.print(f"{entity_type} {entity_id} is on {list_name} ({kind}){expires}")


@app.command("remove")
def remove(
    list_name: str = typer.Argument(...),
    entity_type: str = typer.Argument(...),
    entity_id: str = typer.Argument(...),
    author: str = typer.Option(..., "--author", "-a", help="Who makes the change (audited)."),
    database_url: str | None = _DB,
) -> None:
    """Take an entity off a list."""
    with fail_on_error():
        _lists(database_url).remove(list_name, entity_type, entity_id, actor=author)
    console.print(f"{entity_type} {entity_id} is off {list_name}")


@app.command("show")
def show(
    list_name: str = typer.Argument(...),
    include_expired: bool = typer.Option(False, "--include-expired"),
    database_url: str | None = _DB,
) -> None:
    """The entries of a list."""
    from riskops.services.lists import list_entry_dict

    with fail_on_error():
        entries = _lists(database_url).entries(list_name, include_expired=include_expired)
    table = Table(title=f"list {list_name} ({len(entries)} entries)")
    for column in ("entity_type", "entity_id", "kind", "reason", "source", "expires_at"):
        table.add_column(column)
    for e in entries:
        d = list_entry_dict(e)
        table.add_row(
            *(
                str(d[c] or "")
                for c in ("entity_type", "entity_id", "kind", "reason", "source", "expires_at")
            )
        )
    console.print(table)
