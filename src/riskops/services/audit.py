"""Reading the audit log (entries are written by the services that make the changes, in the
same transaction as the change)."""

from __future__ import annotations

import json
from typing import Any

from riskops.core.events.envelope import from_us, iso
from riskops.stores.base import Store


class AuditService:
    def __init__(self, store: Store) -> None:
        self._store = store

    def recent(self, limit: int = 100, subject: str | None = None) -> list[dict[str, Any]]:
        with self._store.begin() as uow:
            entries = uow.audit.recent(limit, subject)
        return [
            {
                "id": e.id,
                "at": iso(from_us(e.at_us)),
                "actor": e.actor,
                "action": e.action,
                "subject": e.subject,
                "before": json.loads(e.before) if e.before else None,
                "after": json.loads(e.after) if e.after else None,
            }
            for e in entries
        ]
