"""Scoring decisions against ground truth: caught shares per attack at the checkpoints that
decide it, false positives on unlabelled traffic, the warm-up, and the COD refusal rate before
and after the switch."""

from __future__ import annotations

from typing import Any

from riskops.simulator.evaluation import Decision, EventIndex, score


def _event(eid: str, kind: str, at: str = "2026-11-20T10:00:00.000Z", **payload: Any) -> dict:
    return {
        "event_id": eid,
        "type": kind,
        "occurred_at": at,
        "market": "ID",
        "user_id": "u1",
        "payload": payload,
    }


def test_score_counts_caught_false_positives_and_cod() -> None:
    index = EventIndex(scored_from="2026-11-10T00:00:00.000Z")
    events = [
        _event("e0", "order.placed", at="2026-11-01T00:00:00.000Z", order_id="o0"),  # warm-up
        _event("e1", "order.placed", order_id="o1"),  # brushed, caught
        _event("e2", "order.placed", order_id="o2"),  # brushed, missed
        _event("e3", "order.placed", order_id="o3", payment_method="cod"),  # honest, flagged
        _event("e4", "order.placed", order_id="o4", payment_method="cod"),  # honest
        _event("e5", "return.requested", order_id="o1"),  # not where brushing is decided
        _event("r3", "order.cod_refused", order_id="o3"),
        _event("d4", "order.delivered", order_id="o4"),
        _event("e6", "order.placed", order_id="o6", payment_method="cod"),  # switched, honest
        _event("d6", "order.delivered", order_id="o6"),
    ]
    for e in events:
        index.add(e)
    labels = [
        {"entity_type": "order", "entity_id": o, "attack": "brushing"} for o in ("o0", "o1", "o2")
    ]
    decisions = {
        "order": {
            "e0": Decision("allow", 1.0),
            "e1": Decision("review", 150_000.0),
            "e2": Decision("allow", 1.0),
            "e3": Decision("deny", 5.0),
            "e4": Decision("allow", 5.0),
        },
        "refund_request": {"e5": Decision("allow", 0.0)},
        "payment_method": {
            "e3": Decision("allow", 5.0, switched=True),
            "e6": Decision("allow", 5.0, switched=True),
        },
    }
    result = score(index, labels, decisions)
    brushing = result["attacks"]["brushing"]
    assert (brushing["events"], brushing["caught"]) == (2, 0.5)
    assert brushing["gmv_protected_usd"] == 10.0  # 150,000 IDR at 15,000 per USD
    assert result["false_positive_rate"]["order"] == 0.5
    assert result["cod"] == {
        "cod_orders": 3,
        "refusal_rate_before": 0.3333,
        "switched_to_online": 2,
        "refusal_rate_after": 0.0,
        "accepted_parcels_switched": 0.5,  # o6 would have been accepted; o4 was kept COD
        "target": 0.08,
    }
    assert result["floors"]["brushing >= 95% caught"] is False
    assert result["floors"]["COD refusals <= 8% after the switch"] is True
