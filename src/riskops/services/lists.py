"""An in-memory copy of the block / allow / watch lists for the decision path, reloaded when the
lists change (every change moves a counter in the same transaction; the counter is checked at
most every ``reload_s`` seconds, so every API process sees a change within that time)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from riskops.stores.base import ListEntry, Store


class ListsCache:
    def __init__(self, store: Store, reload_s: float = 1.0) -> None:
        self._store = store
        self._reload_s = reload_s
        self._lock = threading.Lock()
        self._version = -1
        self._checked_at = float("-inf")
        self._by_name: dict[tuple[str, str], list[ListEntry]] = {}
        self._by_entity: dict[tuple[str, str], list[ListEntry]] = {}

    def refresh(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        now = monotonic()
        if now - self._checked_at < self._reload_s:
            return
        with self._lock:
            if now - self._checked_at < self._reload_s:
                return
            with self._store.begin() as uow:
                version = uow.lists.version()
                entries = uow.lists.all() if version != self._version else None
            if entries is not None:
                by_name: dict[tuple[str, str], list[ListEntry]] = {}
                by_entity: dict[tuple[str, str], list[ListEntry]] = {}
                for e in entries:
                    by_name.setdefault((e.list_name, e.entity_id), []).append(e)
                    by_entity.setdefault((e.entity_type, e.entity_id), []).append(e)
                self._by_name, self._by_entity, self._version = by_name, by_entity, version
            self._checked_at = now

    def contains(self, list_name: str, entity_id: str, at_us: int) -> bool:
        return any(
            e.expires_at_us is None or e.expires_at_us > at_us
            for e in self._by_name.get((list_name, entity_id), ())
        )

    def memberships(self, entity_type: str, entity_id: str, at_us: int) -> list[ListEntry]:
        return [
            e
            for e in self._by_entity.get((entity_type, entity_id), ())
            if e.expires_at_us is None or e.expires_at_us > at_us
        ]
