"""`riskops train` and `riskops models list | promote`: LightGBM models on point-in-time
features from the event log, their metrics, and the registry's champion."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from riskops.cli.analytics import Db
from riskops.cli.analytics_io import input_errors, show
from riskops.cli.common import settings_from

if TYPE_CHECKING:
    from riskops.services.models.train import TrainResult

app = typer.Typer(help="The model registry: versions, metrics, the champion.")
console = Console()


def _us(text: str | None, option: str) -> int | None:
    from riskops.services.analytics.inputs import AnalyticsInputError

    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise AnalyticsInputError(option, f"{text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise AnalyticsInputError(option, "give a time zone (e.g. Z)")
    return int(moment.timestamp() * 1_000_000)


MODEL_HELP = "order_fraud, coupon_abuse, account_takeover, cod_refusal, refund_abuse, return_risk."
LABEL_HELP = "Label kinds that are positives (repeat; default: the model's)."
FEATURE_HELP = (
    "A context path to learn from instead of the model's default features, e.g. "
    "graph.device.distinct_users_24h (repeat; the fields a rule at the model's checkpoint "
    "reads, docs/rules.md)."
)
OPTION_OF = {
    "features": "--feature",
    "label_kinds": "--label",
    "valid_fraction": "--valid-fraction",
    "since_us": "--since",
    "until_us": "--until",
}
"""Parameters of ``train`` as the CLI spells them, for error messages."""


@contextmanager
def _as_options() -> Iterator[None]:
    """An AnalyticsInputError naming a parameter of ``train`` names its CLI option instead."""
    from riskops.services.analytics.inputs import AnalyticsInputError

    try:
        yield
    except AnalyticsInputError as exc:
        if exc.field not in OPTION_OF:
            raise
        raise AnalyticsInputError(OPTION_OF[exc.field], exc.reason) from None


def train_command(
    model: str = typer.Option(..., help=MODEL_HELP),
    labels: list[str] = typer.Option([], "--label", help=LABEL_HELP),
    features: list[str] = typer.Option([], "--feature", help=FEATURE_HELP),
    since: str | None = typer.Option(None, help="Events from (ISO 8601, with a zone)."),
    until: str | None = typer.Option(None, help="Events before (ISO 8601, with a zone)."),
    valid_fraction: float = typer.Option(0.2, help="Latest share held out (calibrate, test)."),
    register: bool = typer.Option(True, help="Store the model as the next version."),
    promote: bool = typer.Option(False, help="Make it the champion."),
    database_url: str | None = Db,
) -> None:
    """Train a model on the event log: features as of each event (never later data), labels
    that arrived later, a time split, calibration, and the metrics report."""
    from riskops.services.models.registry import ModelRegistry
    from riskops.services.models.train import model_spec, positive_kinds, train
    from riskops.services.runtime import build_runtime

    settings = settings_from(database_url=database_url)
    with input_errors(), _as_options():
        # bad options fail here, before the log is opened
        positive_kinds(model_spec(model, features or None), labels or None)
        since_us, until_us = _us(since, "--since"), _us(until, "--until")
        runtime = build_runtime(settings, with_state=False)
        try:
            with Progress(
                TextColumn("reading the event log"), BarColumn(), MofNCompleteColumn()
            ) as bar:
                task = bar.add_task("log", total=None)
                result = train(
                    runtime.store,
                    settings.resolved_secret(),
                    model=model,
                    label_kinds=labels or None,
                    features=features or None,
                    since_us=since_us,
                    until_us=until_us,
                    valid_fraction=valid_fraction,
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )
        finally:
            runtime.close()
    print_report(result)
    if register:
        registry = ModelRegistry(Path(settings.data_dir))
        with input_errors():
            version = registry.register(result)
            if promote:
                registry.promote(result.name, version)
        role = "champion" if promote else "challenger"
        console.print(f"registered {result.name} {version} as {role}")


def print_report(result: TrainResult) -> None:
    """The metrics of each part (with its period) and label, notes on how to read them, and
    the features by gain."""
    kinds = ", ".join(result.label_kinds)
    console.print(
        f"{result.name} at the {result.checkpoint} checkpoint: positives are events labelled "
        f"{kinds}; {len(result.model.features)} features"
    )
    rows, left_out = metric_rows(result)
    console.print(metrics_table(rows))
    for note in report_notes(result, left_out):
        console.print(f"note: {note}")
    show("features by gain", result.importances[:12], list(result.importances[0])
         if result.importances else [])  # fmt: skip


def metric_rows(result: TrainResult) -> tuple[list[dict[str, Any]], list[str]]:
    """The report's rows to show, with each part's period, and the label kinds left out: a
    trained kind no event carries (no positives in any part). When one kind is left, its
    rows would repeat ``any``: only ``any`` is shown, named by that kind."""
    carried = {m["label"] for m in result.metrics if m["positives"]}
    kept = [k for k in result.label_kinds if k in carried] or list(result.label_kinds[:1])
    left_out = [k for k in result.label_kinds if k not in kept]
    rows = []
    for m in result.metrics:
        if m["label"] in left_out or (len(kept) == 1 and m["label"] != "any"):
            continue
        part = result.parts[m["part"]]
        label = kept[0] if len(kept) == 1 else m["label"]
        rows.append({**m, "label": label, "from": _day(part["first_us"]),
                     "to": _day(part["last_us"])})  # fmt: skip
    return rows, left_out


METRIC_COLUMNS = (
    ("part", "part"),
    ("label", "label"),
    ("from", "from"),
    ("to", "to"),
    ("rows", "rows"),
    ("positives", "positives"),
    ("base_rate", "base_rate"),
    ("auc", "auc"),
    ("pr_auc", "pr_auc"),
    ("recall_at_fpr_0_5pct", "recall @0.5% FPR"),
    ("recall_at_fpr_1pct", "recall @1% FPR"),
    ("recall_at_fpr_5pct", "recall @5% FPR"),
    ("brier", "brier"),
)
"""The metrics table: report key and column header."""


def metrics_table(rows: list[dict[str, Any]]) -> Table:
    """The metrics as a Rich table: shares as percentages, ranking metrics to 3 places."""
    table = Table(title="metrics (test = the latest rows, seen by neither the model nor the "
                  "calibration)")  # fmt: skip
    for key, header in METRIC_COLUMNS:
        table.add_column(header, justify="left" if key in ("part", "label") else "right")
    for row in rows:
        table.add_row(*(_metric_cell(key, row.get(key)) for key, _ in METRIC_COLUMNS))
    return table


def _metric_cell(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.1%}" if key == "base_rate" else f"{value:.3f}"
    return escape(str(value))


def report_notes(result: TrainResult, left_out: list[str]) -> list[str]:
    """How to read this report: kinds left out, a thin test part, a base rate or a ranking
    that moved between the training and the test part (what the labels mark changed)."""
    notes = []
    if left_out:
        notes.append(f"no event is labelled {', '.join(left_out)}: left out of the table")
    by_part = {m["part"]: m for m in result.metrics if m["label"] == "any"}
    train, test = by_part.get("train"), by_part.get("test")
    if train is None or test is None:
        return notes
    if test["positives"] < FEW_POSITIVES:
        notes.append(f"the test part holds {test['positives']} positives: its figures are coarse")
    rates = (train["base_rate"], test["base_rate"])
    if all(rates) and max(rates) > BASE_RATE_SHIFT * min(rates):
        notes.append(
            f"the base rate moves from {rates[0]:.1%} (train) to {rates[1]:.1%} (test): "
            "what the labels mark changed over time"
        )
    aucs = (train["auc"], test["auc"])
    if None not in aucs and aucs[0] - aucs[1] > AUC_DROP:
        notes.append(
            f"AUC {aucs[0]:.3f} on the training part but {aucs[1]:.3f} on the test part: "
            "what the model learned does not carry forward in time (a pattern that stopped, "
            "or overfitting); judge the model by the test row"
        )
    return notes


FEW_POSITIVES = 30
"""Fewer test positives than this: the test figures are coarse."""
BASE_RATE_SHIFT = 1.5
"""A test base rate this many times above or below the training one is worth a note."""
AUC_DROP = 0.1
"""A test AUC this far below the training AUC is worth a note."""


def _day(us: int) -> str:
    return datetime.fromtimestamp(us / 1_000_000, UTC).strftime("%Y-%m-%d %H:%M")


@app.command("list")
def list_command(
    model: str | None = typer.Argument(None, help="One model (default: all)."),
) -> None:
    """Every registered version: role, when, labels, training rows, test AUC."""
    from riskops.services.models.registry import ModelRegistry

    with input_errors():
        rows = ModelRegistry(Path(settings_from().data_dir)).list(model)
    columns = ["model", "version", "role", "created_at", "label_kinds", "train_rows", "test_auc"]
    show("registered models", rows, columns)


@app.command("promote")
def promote_command(
    model: str = typer.Argument(..., help="The model."),
    version: str = typer.Argument(..., help="The version to make champion, e.g. v2."),
) -> None:
    """Make a version the champion (the others become challengers)."""
    from riskops.services.models.registry import ModelRegistry

    with input_errors():
        ModelRegistry(Path(settings_from().data_dir)).promote(model, version)
    console.print(f"{model} {version} is the champion")
