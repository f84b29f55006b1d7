"""`riskops evaluate --models`: the models trained on the warm-up with only the labels known by
its end (label events, chargebacks and COD refusals that arrived later are not read), then the
scored window decided by the rules alone and by the rules plus the models, beside each
other."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from riskops.services.runtime import Runtime
from riskops.simulator.evaluation import Decision, EventIndex, score

ADVANCE_FP = 0.005
"""The share of the warm-up test part's negatives a model may flag (the fixed threshold)."""


def known_labels(folder: Path, before: str, out: Path) -> int:
    """The simulator's label events dated before ``before`` (what a platform knew when it
    trained), copied to ``out``; how many."""
    n = 0
    with (folder / "labels.events.jsonl").open("rb") as src, out.open("wb") as dst:
        for line in src:
            if orjson.loads(line)["occurred_at"] < before:
                dst.write(line)
                n += 1
    return n


def with_models(
    runtime: Runtime,
    console: Console,
    index: EventIndex,
    labels: list[dict[str, Any]],
    decisions: dict[str, dict[str, Decision]],
) -> dict[str, Any]:
    """Train every model on the log before ``index.scored_from`` and score the window after
    it; the results of rules + models at the same false-positive rate and at a threshold
    fixed in advance, and what each model did."""
    from riskops.core.models.features import MODELS
    from riskops.services.analytics.inputs import AnalyticsInputError
    from riskops.services.models.batch import score_events
    from riskops.services.models.train import train
    from riskops.simulator.model_overlay import (
        attacks_by_key,
        budget_threshold,
        legitimate,
        overlay,
        same_fp_threshold,
    )

    cut = datetime.fromisoformat(index.scored_from.replace("Z", "+00:00"))
    cut_us = int(cut.timestamp() * 1_000_000)
    secret = runtime.settings.resolved_secret()
    attack_of = attacks_by_key(labels)
    same = {cp: dict(d) for cp, d in decisions.items()}
    advance = {cp: dict(d) for cp, d in decisions.items()}
    models: dict[str, dict[str, Any]] = {}
    for name, spec in ((n, s) for n, s in MODELS.items() if s.serve):
        with console.status(f"training {name} on the warm-up"):
            try:
                result = train(
                    runtime.store, secret, model=name, until_us=cut_us, labels_until_us=cut_us
                )
            except AnalyticsInputError as exc:
                models[name] = {"checkpoint": spec.checkpoint, "skipped": str(exc)}
                continue
        with console.status(f"scoring the window with {name}"):
            scores = score_events(runtime.store, secret, result.model, spec, since_us=cut_us)
        frame = result.frame
        negatives = [
            p
            for p, part, y in zip(
                frame["probability"].to_pylist(),
                frame["split"].to_pylist(),
                frame["label"].to_pylist(),
                strict=True,
            )
            if part == "test" and y == 0
        ]
        cp = spec.checkpoint
        legit = legitimate(index, attack_of, cp)
        t_same = same_fp_threshold(decisions.get(cp, {}), scores, legit)
        t_advance = budget_threshold(negatives, ADVANCE_FP)
        same[cp] = overlay(same.get(cp, {}), scores, t_same, cp)
        advance[cp] = overlay(advance.get(cp, {}), scores, t_advance, cp)
        test = [m for m in result.metrics if m["part"] == "test" and m["label"] == "any"]
        models[name] = {
            "checkpoint": cp,
            "train_rows": result.parts["train"]["rows"],
            "test_auc": test[0]["auc"] if test else None,
            "scored": len(scores),
            "threshold_same_fp": round(t_same, 6),
            "threshold_in_advance": round(t_advance, 6),
        }
    return {
        "models": models,
        "same_fp": score(index, labels, same),
        "in_advance": score(index, labels, advance),
    }


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def print_comparison(console: Console, rules: dict[str, Any], extra: dict[str, Any]) -> None:
    models = Table(title="models trained on the warm-up (labels known by its end)")
    for column in ("model", "checkpoint", "train rows", "test AUC", "scored", "note"):
        models.add_column(
            column, justify="left" if column in ("model", "checkpoint", "note") else "right"
        )
    for name, m in extra["models"].items():
        if "skipped" in m:
            models.add_row(name, m["checkpoint"], "-", "-", "-", m["skipped"])
            continue
        auc = "-" if m["test_auc"] is None else f"{m['test_auc']:.3f}"
        models.add_row(name, m["checkpoint"], f"{m['train_rows']:,}", auc, f"{m['scored']:,}", "")
    console.print(models)
    same, advance = extra["same_fp"], extra["in_advance"]
    table = Table(title="caught: rules alone, and rules + models")
    for column in (
        "attack",
        "rules",
        "+ models, same FP",
        f"+ models, {ADVANCE_FP:.1%} FP set in advance",
    ):
        table.add_column(column, justify="left" if column == "attack" else "right")
    for attack, row in rules["attacks"].items():
        table.add_row(
            attack,
            _pct(row["caught"]),
            _pct(same["attacks"].get(attack, {}).get("caught")),
            _pct(advance["attacks"].get(attack, {}).get("caught")),
        )
    for cp, rate in rules["false_positive_rate"].items():
        table.add_row(
            f"false positives, {cp}",
            _pct(rate),
            _pct(same["false_positive_rate"].get(cp)),
            _pct(advance["false_positive_rate"].get(cp)),
        )
    cods = (rules["cod"], same["cod"], advance["cod"])
    table.add_row("COD refusals after the switch", *(_pct(c["refusal_rate_after"]) for c in cods))
    table.add_row(
        "accepted parcels switched", *(_pct(c["accepted_parcels_switched"]) for c in cods)
    )
    console.print(table)
