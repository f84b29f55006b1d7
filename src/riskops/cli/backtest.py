"""`riskops backtest FILE`: replay the log against a ruleset beside the active one."""

from __future__ import annotations

import json
import tempfile
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from riskops.cli.common import EXIT_INPUT, fail_on_error, read_text_file, settings_from
from riskops.config import Settings

if TYPE_CHECKING:
    from riskops.services.runtime import Runtime

console = Console()


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _when(text: str | None, name: str) -> int | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        console.print(f"[red]--{name}: {text!r} is not an ISO 8601 time[/]")
        raise typer.Exit(EXIT_INPUT) from None
    if moment.tzinfo is None:
        console.print(f"[red]--{name}: {text!r} needs a zone (e.g. Z)[/]")
        raise typer.Exit(EXIT_INPUT)
    return int(moment.timestamp() * 1_000_000)


def backtest_command(
    file: Path = typer.Argument(..., help="The candidate ruleset (YAML)."),
    since: str | None = typer.Option(None, "--from", help="Events from (ISO 8601, with a zone)."),
    until: str | None = typer.Option(None, "--to", help="Events before (ISO 8601, with a zone)."),
    baseline: bool = typer.Option(True, "--baseline/--no-baseline", help="Beside the active."),
    out: Path | None = typer.Option(None, "--json", help="Also write the report as JSON."),
    events: Path | None = typer.Option(
        None, "--events", help="Replay this file (JSONL, CSV, Parquet) instead of the log."
    ),
    column_map: Path | None = typer.Option(None, "--map", help="Column map for --events."),
    database_url: str | None = typer.Option(None, help="Overrides RISKOPS_DATABASE_URL."),
) -> None:
    """Replay the event log's events of the ruleset's checkpoint against FILE - features as
    they were at each event, labels that arrived later joined - and report per rule and
    overall, beside the active ruleset. With --events, the events of that file instead: they
    are validated into a scratch log first (rejected rows go to FILE.rejected.jsonl)."""
    from riskops.services.runtime import build_runtime

    text = read_text_file(file)
    since_us, until_us = _when(since, "from"), _when(until, "to")
    settings = settings_from(database_url=database_url)
    with fail_on_error(), tempfile.TemporaryDirectory(prefix="riskops-backtest-") as scratch_dir:
        runtime = build_runtime(settings, with_state=False)
        scratch = None
        try:
            if events is not None:
                scratch = _scratch_log(settings, Path(scratch_dir), events, column_map)
            with Progress(
                TextColumn("[bold]reading the event log[/]"),
                BarColumn(),
                MofNCompleteColumn(),
                console=console,
            ) as bar:
                task = bar.add_task("read", total=None)
                report = runtime.backtests.run(
                    text,
                    since_us=since_us,
                    until_us=until_us,
                    against_active=baseline,
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                    events=scratch.store if scratch else None,
                )
        finally:
            runtime.close()
            if scratch is not None:
                scratch.close()
    _print(report)
    if out is not None:
        out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        console.print(f"wrote {out}")


def _scratch_log(settings: Settings, where: Path, events: Path, column_map: Path | None) -> Runtime:
    """A throwaway embedded log holding the file's valid events (same secret, so entity ids
    hash as in the real log)."""
    from riskops.services.file_ingest import FileIngest, read_column_map
    from riskops.services.runtime import build_runtime

    cmap = read_column_map(column_map) if column_map else None
    scratch_settings = settings.model_copy(update={"data_dir": where, "database_url": None})
    scratch = build_runtime(scratch_settings, with_state=False)
    rejected = events.with_name(events.name + ".rejected.jsonl")
    with console.status(f"validating {events.name} into a scratch log"):
        summary = FileIngest(scratch.ingest, scratch.clock).run(
            events, column_map=cmap, rejected_path=rejected
        )
    console.print(
        f"{events.name}: {summary.accepted:,} events loaded, {summary.rejected:,} rejected"
        + (f" (see {rejected})" if summary.rejected else "")
    )
    return scratch


def _print(report: dict[str, Any]) -> None:
    labels = list(report["labels"])
    rules = Table(
        title=f"{report['checkpoint']}: {report['events']:,} events, "
        f"{report['bad_events']:,} labelled bad ({', '.join(labels) or 'no labels'})"
    )
    for column in (
        "rule",
        "hits",
        "precision",
        *[f"recall {k}" for k in labels],
        "FP rate",
        "GMV denied",
        "errors",
    ):
        rules.add_column(column, justify="left" if column == "rule" else "right")
    for row in report["rules"]:
        rules.add_row(
            row["rule"],
            f"{row['hits']:,}",
            _pct(row["precision"]),
            *[_pct(row["recall"].get(k)) for k in labels],
            _pct(row["false_positive_rate"]),
            f"{row['gmv_denied']:,.2f}",
            f"{row.get('errors', 0):,}",
        )
    console.print(rules)
    overall = Table(title="overall")
    overall.add_column("ruleset")
    for column in (
        "allow",
        "challenge",
        "review",
        "deny",
        *[f"caught {k}" for k in labels],
        "FP rate",
        "GMV denied",
        "loss prevented",
    ):
        overall.add_column(column, justify="right")
    sides = [("candidate", report["candidate"])]
    if report["baseline"] is not None:
        sides.append((f"active v{report['baseline_version']}", report["baseline"]))
    for name, side in sides:
        overall.add_row(
            name,
            *[f"{side['outcomes'].get(o, 0):,}" for o in ("allow", "challenge", "review", "deny")],
            *[_pct(side["caught"].get(k)) for k in labels],
            _pct(side["false_positive_rate"]),
            f"{side['gmv_denied']:,.2f}",
            f"{side['loss_prevented']:,.2f}",
        )
    console.print(overall)
    if report["changes"]:
        changes = Table(title="decisions that change (active → candidate)")
        changes.add_column("change")
        changes.add_column("events", justify="right")
        for change, n in report["changes"].items():
            changes.add_row(change, f"{n:,}")
        console.print(changes)
    timing = report.get("timing_s") or {}
    if timing:
        console.print("took " + ", ".join(f"{k} {v:.1f} s" for k, v in timing.items()), style="dim")
