"""`riskops policy push | show`: the risk policy (tolerance per market phase, score bands)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from riskops.cli.common import fail_on_error, read_text_file, settings_from

app = typer.Typer(help="The risk policy: tolerance per market and phase.", no_args_is_help=True)
console = Console()
_DB = typer.Option(None, "--database-url", help="Overrides RISKOPS_DATABASE_URL.")


def _policy(database_url: str | None):  # type: ignore[no-untyped-def]
    from riskops.services.admin import policy_service

    return policy_service(settings_from(database_url=database_url))


@app.command("push")
def push(
    file: Path = typer.Argument(..., help="Policy YAML file."),
    author: str = typer.Option(..., "--author", "-a", help="Who makes the change (audited)."),
    note: str = typer.Option("", "--note", "-m"),
    activate: bool = typer.Option(False, "--activate", help="Make the new version active."),
    database_url: str | None = _DB,
) -> None:
    """Validate FILE and store it as the policy's next version."""
    text = read_text_file(file)
    with fail_on_error():
        service = _policy(database_url)
        version = service.push(text, author, note)
        console.print(f"policy version [bold]{version}[/] stored")
        if activate:
            before = service.activate(version, author)
            console.print(f"policy: active version {before} → {version}")


@app.command("show")
def show(database_url: str | None = _DB) -> None:
    """The active policy: each market's phase, tolerance and score thresholds (from the
    bands, or calibrated with `riskops calibrate`)."""
    with fail_on_error():
        version, policy = _policy(database_url).active()
    title = f"policy version {version}" if version else "policy: the defaults (none pushed)"
    table = Table(title=title)
    columns = (
        "market",
        "phase",
        "tolerance",
        "challenge from",
        "review from",
        "deny from",
        "set by",
    )
    for column in columns:
        table.add_column(
            column, justify="left" if column in ("market", "phase", "set by") else "right"
        )
    for market in [*sorted(set(policy.markets) | set(policy.calibrated)), ""]:
        phase = policy.phase(market)
        t = policy.thresholds(market)
        table.add_row(
            market or "(other)",
            phase,
            f"{policy.tolerance[phase]:.1%}",
            f"{t['challenge']:g}",
            f"{t['review']:g}",
            f"{t['deny']:g}",
            "calibrated" if market in policy.calibrated else "bands",
        )
    console.print(table)
    console.print(
        f"cash-on-delivery switch: {'on' if policy.cod_switch else 'off'} · fail modes: "
        + ", ".join(f"{k} {v}" for k, v in sorted(policy.fail_mode.items()))
    )
