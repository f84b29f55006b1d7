"""The decision side's SQL repositories: ruleset versions, decisions, the audit log."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from riskops.stores.decision_base import (
    ActiveRuleset,
    AuditEntry,
    DecisionRow,
    RulesetVersion,
    VersionExists,
)
from riskops.stores.sql.dialect import insert_for
from riskops.stores.sql.tables import active_rulesets, audit_log, decisions, ruleset_versions


class SqlRulesets:
    def __init__(self, conn: Connection, dialect: str) -> None:
        self._conn = conn
        self._dialect = dialect

    def add(self, checkpoint: str, body: str, author: str, note: str, at_us: int) -> int:
        last = self._conn.execute(
            sa.select(sa.func.max(ruleset_versions.c.version)).where(
                ruleset_versions.c.checkpoint == checkpoint
            )
        ).scalar()
        version = int(last or 0) + 1
        try:
            with self._conn.begin_nested():
                self._conn.execute(
                    ruleset_versions.insert().values(
                        checkpoint=checkpoint,
                        version=version,
                        body=body,
                        author=author,
                        note=note,
                        created_at_us=at_us,
                    )
                )
        except IntegrityError:
            raise VersionExists(f"{checkpoint} version {version} was just stored") from None
        return version

    def get(self, checkpoint: str, version: int) -> RulesetVersion | None:
        row = self._conn.execute(
            sa.select(ruleset_versions).where(
                ruleset_versions.c.checkpoint == checkpoint,
                ruleset_versions.c.version == version,
            )
        ).first()
        return RulesetVersion(*row) if row else None

    def versions(self, checkpoint: str) -> list[RulesetVersion]:
        q = (
            sa.select(ruleset_versions)
            .where(ruleset_versions.c.checkpoint == checkpoint)
            .order_by(ruleset_versions.c.version)
        )
        return [RulesetVersion(*row) for row in self._conn.execute(q)]

    def activate(self, checkpoint: str, version: int, by: str, at_us: int) -> None:
        values = {"version": version, "activated_by": by, "activated_at_us": at_us}
        ins = insert_for(self._dialect, active_rulesets).values(checkpoint=checkpoint, **values)
        self._conn.execute(ins.on_conflict_do_update(index_elements=["checkpoint"], set_=values))

    def active(self, checkpoint: str) -> ActiveRuleset | None:
        row = self._conn.execute(
            sa.select(active_rulesets).where(active_rulesets.c.checkpoint == checkpoint)
        ).first()
        return ActiveRuleset(*row) if row else None

    def active_all(self) -> list[ActiveRuleset]:
        q = sa.select(active_rulesets).order_by(active_rulesets.c.checkpoint)
        return [ActiveRuleset(*row) for row in self._conn.execute(q)]


class SqlDecisions:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, row: DecisionRow) -> None:
        self.add_many([row])

    def add_many(self, rows: Sequence[DecisionRow]) -> None:
        if rows:  # one compiled statement, executed for every row
            self._conn.execute(decisions.insert(), [_decision_values(r) for r in rows])

    def get(self, decision_id: str) -> DecisionRow | None:
        row = self._conn.execute(
            sa.select(decisions).where(decisions.c.decision_id == decision_id)
        ).first()
        return DecisionRow(*row) if row else None

    def for_event(self, checkpoint: str, event_id: str) -> DecisionRow | None:
        row = self._conn.execute(
            sa.select(decisions)
            .where(decisions.c.event_id == event_id, decisions.c.checkpoint == checkpoint)
            .order_by(decisions.c.created_at_us, decisions.c.decision_id)
            .limit(1)
        ).first()
        return DecisionRow(*row) if row else None


def _decision_values(row: DecisionRow) -> dict[str, object]:
    return {
        "decision_id": row.decision_id,
        "checkpoint": row.checkpoint,
        "event_id": row.event_id,
        "outcome": row.outcome,
        "score": row.score,
        "created_at_us": row.created_at_us,
        "body": row.body,
    }


class SqlAudit:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, entry: AuditEntry) -> int:
        result = self._conn.execute(
            audit_log.insert()
            .values(
                at_us=entry.at_us,
                actor=entry.actor,
                action=entry.action,
                subject=entry.subject,
                before=entry.before,
                after=entry.after,
            )
            .returning(audit_log.c.id)
        )
        return int(result.scalar_one())

    def recent(self, limit: int = 100, subject: str | None = None) -> list[AuditEntry]:
        q = sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        if subject is not None:
            q = q.where(audit_log.c.subject == subject)
        return [
            AuditEntry(r.at_us, r.actor, r.action, r.subject, r.before, r.after, r.id)
            for r in self._conn.execute(q)
        ]
