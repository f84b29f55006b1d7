"""The columns a backtest reads, from the event log in one pass: every event that can be in a
feature window (its entities and value), the checkpoint's events in the range (the event fields
the rules read, the amount, what a label may name) and every label, whenever it arrived."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
import pyarrow as pa

from riskops.core.decisions.backtest import LABEL_TYPES, label_keys, labels_of
from riskops.core.decisions.features import event_fields
from riskops.core.entities.extract import (
    address_id,
    event_value,
    instrument_id,
    ip24_of,
    phone_id,
)
from riskops.services.log_scan import Progress, scan_log
from riskops.stores.base import Store, StoredEvent

_ARROW: dict[str, pa.DataType] = {
    "int": pa.int64(),
    "double": pa.float64(),
    "string": pa.string(),
    "bool": pa.bool_(),
    "list<string>": pa.list_(pa.string()),
}


@dataclass(frozen=True, slots=True)
class Request:
    types: frozenset[str]
    """The checkpoint's event types."""
    event_fields: Mapping[str, str]
    """Event and identity fields the rules read, with their rule types."""
    since_us: int | None
    until_us: int | None
    history_us: int
    """How far before ``since`` a feature window reaches."""
    addresses: bool
    instruments: bool
    phones: bool = False
    labels_until_us: int | None = None
    """Only labels that arrived before this (what was known at a training time); None: all."""
    outcomes: bool = False
    """Also read what happened to orders as labels (a return request: ``returned``) - for
    training data only: a backtest scores rules against ground truth, not returns."""


@dataclass
class Columns:
    ev: dict[str, list[Any]] = field(
        default_factory=lambda: {
            k: []
            for k in (
                "seq",
                "event_id",
                "type",
                "ts",
                "user_id",
                "device",
                "ip",
                "ip24",
                "address",
                "phone",
                "instrument",
                "campaign",
                "value",
            )
        }
    )
    cp: dict[str, list[Any]] = field(default_factory=dict)
    keys: dict[str, list[Any]] = field(
        default_factory=lambda: {"seq": [], "key_type": [], "key_id": []}
    )
    labels: dict[str, list[Any]] = field(
        default_factory=lambda: {"key_type": [], "key_id": [], "kind": []}
    )


def load(store: Store, secret: bytes, req: Request, progress: Progress | None) -> Columns:
    """Read the whole log once (labels can arrive any time after the range)."""
    cols = Columns()
    cols.cp = {k: [] for k in ("seq", "market", "payment_method", "amount", *req.event_fields)}
    start = None if req.since_us is None else req.since_us - req.history_us
    for row in scan_log(store, progress):
        _row(cols, row, secret, req, start)
    return cols


def _row(cols: Columns, row: StoredEvent, secret: bytes, req: Request, start: int | None) -> None:
    at = row.occurred_at_us
    later = req.until_us is not None and at >= req.until_us
    known = req.labels_until_us is None or at < req.labels_until_us
    labels = row.type in LABEL_TYPES or (req.outcomes and row.type in OUTCOME_TYPES)
    if later or (start is not None and at < start):  # outside every window: labels only
        if labels and known:
            _labels(cols, orjson.loads(row.body))
        return
    record: dict[str, Any] = orjson.loads(row.body)
    if labels and known:
        _labels(cols, record)
    payload = record.get("payload") or {}
    ip = record.get("ip")
    ev = cols.ev
    ev["seq"].append(row.seq)
    ev["event_id"].append(row.event_id)
    ev["type"].append(row.type)
    ev["ts"].append(at)
    ev["user_id"].append(record.get("user_id"))
    ev["device"].append((record.get("device") or {}).get("fingerprint"))
    ev["ip"].append(ip)
    ev["ip24"].append(ip24_of(ip) if ip else None)
    address = payload.get("shipping_address") or payload.get("address")
    ev["address"].append(address_id(address, secret) if req.addresses and address else None)
    phone = address.get("phone") if req.phones and address else None
    ev["phone"].append(phone_id(phone, secret, record["market"]) if phone else None)
    ev["campaign"].append(payload.get("campaign_id"))
    token = payload.get("payment_instrument")
    ev["instrument"].append(instrument_id(token, secret) if req.instruments and token else None)
    ev["value"].append(event_value(row.type, payload))
    if row.type in req.types and (req.since_us is None or at >= req.since_us):
        _checkpoint_row(cols, row.seq, record, at, req)


def _checkpoint_row(cols: Columns, seq: int, record: dict[str, Any], at: int, req: Request) -> None:
    cp = cols.cp
    fields = event_fields(record, at)
    payload = record.get("payload") or {}
    amount = fields.get("event.amount")
    cp["seq"].append(seq)
    cp["market"].append(record["market"])
    cp["payment_method"].append(payload.get("payment_method"))
    cp["amount"].append(float(amount) if isinstance(amount, int | float) else 0.0)
    for path, kind in req.event_fields.items():
        cp[path].append(_typed(fields.get(path), kind))
    for key_type, key_id in label_keys(record):
        cols.keys["seq"].append(seq)
        cols.keys["key_type"].append(key_type)
        cols.keys["key_id"].append(key_id)


OUTCOME_TYPES = frozenset({"return.requested"})
"""Events whose order outcome :class:`Request` ``outcomes`` reads as a label."""


def _labels(cols: Columns, record: dict[str, Any]) -> None:
    found = labels_of(record)
    order_id = (record.get("payload") or {}).get("order_id")
    if record["type"] in OUTCOME_TYPES and order_id:
        found = [(("order", str(order_id)), "returned")]
    for (key_type, key_id), kind in found:
        cols.labels["key_type"].append(key_type)
        cols.labels["key_id"].append(key_id)
        cols.labels["kind"].append(kind)


def _typed(value: object, kind: str) -> object:
    """The value if it has the field's rule type (ints widen to double), else None."""
    if value is None:
        return None
    if kind == "double":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value)
    if kind == "int":  # 64-bit, as rules are
        ok = isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63
        return value if ok else None
    if kind == "bool":
        return value if isinstance(value, bool) else None
    if kind == "string":
        return value if isinstance(value, str) else None
    if kind == "list<string>":
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        return value if ok else None
    return None


def arrow_tables(cols: Columns, event_fields: Mapping[str, str]) -> dict[str, pa.Table]:
    """The loaded columns as Arrow tables ``ev``, ``cp``, ``keys`` and ``labels``."""
    ev_types = {"seq": pa.int64(), "ts": pa.int64(), "value": pa.float64()}
    cp_types = {"seq": pa.int64(), "amount": pa.float64()}
    cp_types.update({p: _ARROW.get(k, pa.string()) for p, k in event_fields.items()})
    return {
        "ev": _table(cols.ev, ev_types),
        "cp": _table(cols.cp, cp_types),
        "keys": _table(cols.keys, {"seq": pa.int64()}),
        "labels": _table(cols.labels, {}),
    }


def _table(columns: Mapping[str, list[Any]], types: Mapping[str, pa.DataType]) -> pa.Table:
    return pa.table(
        {
            name: pa.array(values, type=types.get(name, pa.string()))
            for name, values in columns.items()
        }
    )


def needed_entities(paths: Iterable[str]) -> tuple[bool, bool, bool]:
    """Whether any feature among ``paths`` reads addresses / instruments / phones (hashing
    them is the costly part of loading, so only when a rule needs it)."""
    text = " ".join(paths)
    return (
        any(
            k in text
            for k in (
                "graph.address.",
                ".addresses_",
                "campaign.address.",
                "velocity.address.",
                "last.address.",
            )
        ),
        any(
            k in text
            for k in (
                "graph.instrument.",
                ".instruments_",
                "campaign.instrument.",
                "velocity.instrument.",
                "last.instrument.",
            )
        ),
        "campaign.phone." in text,
    )
