"""Reading the whole event log once, in order, a chunk per transaction (backtests and
analytics)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from riskops.stores.base import Store, StoredEvent

Progress = Callable[[int, int], None]
"""Called after each chunk with (last sequence read, the log's last sequence)."""
CHUNK = 20_000


def scan_log(store: Store, progress: Progress | None = None) -> Iterator[StoredEvent]:
    with store.begin() as uow:
        total = uow.events.last_seq()
    cursor = 0
    while True:
        with store.begin() as uow:
            rows = uow.events.read_after(cursor, CHUNK)
        if not rows:
            return
        yield from rows
        cursor = rows[-1].seq
        if progress is not None:
            progress(cursor, max(total, cursor))
