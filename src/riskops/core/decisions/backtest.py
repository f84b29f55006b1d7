"""Backtest ground truth (pure): the labels an event reports, and what a label may name.

An evaluated event is *bad* when a label names it, its order, its user or its device with a
kind other than ``legit``: ``label.reported`` events, chargebacks (``fraud``) and cash-on-delivery
refusals (``cod_refusal``) on its order. Everything else counts as good (legitimate) traffic.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

GOOD = "legit"
LABEL_TYPES = frozenset({"label.reported", "chargeback.received", "order.cod_refused"})
"""The event types that carry ground truth."""


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
