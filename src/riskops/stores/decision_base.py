"""Store protocols of the decision side: ruleset versions, recorded decisions, the audit log.
Part of :mod:`riskops.stores.base` (the unit of work exposes them); one contract suite runs on
every backend."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class RulesetVersion:
    checkpoint: str
    version: int
    body: str
    """The ruleset as pushed (YAML text); a version is never changed once stored."""
    author: str
    note: str
    created_at_us: int


@dataclass(frozen=True, slots=True)
class ActiveRuleset:
    checkpoint: str
    version: int
    activated_by: str
    activated_at_us: int


@dataclass(frozen=True, slots=True)
class DecisionRow:
    decision_id: str
    checkpoint: str
    event_id: str
    outcome: str
    score: int
    created_at_us: int
    body: str
    """The whole decision with its trace, as JSON."""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at_us: int
    actor: str
    action: str
    subject: str
    before: str | None
    after: str | None
    id: int | None = None


class VersionExists(Exception):
    """Another writer stored the same ruleset version first."""


class Rulesets(Protocol):
    """Immutable, numbered ruleset versions per checkpoint (1, 2, ...) and which one is active.
    Rolling back is activating an older version."""

    def add(self, checkpoint: str, body: str, author: str, note: str, at_us: int) -> int:
        """Store the next version; returns its number (VersionExists if a concurrent push
        took it: retry)."""
        ...

    def get(self, checkpoint: str, version: int) -> RulesetVersion | None: ...

    def versions(self, checkpoint: str) -> list[RulesetVersion]:
        """Every version of the checkpoint, oldest first."""
        ...

    def activate(self, checkpoint: str, version: int, by: str, at_us: int) -> None: ...

    def active(self, checkpoint: str) -> ActiveRuleset | None: ...

    def active_all(self) -> list[ActiveRuleset]: ...


class Decisions(Protocol):
    def add(self, row: DecisionRow) -> None: ...

    def add_many(self, rows: Sequence[DecisionRow]) -> None:
        """Every row, in one statement (a group commit's decisions)."""
        ...

    def get(self, decision_id: str) -> DecisionRow | None: ...

    def for_event(self, checkpoint: str, event_id: str) -> DecisionRow | None:
        """The first decision made at ``checkpoint`` on event ``event_id``, if any."""
        ...


class Audit(Protocol):
    """Append-only: who did what to which subject, when, with the before and after."""

    def add(self, entry: AuditEntry) -> int: ...

    def recent(self, limit: int = 100, subject: str | None = None) -> list[AuditEntry]:
        """Newest first; ``subject`` filters by exact subject."""
        ...
