"""Block / allow / watch lists: the audited use cases, and an in-memory copy for the decision
path, reloaded when the lists change (every change moves a counter in the same transaction;
the counter is checked at most every ``reload_s`` seconds, so every API process sees a change
within that time)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from riskops.core.entities import ENTITY_TYPES
from riskops.core.events.envelope import from_us, iso, to_us
from riskops.errors import NotFound, Problem, ValidationFailed
from riskops.stores.base import ListEntry, Store
from riskops.stores.decision_base import AuditEntry


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

    def snapshot(self) -> list[ListEntry]:
        """Every entry held (expired ones too: callers check expiry at their own time)."""
        return [e for entries in self._by_name.values() for e in entries]

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


LIST_KINDS = ("block", "allow", "watch")
_NAME_OK = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-.")


class ListsService:
    """Block / allow / watch list entries with reason, source and an optional time to live;
    every change is audited (who, when, before and after)."""

    def __init__(self, store: Store, clock: Callable[[], Any]) -> None:
        self._store = store
        self._clock = clock

    def put(
        self,
        list_name: str,
        entity_type: str,
        entity_id: str,
        *,
        kind: str,
        reason: str,
        source: str,
        actor: str,
        ttl_s: int | None = None,
    ) -> ListEntry:
        problems = _check(list_name, entity_type, entity_id)
        if kind not in LIST_KINDS:
            problems.append(Problem("kind", f"must be one of {', '.join(LIST_KINDS)}"))
        if not reason.strip() or len(reason) > 500:
            problems.append(Problem("reason", "required, at most 500 characters"))
        if not source.strip() or len(source) > 100:
            problems.append(Problem("source", "required, at most 100 characters"))
        if ttl_s is not None and (
            isinstance(ttl_s, bool) or not isinstance(ttl_s, int) or ttl_s <= 0
        ):
            problems.append(Problem("ttl_s", "a positive number of seconds, or none"))
        if problems:
            raise ValidationFailed("invalid list entry", problems)
        now = to_us(self._clock())
        expires = now + ttl_s * 1_000_000 if ttl_s else None
        entry = ListEntry(list_name, entity_type, entity_id, kind, reason, source, now, expires)
        with self._store.begin(write=True) as uow:
            before = _find(uow.lists.entries(list_name), entity_type, entity_id)
            uow.lists.put(entry)
            uow.audit.add(
                AuditEntry(
                    now,
                    actor,
                    "list.put",
                    f"list:{list_name}",
                    _json(before) if before else None,
                    _json(entry),
                )
            )
            uow.commit()
        return entry

    def remove(self, list_name: str, entity_type: str, entity_id: str, *, actor: str) -> None:
        problems = _check(list_name, entity_type, entity_id)
        if problems:
            raise ValidationFailed("invalid list entry", problems)
        now = to_us(self._clock())
        with self._store.begin(write=True) as uow:
            before = [
                e
                for e in uow.lists.all()
                if (e.list_name, e.entity_type, e.entity_id) == (list_name, entity_type, entity_id)
            ]
            if not uow.lists.remove(list_name, entity_type, entity_id):
                raise NotFound(f"{entity_type} {entity_id!r} is not on list {list_name!r}")
            uow.audit.add(
                AuditEntry(
                    now,
                    actor,
                    "list.remove",
                    f"list:{list_name}",
                    _json(before[0]) if before else None,
                    None,
                )
            )
            uow.commit()

    def entries(self, list_name: str, *, include_expired: bool = False) -> list[ListEntry]:
        now = to_us(self._clock())
        with self._store.begin() as uow:
            found = [e for e in uow.lists.all() if e.list_name == list_name]
        return [
            e for e in found if include_expired or e.expires_at_us is None or e.expires_at_us > now
        ]


def _find(entries: list[ListEntry], entity_type: str, entity_id: str) -> ListEntry | None:
    return next(
        (e for e in entries if (e.entity_type, e.entity_id) == (entity_type, entity_id)), None
    )


def _check(list_name: str, entity_type: str, entity_id: str) -> list[Problem]:
    problems = []
    if not list_name or len(list_name) > 100 or not set(list_name) <= _NAME_OK:
        problems.append(Problem("list", "1-100 characters: lowercase letters, digits, _ - ."))
    if entity_type not in ENTITY_TYPES:
        problems.append(Problem("entity_type", f"must be one of {', '.join(ENTITY_TYPES)}"))
    if not entity_id or len(entity_id) > 128:
        problems.append(Problem("entity_id", "1-128 characters"))
    return problems


def list_entry_dict(e: ListEntry) -> dict[str, Any]:
    return {
        "list": e.list_name,
        "entity_type": e.entity_type,
        "entity_id": e.entity_id,
        "kind": e.kind,
        "reason": e.reason,
        "source": e.source,
        "created_at": iso(from_us(e.created_at_us)),
        "expires_at": iso(from_us(e.expires_at_us)) if e.expires_at_us else None,
    }


def _json(e: ListEntry) -> str:
    return json.dumps(list_entry_dict(e), ensure_ascii=False)
