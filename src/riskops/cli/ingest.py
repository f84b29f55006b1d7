"""`riskops ingest FILE`."""

from __future__ import annotations

import os
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from riskops.cli.common import fail_on_error, settings_from

console = Console(stderr=True)
EXIT_REJECTED = 1  # the load finished but some rows were rejected (see the rejected file)


def ingest_command(
    file: Path = typer.Argument(..., help="JSONL, CSV or Parquet file of events or of rows."),
    column_map: Path | None = typer.Option(
        None, "--map", "-m", help="YAML column map for a foreign export (see docs/ingest.md)."
    ),
    fmt: str | None = typer.Option(
        None, "--format", help="jsonl | csv | parquet (default: from the file extension)."
    ),
    rejected: Path | None = typer.Option(
        None, "--rejected", help="Where rejected rows go (default: <file>.rejected.jsonl)."
    ),
    delimiter: str = typer.Option(",", help="CSV delimiter."),
    chunk: int = typer.Option(5000, min=1, max=50_000, help="Events per transaction."),
    workers: int | None = typer.Option(
        None,
        min=0,
        max=32,
        help="Validation worker processes (default: 2 for files over 16 MB, else 0).",
    ),
    database_url: str | None = typer.Option(None, help="Overrides RISKOPS_DATABASE_URL."),
) -> None:
    """Load events into the log, exactly once, with a progress bar and a summary table.

    Exit code 0: every row accepted or a duplicate; 1: finished, some rows rejected;
    2: bad input (file, map, options); 3: database unreachable."""
    from riskops.services.file_ingest import FileIngest, read_column_map
    from riskops.services.runtime import build_runtime

    settings = settings_from(database_url=database_url)
    rejected_path = rejected or file.with_name(file.name + ".rejected.jsonl")
    with fail_on_error():
        cmap = read_column_map(column_map) if column_map else None
        runtime = build_runtime(settings, with_state=False)
        try:
            with Progress(
                TextColumn("[bold]ingest[/] {task.description}"),
                BarColumn(),
                TextColumn("{task.percentage:>5.1f}%"),
                TimeRemainingColumn(),
                console=console,
                transient=False,
            ) as bar:
                task = bar.add_task(file.name, total=None)

                def progress(position: int, size: int) -> None:
                    bar.update(task, completed=position, total=size)

                if workers is None:
                    big = file.exists() and file.stat().st_size > 16 * 1024 * 1024
                    n_workers = min(2, os.cpu_count() or 1) if big else 0
                else:
                    n_workers = workers
                summary = FileIngest(
                    runtime.ingest, runtime.clock, chunk=chunk, workers=n_workers
                ).run(
                    file,
                    fmt=fmt,
                    column_map=cmap,
                    rejected_path=rejected_path,
                    progress=progress,
                    csv_delimiter=delimiter,
                )
                started = time.perf_counter()
                graph_task = bar.add_task("→ entity graph", total=None)
                folded = runtime.graph.catch_up(
                    lambda done, total: bar.update(graph_task, completed=done, total=total)
                )
                graph_seconds = time.perf_counter() - started
        finally:
            runtime.close()
    table = Table(title=f"ingest {file.name}")
    table.add_column("")
    table.add_column("count", justify="right")
    table.add_row("rows read", f"{summary.rows_read:,}")
    table.add_row("events", f"{summary.events:,}")
    table.add_row("[green]accepted[/]", f"{summary.accepted:,}")
    table.add_row("duplicates (already in the log)", f"{summary.duplicates:,}")
    table.add_row("[red]rejected[/]", f"{summary.rejected:,}")
    table.add_row("seconds", f"{summary.seconds:,.2f}")
    table.add_row("events / s (durable in the log)", f"{summary.rate:,.0f}")
    table.add_row("entity graph: events folded", f"{folded:,}")
    table.add_row("entity graph: seconds", f"{graph_seconds:,.2f}")
    console.print(table)
    if summary.by_type:
        types = Table(title="accepted by type")
        types.add_column("type")
        types.add_column("events", justify="right")
        for name, n in sorted(summary.by_type.items(), key=lambda kv: -kv[1]):
            types.add_row(name, f"{n:,}")
        console.print(types)
    if summary.rejected:
        console.print(
            f"[red]{summary.rejected:,} rejected rows[/] written to "
            f"{summary.rejected_file} (line, field and reason for each)"
        )
        raise typer.Exit(EXIT_REJECTED)
