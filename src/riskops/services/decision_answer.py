"""The answer of a decision: the response body, and the parts the policy adds (credit)."""

from __future__ import annotations

import math
import time
from typing import Any

from riskops.core.analytics.fx import DEFAULT_PER_USD
from riskops.core.decisions.engine import Evaluation
from riskops.core.decisions.privileges import Granted, Standing
from riskops.services.ingest import Prepared


def credit_part(standing: Standing | None, granted: Granted | None) -> dict[str, Any] | None:
    if standing is None:
        return None
    notes = granted.notes if granted else []
    return {
        "tier": standing.tier,
        "score": standing.score,
        "value_segment": standing.value_segment,
        "notes": notes,
    }


def amount_usd(record: dict[str, Any]) -> float | None:
    """The event's amount in US dollars at the reference rates; None without an amount, and
    infinity for an amount in a currency without a rate (a limit that cannot be checked is
    treated as exceeded, never as met)."""
    payload = record.get("payload") or {}
    amount, per_usd = payload.get("amount"), DEFAULT_PER_USD.get(payload.get("currency") or "")
    if not isinstance(amount, int | float) or isinstance(amount, bool):
        return None
    if not per_usd:
        return math.inf
    return float(amount) / per_usd


RESPONSE_KEYS = (
    "decision_id",
    "checkpoint",
    "event_id",
    "outcome",
    "actions",
    "score",
    "reasons",
    "shadow_hits",
    "errors",
    "versions",
    "policy",
    "latency_ms",
)
OPTIONAL_KEYS = ("model",)


def response_body(
    decision_id: str,
    checkpoint: str,
    prepared: Prepared,
    result: Evaluation,
    version: int | None,
    started: float,
) -> dict[str, Any]:
    return {
        "decision_id": decision_id,
        "checkpoint": checkpoint,
        "event_id": prepared.row.event_id,
        "outcome": result.outcome,
        "actions": result.actions,
        "score": result.score,
        "reasons": [
            {"rule_id": r.rule_id, "text": {"en": r.text_en, "zh": r.text_zh}, "values": r.values}
            for r in result.reasons
        ],
        "shadow_hits": result.shadow_hits,
        "errors": [
            {"rule_id": e.rule_id, "message": e.message, "position": e.position}
            for e in result.errors
        ],
        "versions": {"ruleset": version, "model": None, "policy": None},
        "latency_ms": round((time.perf_counter() - started) * 1000, 3),
    }
