"""`riskops simulate`: a seeded marketplace with labelled attacks, to files."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from riskops.cli.common import EXIT_INPUT

console = Console()


def simulate_command(
    out: Path = typer.Option(Path("sim"), "--out", help="Folder for events and labels."),
    days: int = typer.Option(7, help="Days of traffic (1..366)."),
    users: int = typer.Option(20_000, help="Users in the population."),
    merchants: int = typer.Option(400, help="Merchants."),
    seed: int = typer.Option(7, help="The same seed gives the same files."),
    generation: int = typer.Option(1, help="Attackers: 1 as described, 2 adapted to evade."),
    start: str = typer.Option("2026-11-01T00:00:00Z", help="First day (ISO 8601, with a zone)."),
    markets: str = typer.Option("ID,TH,MY,SG,CN,DE", help="Comma-separated market codes."),
    fmt: str = typer.Option("jsonl", "--format", help="jsonl or parquet."),
    no_attacks: bool = typer.Option(False, "--no-attacks", help="Honest traffic only."),
) -> None:
    """Simulate a marketplace - users by channel, browse → cart → checkout funnels, COD and
    online payment, deliveries, refusals, returns, reviews in English and Chinese - with
    labelled attacks: order brushing, coupon-abuse farms, account takeover, COD refusers,
    refund abusers, scrapers and fake-discount merchants. Writes OUT/events.<format>,
    OUT/labels.jsonl (the ground truth) and OUT/labels.events.jsonl (the same as label.reported
    events: `riskops ingest` it to bring the labels into the log)."""
    from riskops.simulator import ATTACKS, SimConfig, simulate

    try:
        moment = datetime.fromisoformat(start.replace("Z", "+00:00"))
        config = SimConfig(
            seed=seed,
            start=moment,
            days=days,
            users=users,
            merchants=merchants,
            skus=max(merchants, merchants * 20),
            markets=tuple(m.strip().upper() for m in markets.split(",") if m.strip()),
            generation=generation,
            intensity=dict.fromkeys(ATTACKS, 0.0 if no_attacks else 1.0),
        )
        if fmt not in ("jsonl", "parquet"):
            raise ValueError("--format must be jsonl or parquet")
    except ValueError as exc:
        console.print(f"[red]riskops simulate: {exc}[/]")
        raise typer.Exit(EXIT_INPUT) from None
    out.mkdir(parents=True, exist_ok=True)
    events_path = out / f"events.{fmt}"
    labels_path = out / "labels.jsonl"
    with Progress(
        TextColumn("[bold]simulating[/] day"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        console=console,
    ) as bar:
        task = bar.add_task("", total=days)

        def progress(done: int, total: int, events: int) -> None:
            bar.update(task, completed=done, total=total, description=f"{events:,} events")

        summary = simulate(config, events_path, labels_path, fmt=fmt, progress=progress)
    table = Table(
        title=f"{summary.events:,} events in {summary.seconds:.1f} s "
        f"({summary.events / max(summary.seconds, 1e-9):,.0f}/s), generation {generation}"
    )
    table.add_column("event type")
    table.add_column("events", justify="right")
    for kind, n in summary.by_type.items():
        table.add_row(kind, f"{n:,}")
    console.print(table)
    labels = Table(title=f"{summary.labels:,} labels")
    labels.add_column("attack")
    labels.add_column("labelled entities and events", justify="right")
    for attack, n in summary.by_attack.items():
        labels.add_row(attack, f"{n:,}")
    console.print(labels)
    console.print(f"wrote {events_path} and {labels_path}")
