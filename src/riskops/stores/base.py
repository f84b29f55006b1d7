"""Store protocols. Every backend implements one of these and passes its contract suite
(tests/contract). Semantics every implementation must keep are written here.

Time: every timestamp crossing these interfaces is an ``int`` of microseconds since the Unix
epoch, UTC. Ordering: the event log assigns ``seq`` in commit order; a reader that has seen
``seq = n`` has seen every committed event with a smaller ``seq``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from riskops.core.state.model import StateUpdate, WindowStats
from riskops.stores.decision_base import Audit, Decisions, Rulesets


class OnlineState(Protocol):
    """Sliding-window counters per (entity, metric).

    * ``apply(updates, from_seq, to_seq)`` applies a chunk of the event log's projection
      atomically and moves the cursor from ``from_seq`` to ``to_seq`` - only if the cursor is
      still ``from_seq`` (compare-and-set). It returns False, applying nothing, when another
      process moved the cursor first. This is what makes the state exactly-once: an event's
      updates are applied together with the cursor move, never twice and never half.
    * Windows range from 60 s to 90 days; memory is bounded by the bucket retention, not by
      the number of updates. Late and out-of-order updates land in the buckets of their own
      ``occurred_at``.
    """

    in_process: bool
    """Reads are in-process memory lookups (no I/O): callers may run them on an event loop."""

    def cursor(self) -> int: ...

    def apply(self, updates: Sequence[StateUpdate], from_seq: int, to_seq: int) -> bool: ...

    def window(
        self, entity_type: str, entity_id: str, metric: str, window_s: int, as_of_us: int
    ) -> WindowStats: ...

    def windows(
        self,
        entity_type: str,
        entity_id: str,
        window_s: Iterable[int],
        as_of_us: int,
        metrics: Iterable[str] | None = None,
    ) -> dict[str, dict[int, WindowStats]]:
        """Every metric the entity has (or only those of ``metrics`` it has), for each window:
        ``{metric: {window_s: stats}}``."""
        ...

    def reset(self) -> None:
        """Forget everything and set the cursor to 0 (used before a rebuild)."""
        ...

    def close(self) -> None: ...


# --- the SQL side: event log, entity graph, keys, lists, behind one unit of work -------------


@dataclass(frozen=True, slots=True)
class NewEvent:
    """A validated event ready for the log; ``body`` is its canonical JSON."""

    event_id: str
    type: str
    schema_version: int
    occurred_at_us: int
    received_at_us: int
    market: str
    user_id: str | None
    device_fp: str | None
    ip: str | None
    body: str


@dataclass(frozen=True, slots=True)
class StoredEvent:
    seq: int
    event_id: str
    type: str
    occurred_at_us: int
    received_at_us: int
    body: str


NodeTouch = tuple[str, str, int, int, int]
"""(type, id, first_us, last_us, count) folded from one or more events."""
EdgeTouch = tuple[str, str, str, str, int, int, int]
"""(src_type, src_id, dst_type, dst_id, first_us, last_us, count)."""


@dataclass(frozen=True, slots=True)
class NodeInfo:
    type: str
    id: str
    first_seen_us: int
    last_seen_us: int
    events: int


@dataclass(frozen=True, slots=True)
class Link:
    """An edge seen from one of its ends: the entity at the other end and the edge's stats."""

    type: str
    id: str
    direction: str  # "out" (we are src) or "in" (we are dst)
    first_seen_us: int
    last_seen_us: int
    count: int


@dataclass(frozen=True, slots=True)
class HopNode:
    type: str
    id: str
    depth: int
    via_type: str
    via_id: str


@dataclass(frozen=True, slots=True)
class ApiKeyRow:
    key_id: str
    name: str
    secret_hash: str
    scopes: tuple[str, ...]
    created_at_us: int
    revoked_at_us: int | None


@dataclass(frozen=True, slots=True)
class ListEntry:
    list_name: str
    entity_type: str
    entity_id: str
    kind: str  # block | allow | watch
    reason: str
    source: str
    created_at_us: int
    expires_at_us: int | None


class EventLog(Protocol):
    """Append-only log; the system of record.

    * ``append`` inserts the events whose ``event_id`` is not yet in the log and returns
      ``{event_id: seq}`` for exactly those. An id repeated inside one batch is inserted once
      (the first occurrence). Nothing is ever updated or deleted.
    * ``seq`` is assigned in commit order (PostgreSQL: appends are serialised by a
      transaction-level advisory lock; SQLite: one writer at a time), so a reader that saw
      ``seq = n`` will never later see a new event with a smaller ``seq``.
    """

    def lock_for_append(self) -> None:
        """Serialise appenders until the transaction ends (PostgreSQL: advisory lock; SQLite:
        the write transaction already holds the database lock)."""
        ...

    def append(self, events: Sequence[NewEvent]) -> dict[str, int]: ...

    def read_after(self, seq: int, limit: int) -> list[StoredEvent]: ...

    def last_seq(self) -> int: ...

    def count(self) -> int: ...

    def get(self, event_id: str) -> StoredEvent | None: ...

    def seqs(self, event_ids: Sequence[str]) -> dict[str, int]:
        """``{event_id: seq}`` for those of ``event_ids`` that are in the log."""
        ...


class Graph(Protocol):
    """Entity nodes and edges with first_seen, last_seen and count.

    ``record`` folds touches in: count adds, first_seen takes the minimum, last_seen the
    maximum, so the order in which (late) events arrive does not matter.
    """

    def record(self, nodes: Sequence[NodeTouch], edges: Sequence[EdgeTouch]) -> None: ...

    def node(self, entity_type: str, entity_id: str) -> NodeInfo | None: ...

    def links(
        self,
        entity_type: str,
        entity_id: str,
        *,
        limit: int = 100,
        since_us: int | None = None,
        types: Sequence[str] | None = None,
    ) -> list[Link]:
        """Neighbours in both directions, most recently seen first."""
        ...

    def k_hop(
        self,
        entity_type: str,
        entity_id: str,
        *,
        k: int,
        per_node_limit: int = 50,
        max_nodes: int = 500,
        since_us: int | None = None,
    ) -> list[HopNode]:
        """Breadth-first neighbourhood up to depth ``k`` (1..3), without the start node;
        each node once, at its smallest depth; at most ``max_nodes``."""
        ...

    def users_sharing(self, entity_type: str, entity_id: str, *, since_us: int) -> int:
        """Distinct users linked to the entity by an edge last seen at or after ``since_us``."""
        ...


class ApiKeys(Protocol):
    def add(self, row: ApiKeyRow) -> None: ...

    def get(self, key_id: str) -> ApiKeyRow | None: ...

    def all(self) -> list[ApiKeyRow]: ...

    def revoke(self, key_id: str, at_us: int) -> bool: ...


class Lists(Protocol):
    """Block / allow / watch lists. An entry whose ``expires_at_us`` has passed is not a
    membership any more (it is kept until overwritten, for the record)."""

    def put(self, entry: ListEntry) -> None: ...

    def remove(self, list_name: str, entity_type: str, entity_id: str) -> bool: ...

    def memberships(self, entity_type: str, entity_id: str, at_us: int) -> list[ListEntry]: ...

    def contains(self, list_name: str, entity_id: str, at_us: int) -> bool:
        """Whether ``entity_id`` (of any entity type) is on list ``list_name`` at ``at_us``."""
        ...

    def entries(self, list_name: str) -> list[ListEntry]:
        """Every entry of one list, expired ones included, by entity type and id."""
        ...

    def all(self) -> list[ListEntry]:
        """Every entry, expired ones included (for an in-memory copy)."""
        ...

    def version(self) -> int:
        """A counter that every ``put`` and every effective ``remove`` moves, in the same
        transaction: a copy made at version ``v`` is current while the counter is ``v``."""
        ...


class Cursors(Protocol):
    """Where each SQL-side projection of the log (e.g. the entity graph) has got to. Reading
    with ``for_update`` locks the cursor until the transaction ends, so two projectors never
    apply the same events."""

    def get(self, name: str, *, for_update: bool = False) -> int: ...

    def set(self, name: str, seq: int) -> None: ...

    def advance(self, name: str, expected: int, seq: int) -> bool:
        """Compare-and-set in one statement: move the cursor to ``seq`` only if it is at
        ``expected`` (a missing cursor is at 0), locking it until the transaction ends; True
        when it moved. A cursor moved concurrently is judged on its committed value."""
        ...

    def advance_past_log(self, name: str, first_new: int, seq: int) -> bool:
        """:meth:`advance` to ``seq`` if the cursor is at the last logged ``seq`` below
        ``first_new`` (i.e. it has applied every event before a batch that starts there), in
        one statement when it exists; call it holding the append lock."""
        ...


class UnitOfWork(Protocol):
    """One transaction. Nothing is durable until ``commit``; leaving the ``with`` block without
    committing rolls back."""

    @property
    def events(self) -> EventLog: ...

    @property
    def graph(self) -> Graph: ...

    @property
    def keys(self) -> ApiKeys: ...

    @property
    def lists(self) -> Lists: ...

    @property
    def cursors(self) -> Cursors: ...

    @property
    def rulesets(self) -> Rulesets: ...

    @property
    def decisions(self) -> Decisions: ...

    @property
    def audit(self) -> Audit: ...

    def commit(self) -> None: ...


class Store(Protocol):
    """Opens units of work on one database (SQLite or PostgreSQL)."""

    @property
    def dialect(self) -> str: ...

    def begin(self, *, write: bool = False) -> AbstractContextManager[UnitOfWork]: ...

    def ping(self) -> None:
        """Raise if the database cannot be reached."""
        ...

    def close(self) -> None: ...
