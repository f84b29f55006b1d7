"""Queries of the small tables: API keys, lists, projection cursors."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from riskops.stores.base import (
    ApiKeyRow,
    ListEntry,
)
from riskops.stores.sql.dialect import insert_for
from riskops.stores.sql.tables import (
    api_keys,
    events,
    list_entries,
    projection_cursors,
)


class SqlApiKeys:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    @staticmethod
    def _row(r: Any) -> ApiKeyRow:
        return ApiKeyRow(
            r.key_id,
            r.name,
            r.secret_hash,
            tuple(r.scopes.split(",")) if r.scopes else (),  # "".split(",") is [""]
            r.created_at_us,
            r.revoked_at_us,
        )

    def add(self, row: ApiKeyRow) -> None:
        self._conn.execute(
            api_keys.insert().values(
                key_id=row.key_id,
                name=row.name,
                secret_hash=row.secret_hash,
                scopes=",".join(row.scopes),
                created_at_us=row.created_at_us,
                revoked_at_us=row.revoked_at_us,
            )
        )

    def get(self, key_id: str) -> ApiKeyRow | None:
        r = self._conn.execute(sa.select(api_keys).where(api_keys.c.key_id == key_id)).first()
        return self._row(r) if r else None

    def all(self) -> list[ApiKeyRow]:
        q = sa.select(api_keys).order_by(api_keys.c.created_at_us)
        return [self._row(r) for r in self._conn.execute(q)]

    def revoke(self, key_id: str, at_us: int) -> bool:
        res = self._conn.execute(
            api_keys.update()
            .where(api_keys.c.key_id == key_id, api_keys.c.revoked_at_us.is_(None))
            .values(revoked_at_us=at_us)
        )
        return bool(res.rowcount)


_LISTS_VERSION = "lists.version"


class SqlLists:
    def __init__(self, conn: Connection, dialect: str) -> None:
        self._conn = conn
        self._dialect = dialect

    def put(self, entry: ListEntry) -> None:
        values = {
            "list_name": entry.list_name,
            "entity_type": entry.entity_type,
            "entity_id": entry.entity_id,
            "kind": entry.kind,
            "reason": entry.reason,
            "source": entry.source,
            "created_at_us": entry.created_at_us,
            "expires_at_us": entry.expires_at_us,
        }
        ins = insert_for(self._dialect, list_entries).values(**values)
        keys = {"list_name", "entity_type", "entity_id"}
        self._conn.execute(
            ins.on_conflict_do_update(
                index_elements=sorted(keys),
                set_={k: v for k, v in values.items() if k not in keys},
            )
        )
        self._bump()

    def _bump(self) -> None:
        """Move the lists' change counter (in the same transaction as the change)."""
        moved = self._conn.execute(
            projection_cursors.update()
            .where(projection_cursors.c.name == _LISTS_VERSION)
            .values(seq=projection_cursors.c.seq + 1)
        )
        if moved.rowcount == 0:
            ins = insert_for(self._dialect, projection_cursors).values(name=_LISTS_VERSION, seq=1)
            self._conn.execute(
                ins.on_conflict_do_update(
                    index_elements=["name"], set_={"seq": projection_cursors.c.seq + 1}
                )
            )

    def version(self) -> int:
        value = self._conn.execute(
            sa.select(projection_cursors.c.seq).where(projection_cursors.c.name == _LISTS_VERSION)
        ).scalar()
        return int(value or 0)

    def entries(self, list_name: str) -> list[ListEntry]:
        q = (
            sa.select(list_entries)
            .where(list_entries.c.list_name == list_name)
            .order_by(list_entries.c.entity_type, list_entries.c.entity_id)
        )
        return [ListEntry(*r) for r in self._conn.execute(q)]

    def all(self) -> list[ListEntry]:
        q = sa.select(list_entries).order_by(list_entries.c.list_name, list_entries.c.entity_id)
        return [ListEntry(*r) for r in self._conn.execute(q)]

    def remove(self, list_name: str, entity_type: str, entity_id: str) -> bool:
        res = self._conn.execute(
            list_entries.delete().where(
                list_entries.c.list_name == list_name,
                list_entries.c.entity_type == entity_type,
                list_entries.c.entity_id == entity_id,
            )
        )
        if res.rowcount:
            self._bump()
        return bool(res.rowcount)

    def memberships(self, entity_type: str, entity_id: str, at_us: int) -> list[ListEntry]:
        q = (
            sa.select(list_entries)
            .where(
                list_entries.c.entity_type == entity_type,
                list_entries.c.entity_id == entity_id,
                sa.or_(
                    list_entries.c.expires_at_us.is_(None), list_entries.c.expires_at_us > at_us
                ),
            )
            .order_by(list_entries.c.list_name)
        )
        return [ListEntry(*r) for r in self._conn.execute(q)]

    def contains(self, list_name: str, entity_id: str, at_us: int) -> bool:
        q = (
            sa.select(sa.literal(1))
            .where(
                list_entries.c.list_name == list_name,
                list_entries.c.entity_id == entity_id,
                sa.or_(
                    list_entries.c.expires_at_us.is_(None), list_entries.c.expires_at_us > at_us
                ),
            )
            .limit(1)
        )
        return self._conn.execute(q).first() is not None


_LOCK_CURSOR = (
    "INSERT INTO projection_cursors (name, seq) VALUES (%s, 0) ON CONFLICT (name) "
    "DO UPDATE SET seq = projection_cursors.seq RETURNING seq"
)


class SqlCursors:
    def __init__(self, conn: Connection, dialect: str) -> None:
        self._conn = conn
        self._dialect = dialect

    def get(self, name: str, *, for_update: bool = False) -> int:
        if for_update and self._dialect == "postgresql":
            # One round trip: create the row if missing, lock it and return its value. ON
            # CONFLICT DO UPDATE locks and returns the latest committed version of the row
            # (not the statement's snapshot), so a value moved while we waited is seen.
            value = self._conn.exec_driver_sql(_LOCK_CURSOR, (name,)).scalar()
            return int(value or 0)
        q = sa.select(projection_cursors.c.seq).where(projection_cursors.c.name == name)
        value = self._conn.execute(q).scalar()
        return int(value or 0)

    def set(self, name: str, seq: int) -> None:
        ins = insert_for(self._dialect, projection_cursors).values(name=name, seq=seq)
        self._conn.execute(ins.on_conflict_do_update(index_elements=["name"], set_={"seq": seq}))

    def advance(self, name: str, expected: int, seq: int) -> bool:
        moved = self._conn.execute(
            projection_cursors.update()
            .where(projection_cursors.c.name == name, projection_cursors.c.seq == expected)
            .values(seq=seq)
        )
        if moved.rowcount == 1:
            return True
        if expected != 0:
            return False
        ins = insert_for(self._dialect, projection_cursors).values(name=name, seq=seq)
        created = ins.on_conflict_do_nothing().returning(projection_cursors.c.seq)
        return self._conn.execute(created).first() is not None

    def advance_past_log(self, name: str, first_new: int, seq: int) -> bool:
        # A statement that starts after the append lock was granted: its snapshot holds every
        # event committed before ours.
        caught_up = (
            sa.select(sa.func.coalesce(sa.func.max(events.c.seq), 0))
            .where(events.c.seq < first_new)
            .scalar_subquery()
        )
        moved = self._conn.execute(
            projection_cursors.update()
            .where(projection_cursors.c.name == name, projection_cursors.c.seq == caught_up)
            .values(seq=seq)
        )
        if moved.rowcount == 1:
            return True
        before = self._conn.execute(sa.select(caught_up)).scalar_one()  # e.g. no cursor yet
        return self.advance(name, int(before), seq)
