"""`riskops policy push | show`: the risk policy (tolerance per market phase, score bands)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from riskops.cli.common import fail_on_error, read_text_file, settings_from
from riskops.core.decisions.policy import Policy
from riskops.core.decisions.schema import CHECKPOINTS

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


COLUMNS = ("market", "phase", "tolerance", "checkpoint", "challenge from", "review from",
           "deny from", "set by")  # fmt: skip
NUMBERS = ("tolerance", "challenge from", "review from", "deny from")


@app.command("show")
def show(database_url: str | None = _DB) -> None:
    """The active policy: each market's phase, tolerance and score thresholds - from the
    bands, or calibrated for one checkpoint with `riskops calibrate`."""
    with fail_on_error():
        version, policy = _policy(database_url).active()
    title = f"policy version {version}" if version else "policy: the defaults (none pushed)"
    table = Table(title=title)
    for column in COLUMNS:
        table.add_column(column, justify="right" if column in NUMBERS else "left")
    for row in _rows(policy):
        table.add_row(*row)
    if policy.calibrated:
        table.caption = "(others): the market's checkpoints without calibrated thresholds"
    console.print(table)
    console.print(
        f"cash-on-delivery switch: {'on' if policy.cod_switch else 'off'} · fail modes: "
        + ", ".join(f"{k} {v}" for k, v in sorted(policy.fail_mode.items()))
    )


def _rows(policy: Policy) -> list[tuple[str, ...]]:
    """Per market (the listed and the calibrated ones, then every other): the bands' row for
    its checkpoints without calibration, then one row per calibrated checkpoint."""
    rows: list[tuple[str, ...]] = []
    for market in [*sorted(set(policy.markets) | policy.calibrated_markets()), ""]:
        phase = policy.phase(market)
        head = (market or "(other)", phase, f"{policy.tolerance[phase]:.1%}")
        calibrated = [cp for cp in CHECKPOINTS if policy.is_calibrated(market, cp)]
        bands = _scores(policy.thresholds(market))
        rows.append((*head, "(others)" if calibrated else "(all)", *bands, "bands"))
        for checkpoint in calibrated:
            scores = _scores(policy.thresholds(market, checkpoint))
            rows.append((*head, checkpoint, *scores, "calibrated"))
    return rows


def _scores(t: dict[str, float]) -> tuple[str, str, str]:
    return f"{t['challenge']:g}", f"{t['review']:g}", f"{t['deny']:g}"
