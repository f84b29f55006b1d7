"""Projects the event log into the entity graph (SQL), exactly once, by tailing ``seq``.

The graph's cursor lives in the same database as the graph, and every chunk of events is
folded in and the cursor moved in ONE transaction, so a crash can neither skip nor repeat an
event. When the graph is up to date, ingest folds new events in within the append transaction
itself (the fast path); after a bulk load that skipped it, this projector catches up.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from riskops.core.entities import Edge, Node
from riskops.core.entities.touches import fold_touches
from riskops.services.projector import safe_extract
from riskops.stores.base import EdgeTouch, NodeTouch, Store, UnitOfWork

GRAPH = "graph"
Progress = Callable[[int, int], None]


def touches(
    items: Iterable[tuple[int, Iterable[Node], Iterable[Edge]]],
) -> tuple[list[NodeTouch], list[EdgeTouch]]:
    nodes, edges = fold_touches(items)
    return (
        [(t, i, a[0], a[1], a[2]) for (t, i), a in nodes.items()],
        [(*k, a[0], a[1], a[2]) for k, a in edges.items()],
    )


class GraphProjector:
    def __init__(self, store: Store, secret: bytes, chunk: int = 20_000) -> None:
        self._store = store
        self._secret = secret
        self._chunk = chunk
        self._lock = threading.Lock()

    def lag(self) -> int:
        with self._store.begin() as uow:
            return max(0, uow.events.last_seq() - uow.cursors.get(GRAPH))

    def fold_in(
        self, uow: UnitOfWork, items: Iterable[tuple[int, Iterable[Node], Iterable[Edge]]]
    ) -> None:
        node_rows, edge_rows = touches(items)
        uow.graph.record(node_rows, edge_rows)

    def catch_up(self, progress: Progress | None = None) -> int:
        """Fold every logged event after the graph cursor; returns how many."""
        with self._lock:
            done = 0
            total: int | None = None
            while True:
                with self._store.begin(write=True) as uow:
                    cursor = uow.cursors.get(GRAPH, for_update=True)
                    if total is None:
                        total = max(0, uow.events.last_seq() - cursor)
                    rows = uow.events.read_after(cursor, self._chunk)
                    if not rows:
                        return done
                    items: list[tuple[int, Any, Any]] = []
                    for row in rows:
                        x = safe_extract(row.seq, row.body, self._secret, updates=False)
                        items.append((row.occurred_at_us, x.nodes, x.edges))
                    self.fold_in(uow, items)
                    uow.cursors.set(GRAPH, rows[-1].seq)
                    uow.commit()
                done += len(rows)
                if progress is not None:
                    progress(done, max(total, done))
