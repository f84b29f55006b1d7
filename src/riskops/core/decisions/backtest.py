"""Backtest arithmetic (pure): what a ruleset would have decided on past events, joined with the
ground truth that arrived later, per rule and overall, beside another ruleset.

An evaluated event is *bad* when a label names it, its order, its user or its device with a
kind other than ``legit``: ``label.reported`` events, chargebacks (``fraud``) and cash-on-delivery
refusals (``cod_refusal``) on its order. Everything else counts as good (legitimate) traffic.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from riskops.core.decisions.engine import Evaluation

GOOD = "legit"


@dataclass(frozen=True, slots=True)
class Evaluated:
    event_id: str
    keys: tuple[tuple[str, str], ...]
    """(entity type, id) a label may name: the event, its order, user and device."""
    amount: float
    candidate: Evaluation
    baseline: Evaluation | None


def label_keys(record: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    payload = record.get("payload") or {}
    keys = [("event", str(record["event_id"]))]
    if payload.get("order_id"):
        keys.append(("order", str(payload["order_id"])))
    if record.get("user_id"):
        keys.append(("user", str(record["user_id"])))
    fp = (record.get("device") or {}).get("fingerprint")
    if fp:
        keys.append(("device", str(fp)))
    return tuple(keys)


def labels_of(record: Mapping[str, Any]) -> list[tuple[tuple[str, str], str]]:
    """The (entity, label kind) pairs an event reports as ground truth."""
    payload = record.get("payload") or {}
    kind = record["type"]
    if kind == "label.reported":
        return [((str(payload["entity_type"]), str(payload["entity_id"])), str(payload["label"]))]
    if kind == "chargeback.received" and payload.get("order_id"):
        return [(("order", str(payload["order_id"])), "fraud")]
    if kind == "order.cod_refused" and payload.get("order_id"):
        return [(("order", str(payload["order_id"])), "cod_refusal")]
    return []


@dataclass
class _Tally:
    hits: int = 0
    bad_hits: int = 0
    good_hits: int = 0
    by_label: Counter[str] = field(default_factory=Counter)
    gmv_denied: float = 0.0


@dataclass
class Backtest:
    """Accumulates evaluated events and labels; :meth:`report` joins them."""

    candidate_rules: tuple[str, ...]
    evaluated: list[Evaluated] = field(default_factory=list)
    labels: dict[tuple[str, str], set[str]] = field(default_factory=dict)

    def add_labels(self, pairs: Iterable[tuple[tuple[str, str], str]]) -> None:
        for key, kind in pairs:
            self.labels.setdefault(key, set()).add(kind)

    def _kinds(self, e: Evaluated) -> set[str]:
        found: set[str] = set()
        for key in e.keys:
            found |= self.labels.get(key, set())
        return found - {GOOD}

    def report(self) -> dict[str, Any]:
        per_rule = {rule: _Tally() for rule in self.candidate_rules}
        label_totals: Counter[str] = Counter()
        good_total = bad_total = 0
        sides = {"candidate": _Side(), "baseline": _Side()}
        changes: Counter[str] = Counter()
        for e in self.evaluated:
            kinds = self._kinds(e)
            bad = bool(kinds)
            bad_total += bad
            good_total += not bad
            label_totals.update(kinds)
            for reason in e.candidate.reasons:
                tally = per_rule[reason.rule_id]
                tally.hits += 1
                tally.bad_hits += bad
                tally.good_hits += not bad
                tally.by_label.update(kinds)
                if e.candidate.outcome == "deny":
                    tally.gmv_denied += e.amount
            sides["candidate"].add(e.candidate, kinds, e.amount)
            if e.baseline is not None:
                sides["baseline"].add(e.baseline, kinds, e.amount)
                if e.baseline.outcome != e.candidate.outcome:
                    changes[f"{e.baseline.outcome} -> {e.candidate.outcome}"] += 1
        return {
            "events": len(self.evaluated),
            "bad_events": bad_total,
            "labels": dict(sorted(label_totals.items())),
            "rules": [_rule_row(rule, t, label_totals, good_total) for rule, t in per_rule.items()],
            "candidate": sides["candidate"].summary(label_totals, good_total),
            "baseline": (
                sides["baseline"].summary(label_totals, good_total)
                if any(e.baseline is not None for e in self.evaluated)
                else None
            ),
            "changes": dict(sorted(changes.items())),
        }


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 4) if b else None


def _rule_row(rule: str, t: _Tally, totals: Counter[str], good: int) -> dict[str, Any]:
    return {
        "rule": rule,
        "hits": t.hits,
        "precision": _ratio(t.bad_hits, t.hits),
        "recall": {k: _ratio(t.by_label[k], n) for k, n in sorted(totals.items())},
        "false_positive_rate": _ratio(t.good_hits, good),
        "gmv_denied": round(t.gmv_denied, 2),
    }


@dataclass
class _Side:
    outcomes: Counter[str] = field(default_factory=Counter)
    caught: Counter[str] = field(default_factory=Counter)
    flagged_good: int = 0
    gmv_denied: float = 0.0
    loss_prevented: float = 0.0

    def add(self, ev: Evaluation, kinds: set[str], amount: float) -> None:
        self.outcomes[ev.outcome] += 1
        flagged = ev.outcome != "allow"
        if flagged:
            self.caught.update(kinds)
            self.flagged_good += not kinds
        if ev.outcome == "deny":
            self.gmv_denied += amount
            if kinds:
                self.loss_prevented += amount

    def summary(self, totals: Counter[str], good: int) -> dict[str, Any]:
        return {
            "outcomes": dict(sorted(self.outcomes.items())),
            "caught": {k: _ratio(self.caught[k], n) for k, n in sorted(totals.items())},
            "false_positive_rate": _ratio(self.flagged_good, good),
            "gmv_denied": round(self.gmv_denied, 2),
            "loss_prevented": round(self.loss_prevented, 2),
            "review_load": self.outcomes["review"],
        }
