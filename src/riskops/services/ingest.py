"""Ingest: validate → append to the log (durable) → fold into the entity graph → project into
the online state. Owns the transaction boundary.

Exactly-once: the log's unique ``event_id`` decides what is new. The graph and the online state
are projections of the log with their own cursors; each moves together with the updates it
applies, so nothing is applied twice or skipped, whatever crashes when. When the graph is up to
date, new events are folded in inside the append transaction itself (one commit per batch);
otherwise (after a bulk load) the graph projector catches up.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from riskops.core.events import ParseLimits
from riskops.services.clock import Clock
from riskops.services.graph_projector import GRAPH, GraphProjector
from riskops.services.preparing import (
    ItemResult,
    PrepareConfig,
    Prepared,
    prepare_events,
)
from riskops.services.projector import StateProjector
from riskops.stores.base import Store
from riskops.stores.decision_base import DecisionRow

__all__ = ["Appended", "IngestService", "ItemResult", "Prepared"]


@dataclass(frozen=True, slots=True)
class Appended:
    """What one append transaction logged, for :meth:`IngestService.project`."""

    fresh: list[tuple[int, Prepared]]
    """The new events with their ``seq``, in input order."""


log = logging.getLogger("riskops.ingest")


class IngestService:
    def __init__(
        self,
        store: Store,
        secret: bytes,
        clock: Clock,
        limits: ParseLimits | None = None,
        *,
        graph: GraphProjector,
        state: StateProjector | None,
    ) -> None:
        self._store = store
        self._secret = secret
        self._clock = clock
        self._limits = limits or ParseLimits()
        self._graph = graph
        self._state = state

    def prepare(
        self, raws: list[object], *, with_extraction: bool = True
    ) -> tuple[list[Prepared], list[ItemResult]]:
        """Validate (and extract entities); returns the good ones and a rejection per bad
        one. Bulk loads pass ``with_extraction=False`` and let the projectors catch up."""
        return prepare_events(raws, self.preparer_config(), self._clock(), with_extraction)

    def preparer_config(self) -> PrepareConfig:
        return PrepareConfig(self._secret, self._limits)

    def write(self, prepared: list[Prepared]) -> list[ItemResult]:
        """Append in one transaction and project into the online state; one accepted /
        duplicate result per item, in order."""
        results, appended = self.append(prepared)
        self.project(appended)
        return results

    def append(
        self, prepared: list[Prepared], decisions: Sequence[DecisionRow] = ()
    ) -> tuple[list[ItemResult], Appended]:
        """Append in one transaction (durable when this returns), together with the decision
        records made on the events it inserts (not on repeated ones: see
        ``DecisionService.settle``); the results, and what was logged for :meth:`project`."""
        if not prepared:
            return [], Appended([])
        with self._store.begin(write=True) as uow:
            uow.events.lock_for_append()
            inserted = uow.events.append([p.row for p in prepared])
            # fresh[i]: prepared[i] is the first occurrence of an id the log inserted
            unclaimed = set(inserted)
            fresh_flags: list[bool] = []
            for p in prepared:
                eid = p.row.event_id
                if eid in unclaimed:
                    unclaimed.discard(eid)
                    fresh_flags.append(True)
                else:
                    fresh_flags.append(False)
            fresh = [p for p, f in zip(prepared, fresh_flags, strict=True) if f]
            # fast path: the graph was up to date (its cursor at the last event before these),
            # fold the new events in right here; the cursor moves in the statement that checks
            if (
                fresh
                and all(p.extraction is not None for p in fresh)
                and uow.cursors.advance_past_log(
                    GRAPH, min(inserted.values()), max(inserted.values())
                )
            ):
                self._graph.fold_in(
                    uow,
                    (
                        (p.row.occurred_at_us, p.extraction.nodes, p.extraction.edges)
                        for p in fresh
                        if p.extraction is not None
                    ),
                )
            # a decision on a repeated event is settled later
            uow.decisions.add_many([d for d in decisions if d.event_id in inserted])
            dup_ids = [p.row.event_id for p, f in zip(prepared, fresh_flags, strict=True) if not f]
            dup_seqs = uow.events.seqs(dup_ids) if dup_ids else {}
            uow.commit()
        results = [
            ItemResult(p.index, "accepted", p.row.event_id, inserted[p.row.event_id])
            if f
            else ItemResult(p.index, "duplicate", p.row.event_id, dup_seqs.get(p.row.event_id))
            for p, f in zip(prepared, fresh_flags, strict=True)
        ]
        fresh_seqs = [(inserted[p.row.event_id], p) for p in fresh]
        return results, Appended(fresh_seqs)

    def project(self, appended: Appended) -> None:
        """Apply newly appended events to the online state. Call in append order (anything
        out of order makes the projector catch up from the log). Never raises: the events are
        durable, so a projection failure must not turn their acknowledgement into an error -
        the poller catches the state up from the log."""
        fresh = appended.fresh
        if self._state is None or not fresh:
            return
        try:
            if all(p.extraction is not None for _, p in fresh):
                self._state.offer(
                    [(seq, p.extraction.updates) for seq, p in fresh if p.extraction is not None]
                )
            else:
                self._state.catch_up()
        except Exception:
            log.exception("online state update after append failed; the poller retries")

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
