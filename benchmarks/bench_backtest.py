"""Backtest speed: a candidate ruleset of ``--rules`` rules beside an active one of as many,
over ``--events`` logged events (synthetic traffic over a week, 10 % orders, with
chargebacks and cash-on-delivery refusals arriving later as labels), on the embedded default.

    python benchmarks/bench_backtest.py [--events 1000000] [--rules 100] [--data DIR]

``--data DIR`` keeps the loaded log there and reuses it on the next run (loading 1M events
takes about a minute). Prints the stages' seconds, events/s and peak RSS. Figures, not
assertions.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_decide import ruleset_yaml
from common import console, peak_rss_mb, table
from synth import events

SPAN_S = 7 * 86_400


def _with_labels(n: int, seed: int) -> Iterator[dict[str, Any]]:
    """The synthetic events, and a label event a day after one order in 40."""
    rng = random.Random(seed)
    start = datetime.now(UTC) - timedelta(seconds=SPAN_S + 2 * 86_400)
    for e in events(n, seed=seed, start=start, span_s=SPAN_S, users=50_000):
        yield e
        if e["type"] == "order.placed" and rng.random() < 0.025:
            at = datetime.fromisoformat(e["occurred_at"].replace("Z", "+00:00"))
            cod = e["payload"]["payment_method"] == "cod"
            label: dict[str, Any] = {
                "event_id": f"{e['event_id']}-label",
                "type": "order.cod_refused" if cod else "chargeback.received",
                "occurred_at": (at + timedelta(days=1)).isoformat().replace("+00:00", "Z"),
                "market": e["market"],
                "user_id": e["user_id"],
                "payload": {"order_id": e["payload"]["order_id"]},
            }
            if not cod:
                label["payload"].update(amount=20.0, currency="USD")
            yield label


def _load(runtime: Any, work: Path, n: int) -> float:
    from riskops.services.file_ingest import FileIngest

    path = work / "events.jsonl"
    t0 = time.perf_counter()
    with path.open("wb") as fh:
        for e in _with_labels(n, 7):
            fh.write(orjson.dumps(e) + b"\n")
    summary = FileIngest(runtime.ingest, runtime.clock).run(
        path, rejected_path=work / "rejected.jsonl"
    )
    path.unlink()
    if summary.rejected:
        sys.exit(f"bench_backtest: {summary.rejected} synthetic events were rejected")
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rules", type=int, default=100)
    parser.add_argument("--data", type=Path, default=None, help="keep / reuse the log here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run(args, args.data or Path(tmp))


def run(args: argparse.Namespace, work: Path) -> None:
    from riskops.config import Settings
    from riskops.services.runtime import build_runtime

    work.mkdir(parents=True, exist_ok=True)
    settings = Settings(data_dir=work, secret_key="bench-secret")
    runtime = build_runtime(settings, with_state=False)
    with runtime.store.begin() as uow:
        logged = uow.events.count()
    load_s = _load(runtime, work, args.events) if logged < args.events else 0.0
    with runtime.store.begin() as uow:
        logged = uow.events.count()
    active = ruleset_yaml(args.rules, seed=7)
    pushed = runtime.rules.push(active, "bench")
    runtime.rules.activate("order", pushed.version, "bench")
    candidate = ruleset_yaml(args.rules, seed=11)
    with Progress(
        TextColumn("[bold]reading the event log[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("log", total=None)
        t0 = time.perf_counter()
        report = runtime.backtests.run(
            candidate, progress=lambda done, total: bar.update(task, completed=done, total=total)
        )
        total_s = time.perf_counter() - t0
    runtime.close()
    stages = report["timing_s"]
    rows = [
        ("events in the log", f"{logged:,}"),
        ("order events decided (both rulesets)", f"{report['events']:,}"),
        ("rules: candidate / active", f"{report['candidate_rules']} / {args.rules}"),
        ("labelled bad", f"{report['bad_events']:,}"),
    ]
    rows += [(f"stage: {k} (s)", f"{v:.1f}") for k, v in stages.items()]
    rows += [
        ("backtest total (s)", f"{total_s:.1f}"),
        ("log events/s", f"{logged / total_s:,.0f}"),
        ("peak RSS (MB)", f"{peak_rss_mb():,.0f}"),
    ]
    if load_s:
        rows.insert(0, ("generate + load the log first (s)", f"{load_s:.1f}"))
    table(f"backtest: {args.rules} + {args.rules} rules over {logged:,} events", rows)


if __name__ == "__main__":
    main()
