"""`riskops evaluate`: labelled traffic through the decision engine, scored per attack against
the figures the field reports."""

from __future__ import annotations

import json
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

from riskops.cli.common import EXIT_INPUT, fail_on_error

console = Console()
CHECKPOINT_FILES = (
    "order",
    "coupon_claim",
    "login",
    "registration",
    "payment_method",
    "refund_request",
    "listing",
)


def starter_rulesets() -> dict[str, str]:
    """The starter ruleset of every checkpoint, shipped with the package."""
    base = resources.files("riskops.starter")
    return {cp: (base / f"{cp}.yaml").read_text(encoding="utf-8") for cp in CHECKPOINT_FILES}


def evaluate_command(
    events: Path | None = typer.Option(
        None, "--events", help="A folder from `riskops simulate` (events.jsonl, labels.jsonl)."
    ),
    days: int = typer.Option(28, help="Days to simulate (without --events)."),
    warmup: int = typer.Option(
        21, help="First days whose decisions are not scored (features build up history)."
    ),
    users: int = typer.Option(20_000, help="Users to simulate (without --events)."),
    seed: int = typer.Option(7, help="Simulation seed (without --events)."),
    generation: int = typer.Option(1, help="Attackers: 1 as described, 2 adapted."),
    rules: Path | None = typer.Option(
        None, "--rules", help="A folder of <checkpoint>.yaml rulesets (default: the starters)."
    ),
    out: Path | None = typer.Option(None, "--json", help="Also write the results as JSON."),
    models: bool = typer.Option(
        False,
        "--models",
        help="Also train every model on the warm-up and score rules + models beside rules "
        "alone (needs the models extra).",
    ),
) -> None:
    """Run labelled traffic through the decision engine - every checkpoint's ruleset and the
    policy, with features as they were at each event - and print, per attack, the share
    caught, false positives on legitimate traffic, GMV protected, review load and the COD
    refusal rate, against the floors the field reports (brushing >= 95 % and abuse scripts
    >= 90 % caught at <= 1 % false positives; COD refusals <= 8 %)."""
    from riskops.config import Settings
    from riskops.services.file_ingest import FileIngest
    from riskops.services.runtime import build_runtime
    from riskops.simulator import SimConfig, simulate
    from riskops.simulator.evaluation import Decision, EventIndex, score

    texts = starter_rulesets()
    if rules is not None:
        for cp in CHECKPOINT_FILES:
            path = rules / f"{cp}.yaml"
            if path.exists():
                texts[cp] = path.read_text(encoding="utf-8")
    problem = _check_inputs(texts, days, warmup, events)
    if problem:
        console.print(f"[red]riskops evaluate: {problem}[/]")
        raise typer.Exit(EXIT_INPUT)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="riskops-evaluate-") as tmp, fail_on_error():
        work = Path(tmp)
        if events is None:
            try:
                # a window that ends before now: later events would be refused as future ones
                today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
                start = today - timedelta(days=days + 1)
                config = SimConfig(
                    seed=seed, days=days, users=users, generation=generation, start=start
                )
            except ValueError as exc:
                console.print(f"[red]riskops evaluate: {exc}[/]")
                raise typer.Exit(EXIT_INPUT) from None
            with console.status(f"simulating {days} days of {users:,} users"):
                simulate(config, work / "events.jsonl", work / "labels.jsonl")
            folder = work
        else:
            folder = events
            if not (folder / "events.jsonl").exists() or not (folder / "labels.jsonl").exists():
                console.print(
                    f"[red]riskops evaluate: {folder} needs events.jsonl and labels.jsonl[/]"
                )
                raise typer.Exit(EXIT_INPUT)
        runtime = build_runtime(
            Settings(  # a scratch log: never the configured database or state
                data_dir=work / "data",
                secret_key=os.urandom(16).hex(),
                database_url=None,
                state_backend="memory",
            ),
            with_state=False,
        )
        try:
            with console.status("loading the events into a scratch log"):
                FileIngest(runtime.ingest, runtime.clock).run(
                    folder / "events.jsonl", rejected_path=work / "rejected.jsonl"
                )
            index = EventIndex(scored_from=_scored_from(folder, warmup))
            n_events = 0
            with (folder / "events.jsonl").open("rb") as fh:
                for line in fh:
                    index.add(orjson.loads(line))
                    n_events += 1
            decisions: dict[str, dict[str, Decision]] = {}
            for cp, text in texts.items():
                with console.status(f"deciding at the {cp} checkpoint"):
                    rows = runtime.backtests.decisions(text)
                decisions[cp] = {e: Decision(o, a, w) for e, o, a, w in rows}
            labels = [orjson.loads(x) for x in (folder / "labels.jsonl").read_bytes().splitlines()]
            extra = _models(runtime, folder, work, index, labels, decisions) if models else None
        finally:
            runtime.close()
        result = score(index, labels, decisions)
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["decisions"] = sum(len(d) for d in decisions.values())
    result["events"] = n_events
    _print(result)
    if extra is not None:
        from riskops.cli.evaluate_models import print_comparison

        print_comparison(console, result, extra)
        result["with_models"] = extra
    if out is not None:
        out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        console.print(f"wrote {out}")


def _models(
    runtime: Any,
    folder: Path,
    work: Path,
    index: Any,
    labels: list[dict[str, Any]],
    decisions: dict[str, Any],
) -> dict[str, Any]:
    """Labels known by the end of the warm-up into the log, then the models (see
    :mod:`riskops.cli.evaluate_models`)."""
    from riskops.cli.evaluate_models import known_labels, with_models
    from riskops.services.file_ingest import FileIngest

    if not (folder / "labels.events.jsonl").exists():
        console.print(f"[red]riskops evaluate: --models needs {folder}/labels.events.jsonl[/]")
        raise typer.Exit(EXIT_INPUT)
    known = work / "known_labels.jsonl"
    n = known_labels(folder, index.scored_from, known)
    with console.status(f"loading {n:,} labels known by the end of the warm-up"):
        FileIngest(runtime.ingest, runtime.clock).run(
            known, rejected_path=work / "rejected_labels.jsonl"
        )
    result: dict[str, Any] = with_models(runtime, console, index, labels, decisions)
    return result


def _check_inputs(texts: dict[str, str], days: int, warmup: int, events: Path | None) -> str | None:
    """What is wrong with the options, or None."""
    from riskops.services.rules import compile_ruleset

    for cp, text in texts.items():
        try:
            found = compile_ruleset(text).checkpoint
        except Exception as exc:  # the ruleset's own error names the place
            return f"{cp}.yaml: {exc}"
        if found != cp:
            return f"{cp}.yaml is a ruleset for the {found} checkpoint"
    if events is None and not 0 <= warmup < days:
        return "--warmup must be at least 0 and fewer than --days"
    if events is not None:
        path = events / "events.jsonl"
        if path.exists() and path.stat().st_size == 0:
            return f"{path} is empty"
    return None


def _scored_from(folder: Path, warmup_days: int) -> str:
    """The time ``warmup_days`` after the first event (RFC 3339, as events write it)."""
    with (folder / "events.jsonl").open("rb") as fh:
        first = orjson.loads(fh.readline())["occurred_at"]
    start = datetime.fromisoformat(first.replace("Z", "+00:00"))
    day0 = start.replace(hour=0, minute=0, second=0, microsecond=0)
    return (day0 + timedelta(days=warmup_days)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _print(result: dict[str, Any]) -> None:
    table = Table(
        title=f"{result['events']:,} events, {result['decisions']:,} decisions "
        f"in {result['seconds']} s"
    )
    for column in ("attack", "labelled decisions", "caught", "floor", "GMV protected (USD)"):
        table.add_column(column, justify="left" if column == "attack" else "right")
    for attack, row in result["attacks"].items():
        floor = row["floor"]
        table.add_row(
            attack,
            f"{row['events']:,}",
            _pct(row["caught"]),
            "-" if floor is None else f">= {floor:.0%}",
            f"{row['gmv_protected_usd']:,.0f}",
        )
    from riskops.simulator import ATTACKS

    for attack in ATTACKS:  # e.g. scraping: no checkpoint sees page views
        if attack not in result["attacks"] and attack != "cod_refusal":
            table.add_row(attack, "-", "not decided", "-", "-")
    console.print(table)
    fp = Table(title="false positives on legitimate traffic")
    fp.add_column("checkpoint")
    fp.add_column("rate", justify="right")
    for cp, rate in result["false_positive_rate"].items():
        fp.add_row(cp, _pct(rate))
    console.print(fp)
    cod = result["cod"]
    console.print(
        f"COD: {cod['cod_orders']:,} parcels; refused {_pct(cod['refusal_rate_before'])} "
        f"as simulated, {_pct(cod['refusal_rate_after'])} after switching "
        f"{cod['switched_to_online']:,} to online payment (target <= {cod['target']:.0%}; "
        f"{_pct(cod['accepted_parcels_switched'])} of accepted parcels switched); "
        f"review load {result['review_load']:,}"
    )
    for floor, ok in result["floors"].items():
        console.print(f"{'[green]pass[/]' if ok else '[red]FAIL[/]'}  {floor}")
