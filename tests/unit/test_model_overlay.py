"""Rules plus models in the evaluation: a model only adds stops, the same-FP threshold adds no
false positive, and a threshold set in advance flags at most its share of negatives."""

from __future__ import annotations

import math

from riskops.simulator.evaluation import Decision, EventIndex
from riskops.simulator.model_overlay import (
    attacks_by_key,
    budget_threshold,
    legitimate,
    overlay,
    same_fp_threshold,
)


def test_overlay_adds_stops_and_switches_cod_without_weakening_a_decision() -> None:
    decided = {
        "a": Decision("allow", 10.0),
        "b": Decision("deny", 5.0),
        "c": Decision("allow", 1.0),
    }
    got = overlay(decided, {"a": 0.9, "b": 0.0, "c": 0.1}, 0.5, "order")
    assert got["a"] == Decision("challenge", 10.0)
    assert got["b"] == Decision("deny", 5.0)
    assert got["c"] == Decision("allow", 1.0)
    cod = overlay({"a": Decision("allow", 10.0)}, {"a": 0.9}, 0.5, "payment_method")
    assert cod["a"] == Decision("allow", 10.0, switched=True)


def test_same_fp_threshold_is_just_above_the_best_scored_legit_event_let_through() -> None:
    decided = {
        "g1": Decision("allow", 1.0),
        "g2": Decision("review", 1.0),
        "bad": Decision("allow", 1.0),
    }
    scores = {"g1": 0.3, "g2": 0.95, "bad": 0.8}
    t = same_fp_threshold(decided, scores, {"g1", "g2"})
    assert 0.3 < t < 0.3 + 1e-12
    flagged = overlay(decided, scores, t, "order")
    assert not flagged["g1"].stopped
    assert flagged["bad"].stopped
    assert same_fp_threshold(decided, scores, set()) == 0.0


def test_budget_threshold_flags_at_most_its_share() -> None:
    negatives = [i / 1000 for i in range(1000)]
    t = budget_threshold(negatives, 0.005)
    assert sum(n >= t for n in negatives) == 5
    tied = [0.5] * 10 + [0.1] * 990
    assert sum(n >= budget_threshold(tied, 0.005) for n in tied) == 0  # a tie is not split
    assert budget_threshold([], 0.01) == math.inf


def test_legitimate_events_are_those_no_attack_label_names() -> None:
    index = EventIndex(scored_from="2026-01-01T00:00:00.000Z")
    for i, user in enumerate(("u1", "u2")):
        index.add(
            {
                "event_id": f"e{i}",
                "type": "order.placed",
                "occurred_at": "2026-01-02T00:00:00.000Z",
                "market": "ID",
                "user_id": user,
                "payload": {"order_id": f"o{i}", "payment_method": "cod"},
            }
        )
    index.delivered.update({"o0", "o1"})
    attack_of = attacks_by_key([{"entity_type": "order", "entity_id": "o1", "attack": "brushing"}])
    assert legitimate(index, attack_of, "order") == {"e0"}
    assert legitimate(index, attack_of, "payment_method") == {"e0"}
