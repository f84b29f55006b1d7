"""`riskops train` and `riskops models list | promote`: LightGBM models on point-in-time
features from the event log, their metrics, and the registry's champion."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from riskops.cli.analytics import Db
from riskops.cli.analytics_io import input_errors, show
from riskops.cli.common import settings_from

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


MODEL_HELP = "order_fraud, coupon_abuse, account_takeover, cod_refusal or refund_abuse."
LABEL_HELP = "Label kinds that are positives (repeat; default: the model's)."


def train_command(
    model: str = typer.Option(..., help=MODEL_HELP),
    labels: list[str] = typer.Option([], "--label", help=LABEL_HELP),
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
    from riskops.services.models.train import train
    from riskops.services.runtime import build_runtime

    settings = settings_from(database_url=database_url)
    with input_errors():
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
                    since_us=_us(since, "--since"),
                    until_us=_us(until, "--until"),
                    valid_fraction=valid_fraction,
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )
        finally:
            runtime.close()
    parts = ", ".join(f"{name} {p['rows']:,}" for name, p in result.parts.items())
    console.print(f"{result.name} at the {result.checkpoint} checkpoint: rows {parts}")
    columns = ["part", "label", "rows", "positives", "base_rate", "auc", "pr_auc"]
    columns += [c for c in result.metrics[0] if c.startswith("recall")] if result.metrics else []
    show("metrics (test = the latest rows, seen by neither the model nor the calibration)",
         result.metrics, [*columns, "brier"])  # fmt: skip
    show("features by gain", result.importances[:12], list(result.importances[0])
         if result.importances else [])  # fmt: skip
    if register:
        registry = ModelRegistry(Path(settings.data_dir))
        with input_errors():
            version = registry.register(result)
            if promote:
                registry.promote(result.name, version)
        role = "champion" if promote else "challenger"
        console.print(f"registered {result.name} {version} as {role}")


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
