"""`riskops keys create | list | revoke`."""

from __future__ import annotations

from datetime import UTC, datetime

import typer
from rich.console import Console
from rich.table import Table

from riskops.cli.common import fail_on_error, settings_from
from riskops.services.keys import SCOPES

app = typer.Typer(help="API keys (stored hashed; the token is shown once).", no_args_is_help=True)
console = Console()


def _keys(database_url: str | None):  # type: ignore[no-untyped-def]
    from riskops.services.admin import key_service

    return key_service(settings_from(database_url=database_url))


@app.command("create")
def create(
    name: str = typer.Option(..., "--name", "-n", help="Who or what uses the key."),
    scope: list[str] = typer.Option(
        ["ingest", "read"], "--scope", "-s", help=f"Repeat for several: {', '.join(SCOPES)}."
    ),
    database_url: str | None = typer.Option(None, help="Overrides RISKOPS_DATABASE_URL."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the token."),
) -> None:
    """Create a key and print its token (only this once)."""
    with fail_on_error():
        created = _keys(database_url).create(name, scope)
    if quiet:
        typer.echo(created.token)
        return
    console.print(
        f"key [bold]{created.key_id}[/] ({created.name}) scopes: {', '.join(created.scopes)}"
    )
    console.print("token (shown once, store it now):")
    typer.echo(created.token)


@app.command("list")
def list_keys(
    database_url: str | None = typer.Option(None, help="Overrides RISKOPS_DATABASE_URL."),
) -> None:
    """List keys (never their secrets)."""
    with fail_on_error():
        rows = _keys(database_url).list()
    table = Table(title="API keys")
    for col in ("key id", "name", "scopes", "created", "revoked"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r.key_id,
            r.name,
            ", ".join(r.scopes),
            _ts(r.created_at_us),
            _ts(r.revoked_at_us) if r.revoked_at_us else "",
        )
    console.print(table)


@app.command("revoke")
def revoke(
    key_id: str = typer.Argument(..., help="The key id shown by `riskops keys list`."),
    database_url: str | None = typer.Option(None, help="Overrides RISKOPS_DATABASE_URL."),
) -> None:
    """Revoke a key (servers stop accepting it within the key cache time, 30 s)."""
    with fail_on_error():
        _keys(database_url).revoke(key_id)
    console.print(f"revoked {key_id}")


def _ts(us: int) -> str:
    return datetime.fromtimestamp(us / 1e6, UTC).strftime("%Y-%m-%d %H:%M:%S")
