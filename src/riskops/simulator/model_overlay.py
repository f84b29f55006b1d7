"""Rules plus models in the evaluation (pure): a model flags an event when its probability is
at least a threshold; a flagged event the rules allowed is stepped up (``challenge``) - or, at
the cash-on-delivery checkpoint, switched to online payment - so the rules' decisions are
never weakened. Thresholds are chosen two ways:

* **at the same false-positive rate**: just above the highest score among the legitimate
  events the rules let through, so the model adds no false positive in the scored window
  (it reads the window's labels: a measure of what the model adds, like recall at a fixed
  false-positive rate, not a threshold one could set in advance);
* **fixed in advance**: from the model's own test part in the warm-up, the lowest score that
  flags at most a given share of its negatives - what a platform would deploy.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from riskops.simulator.evaluation import Decision, EventIndex, Key


def attacks_by_key(labels: Iterable[Mapping[str, Any]]) -> dict[Key, set[str]]:
    out: dict[Key, set[str]] = {}
    for label in labels:
        key = (str(label["entity_type"]), str(label["entity_id"]))
        out.setdefault(key, set()).add(str(label["attack"]))
    return out


def legitimate(index: EventIndex, attack_of: Mapping[Key, set[str]], checkpoint: str) -> set[str]:
    """The scored events of ``checkpoint`` that no attack label names - for the COD
    checkpoint, the honest parcels that were delivered (what a switch costs)."""
    if checkpoint == "payment_method":
        return {
            event_id
            for order, event_id in index.cod_orders.items()
            if order in index.delivered
            and not any(attack_of.get(k) for k in index.keys.get(event_id, ()))
        }
    out = set()
    for event_id, cp in index.checkpoint.items():
        if cp != checkpoint:
            continue
        attacks: set[str] = set()
        for key in index.keys.get(event_id, ()):
            attacks |= attack_of.get(key, set())
        attacks.discard("cod_refusal")
        if not attacks:
            out.add(event_id)
    return out


def _stopped(decision: Decision | None) -> bool:
    return decision is not None and decision.stopped


def same_fp_threshold(
    decided: Mapping[str, Decision], scores: Mapping[str, float], legit: Iterable[str]
) -> float:
    """The lowest threshold that flags no legitimate event the rules let through."""
    let_through = [scores[e] for e in legit if e in scores and not _stopped(decided.get(e))]
    if not let_through:
        return 0.0
    return math.nextafter(max(let_through), math.inf)


def budget_threshold(negatives: Sequence[float], share: float) -> float:
    """The lowest threshold flagging at most ``share`` of ``negatives`` (scores of events
    known to be good), never below a score some negative ties with past the budget."""
    if not negatives:
        return math.inf
    ranked = sorted(negatives, reverse=True)
    allowed = math.floor(share * len(ranked))
    if allowed >= len(ranked):
        return 0.0
    return math.nextafter(ranked[allowed], math.inf)


def overlay(
    decided: Mapping[str, Decision],
    scores: Mapping[str, float],
    threshold: float,
    checkpoint: str,
) -> dict[str, Decision]:
    """The decisions with the model's flags added (see the module's doc)."""
    out = dict(decided)
    for event_id, p in scores.items():
        before = out.get(event_id)
        if p < threshold or _stopped(before) or before is None:
            continue
        if checkpoint == "payment_method":
            out[event_id] = Decision("allow", before.amount, switched=True)
        else:
            out[event_id] = Decision("challenge", before.amount, before.switched)
    return out
