"""Ingest: validate → append to the log and fold into the entity graph in ONE transaction →
project into the online state. Owns the transaction boundary.

Exactly-once: the log's unique ``event_id`` decides what is new; only new events touch the
graph (same transaction) and the online state (through the projector's cursor).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from riskops.core.entities import extract
from riskops.core.entities.touches import fold_touches
from riskops.core.events import Event, ParseLimits, parse_event
from riskops.core.state.model import StateUpdate
from riskops.errors import Problem
from riskops.services.clock import Clock
from riskops.services.projector import StateProjector
from riskops.stores.base import EdgeTouch, NewEvent, NodeTouch, Store

Status = Literal["accepted", "duplicate", "rejected"]


@dataclass(slots=True)
class ItemResult:
    index: int
    status: Status
    event_id: str | None = None
    seq: int | None = None
    problems: list[Problem] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "status": self.status}
        if self.event_id is not None:
            out["event_id"] = self.event_id
        if self.seq is not None:
            out["seq"] = self.seq
        if self.problems:
            out["problems"] = [p.as_dict() for p in self.problems]
        return out


@dataclass(slots=True)
class Prepared:
    """A parsed event with everything the write needs, computed outside the transaction."""

    index: int
    event: Event
    row: NewEvent
    nodes: list[Any]
    edges: list[Any]
    updates: list[StateUpdate]


class IngestService:
    def __init__(
        self,
        store: Store,
        projector: StateProjector | None,
        secret: bytes,
        clock: Clock,
        limits: ParseLimits | None = None,
    ) -> None:
        self._store = store
        self._projector = projector
        self._secret = secret
        self._clock = clock
        self._limits = limits or ParseLimits()

    def prepare(self, raws: list[object]) -> tuple[list[Prepared], list[ItemResult]]:
        """Validate and extract; returns the good ones and a rejection per bad one."""
        received = self._clock()
        good: list[Prepared] = []
        bad: list[ItemResult] = []
        for index, raw in enumerate(raws):
            parsed = parse_event(raw, received_at=received, secret=self._secret,
                                 limits=self._limits)
            if isinstance(parsed, list):
                event_id = raw.get("event_id") if isinstance(raw, dict) else None
                bad.append(ItemResult(index, "rejected",
                                      event_id if isinstance(event_id, str) else None,
                                      problems=parsed))
                continue
            good.append(self._prepare_one(index, parsed))
        return good, bad

    def _prepare_one(self, index: int, event: Event) -> Prepared:
        x = extract(event, self._secret)
        row = NewEvent(
            event_id=event.event_id,
            type=event.type,
            schema_version=event.schema_version,
            occurred_at_us=event.occurred_at_us,
            received_at_us=event.received_at_us,
            market=event.market,
            user_id=event.user_id,
            device_fp=event.device_fingerprint,
            ip=event.ip,
            body=orjson.dumps(event.to_record()).decode(),
        )
        return Prepared(index, event, row, list(x.nodes), list(x.edges), x.updates)

    def write(self, prepared: list[Prepared]) -> list[ItemResult]:
        """Append in one transaction; return accepted / duplicate per item (input order)."""
        if not prepared:
            return []
        with self._store.begin(write=True) as uow:
            inserted = uow.events.append([p.row for p in prepared])
            fresh: list[Prepared] = []
            claimed: set[str] = set()
            for p in prepared:
                if p.event.event_id in inserted and p.event.event_id not in claimed:
                    claimed.add(p.event.event_id)
                    fresh.append(p)
            nodes, edges = fold_touches(
                (p.row.occurred_at_us, p.nodes, p.edges) for p in fresh
            )
            uow.graph.record(
                [NodeTouch(t, i, a[0], a[1], a[2]) for (t, i), a in sorted(nodes.items())],
                [EdgeTouch(*k, a[0], a[1], a[2]) for k, a in sorted(edges.items())],
            )
            fresh_ids = {id(p) for p in fresh}
            dup_ids = [p.event.event_id for p in prepared if id(p) not in fresh_ids]
            dup_seqs = uow.events.seqs(dup_ids) if dup_ids else {}
            uow.commit()
        if self._projector is not None and fresh:
            self._projector.offer([(inserted[p.event.event_id], p.updates) for p in fresh])
        results: list[ItemResult] = []
        for p in prepared:
            if id(p) in fresh_ids:
                results.append(
                    ItemResult(p.index, "accepted", p.event.event_id, inserted[p.event.event_id])
                )
            else:
                results.append(
                    ItemResult(p.index, "duplicate", p.event.event_id,
                               dup_seqs.get(p.event.event_id))
                )
        return results

    def stored(self, event_id: str) -> dict[str, Any] | None:
        """The event as stored in the log, with its ``seq``."""
        with self._store.begin() as uow:
            row = uow.events.get(event_id)
        if row is None:
            return None
        record: dict[str, Any] = orjson.loads(row.body)
        record["seq"] = row.seq
        return record

    def ingest(self, raws: list[object]) -> list[ItemResult]:
        """Validate, store and project a batch; one result per input, in input order."""
        good, bad = self.prepare(raws)
        results = self.write(good) + bad
        results.sort(key=lambda r: r.index)
        return results
