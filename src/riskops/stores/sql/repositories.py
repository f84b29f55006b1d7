"""Every SQL query of riskops lives here, one repository per table group."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from riskops.stores.base import (
    ApiKeyRow,
    EdgeTouch,
    HopNode,
    Link,
    ListEntry,
    NewEvent,
    NodeInfo,
    NodeTouch,
    StoredEvent,
)
from riskops.stores.sql.tables import (
    api_keys,
    edges,
    entities,
    events,
    list_entries,
    projection_cursors,
)

# Appends to the log hold this transaction-level advisory lock on PostgreSQL so that ``seq``
# order is commit order (readers tail the log by seq and must never miss a late commit).
_PG_APPEND_LOCK = 727_001


def _insert(dialect: str, table: sa.Table) -> Any:
    if dialect == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


_INSERT_EVENT = (
    "INSERT INTO events (event_id, type, schema_version, occurred_at_us, received_at_us, "
    "market, user_id, device_fp, ip, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (event_id) DO NOTHING"
)
_COPY_FROM = 200
"""PostgreSQL batches at least this big go through COPY (executemany below)."""
_EVENT_COLUMNS = (
    "event_id, type, schema_version, occurred_at_us, received_at_us, market, user_id, "
    "device_fp, ip, body"
)
_STAGE_EVENTS = (
    "CREATE TEMP TABLE IF NOT EXISTS events_stage (ordinal integer, event_id varchar(128), "
    "type varchar(64), schema_version smallint, occurred_at_us bigint, received_at_us bigint, "
    "market varchar(2), user_id varchar(128), device_fp varchar(128), ip varchar(45), "
    "body text) ON COMMIT DELETE ROWS"
)
_COPY_STAGE = f"COPY events_stage (ordinal, {_EVENT_COLUMNS}) FROM STDIN"
_INSERT_FROM_STAGE = (
    f"INSERT INTO events ({_EVENT_COLUMNS}) "  # noqa: S608 - constant column list only
    f"SELECT {_EVENT_COLUMNS} FROM events_stage ORDER BY ordinal "
    "ON CONFLICT (event_id) DO NOTHING"
)
_UPSERT_NODE = (
    "INSERT INTO entities (type, id, first_seen_us, last_seen_us, events) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (type, id) DO UPDATE SET "
    "first_seen_us = {least}(entities.first_seen_us, excluded.first_seen_us), "
    "last_seen_us = {greatest}(entities.last_seen_us, excluded.last_seen_us), "
    "events = entities.events + excluded.events"
)
_UPSERT_EDGE = (
    "INSERT INTO edges (src_type, src_id, dst_type, dst_id, first_seen_us, last_seen_us, "
    "count) VALUES (?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (src_type, src_id, dst_type, dst_id) DO UPDATE SET "
    "first_seen_us = {least}(edges.first_seen_us, excluded.first_seen_us), "
    "last_seen_us = {greatest}(edges.last_seen_us, excluded.last_seen_us), "
    "count = edges.count + excluded.count"
)


def _sql(dialect: str, template: str) -> str:
    """Driver SQL for a dialect: SQLite's scalar min/max and ``?``; PostgreSQL's
    LEAST/GREATEST and ``%s``."""
    if dialect == "postgresql":
        return template.format(least="LEAST", greatest="GREATEST").replace("?", "%s")
    return template.format(least="min", greatest="max")


class SqlEventLog:
    def __init__(self, conn: Connection, dialect: str) -> None:
        self._conn = conn
        self._dialect = dialect
        self._locked = False

    def lock_for_append(self) -> None:
        if self._dialect == "postgresql" and not self._locked:
            self._conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_APPEND_LOCK)))
            self._locked = True

    def append(self, batch: Sequence[NewEvent]) -> dict[str, int]:
        if not batch:
            return {}
        self.lock_for_append()
        before = self.last_seq()
        rows = [
            (
                e.event_id,
                e.type,
                e.schema_version,
                e.occurred_at_us,
                e.received_at_us,
                e.market,
                e.user_id,
                e.device_fp,
                e.ip,
                e.body,
            )
            for e in batch
        ]
        if self._dialect == "postgresql" and len(rows) >= _COPY_FROM:
            self._copy_append(rows)
        else:
            # Raw driver executemany: no per-row statement compile. ON CONFLICT skips ids
            # already logged, and repeats inside the batch after the first.
            self._conn.exec_driver_sql(_sql(self._dialect, _INSERT_EVENT), rows)
        new = self._conn.exec_driver_sql(
            _sql(self._dialect, "SELECT event_id, seq FROM events WHERE seq > ?"), (before,)
        )
        return {str(eid): int(seq) for eid, seq in new.fetchall()}

    def _copy_append(self, rows: list[tuple[Any, ...]]) -> None:
        """PostgreSQL bulk path: COPY into a transaction-scoped staging table, then one
        INSERT … SELECT in input order (so seq follows the batch, and the first of repeated
        ids wins) that skips ids already logged."""
        self._conn.exec_driver_sql(_STAGE_EVENTS)
        raw: Any = self._conn.connection.driver_connection
        with raw.cursor() as cur, cur.copy(_COPY_STAGE) as copy:
            for ordinal, row in enumerate(rows):
                copy.write_row((ordinal, *row))
        self._conn.exec_driver_sql(_INSERT_FROM_STAGE)

    def read_after(self, seq: int, limit: int) -> list[StoredEvent]:
        q = (
            sa.select(
                events.c.seq,
                events.c.event_id,
                events.c.type,
                events.c.occurred_at_us,
                events.c.received_at_us,
                events.c.body,
            )
            .where(events.c.seq > seq)
            .order_by(events.c.seq)
            .limit(limit)
        )
        return [StoredEvent(*row) for row in self._conn.execute(q)]

    def last_seq(self) -> int:
        value = self._conn.execute(sa.select(sa.func.max(events.c.seq))).scalar()
        return int(value or 0)

    def count(self) -> int:
        return int(self._conn.execute(sa.select(sa.func.count()).select_from(events)).scalar_one())

    def get(self, event_id: str) -> StoredEvent | None:
        row = self._conn.execute(
            sa.select(
                events.c.seq,
                events.c.event_id,
                events.c.type,
                events.c.occurred_at_us,
                events.c.received_at_us,
                events.c.body,
            ).where(events.c.event_id == event_id)
        ).first()
        return StoredEvent(*row) if row else None

    def seqs(self, event_ids: Sequence[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        ids = list(dict.fromkeys(event_ids))
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            q = sa.select(events.c.event_id, events.c.seq).where(events.c.event_id.in_(chunk))
            out.update({row.event_id: row.seq for row in self._conn.execute(q)})
        return out


class SqlGraph:
    def __init__(self, conn: Connection, dialect: str) -> None:
        self._conn = conn
        self._dialect = dialect

    def record(self, nodes: Sequence[NodeTouch], edge_touches: Sequence[EdgeTouch]) -> None:
        if nodes:
            self._conn.exec_driver_sql(
                _sql(self._dialect, _UPSERT_NODE),
                nodes,
            )
        if edge_touches:
            self._conn.exec_driver_sql(
                _sql(self._dialect, _UPSERT_EDGE),
                edge_touches,
            )

    def node(self, entity_type: str, entity_id: str) -> NodeInfo | None:
        row = self._conn.execute(
            sa.select(entities).where(entities.c.type == entity_type, entities.c.id == entity_id)
        ).first()
        return NodeInfo(*row) if row else None

    def _link_queries(
        self, entity_type: str, entity_id: str, since_us: int | None, types: Sequence[str] | None
    ) -> tuple[sa.Select[Any], sa.Select[Any]]:
        out_q = sa.select(
            edges.c.dst_type.label("type"),
            edges.c.dst_id.label("id"),
            sa.literal("out").label("direction"),
            edges.c.first_seen_us,
            edges.c.last_seen_us,
            edges.c.count,
        ).where(edges.c.src_type == entity_type, edges.c.src_id == entity_id)
        in_q = sa.select(
            edges.c.src_type.label("type"),
            edges.c.src_id.label("id"),
            sa.literal("in").label("direction"),
            edges.c.first_seen_us,
            edges.c.last_seen_us,
            edges.c.count,
        ).where(edges.c.dst_type == entity_type, edges.c.dst_id == entity_id)
        if since_us is not None:
            out_q = out_q.where(edges.c.last_seen_us >= since_us)
            in_q = in_q.where(edges.c.last_seen_us >= since_us)
        if types:
            out_q = out_q.where(edges.c.dst_type.in_(list(types)))
            in_q = in_q.where(edges.c.src_type.in_(list(types)))
        return out_q, in_q

    def links(
        self,
        entity_type: str,
        entity_id: str,
        *,
        limit: int = 100,
        since_us: int | None = None,
        types: Sequence[str] | None = None,
    ) -> list[Link]:
        out_q, in_q = self._link_queries(entity_type, entity_id, since_us, types)
        # Each side is limited on its own (index order) before the union, so a hub entity with
        # millions of edges costs no more than ``limit`` rows per side.
        out_q = out_q.order_by(edges.c.last_seen_us.desc()).limit(limit)
        in_q = in_q.order_by(edges.c.last_seen_us.desc()).limit(limit)
        rows = [Link(*r) for r in self._conn.execute(out_q)]
        rows += [Link(*r) for r in self._conn.execute(in_q)]
        rows.sort(key=lambda link: link.last_seen_us, reverse=True)
        return rows[:limit]

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
        if not 1 <= k <= 3:
            raise ValueError("k must be between 1 and 3")
        if max_nodes < 1:
            return []
        start = (entity_type, entity_id)
        seen: set[tuple[str, str]] = {start}
        found: list[HopNode] = []
        frontier = [start]
        for depth in range(1, k + 1):
            next_frontier: list[tuple[str, str]] = []
            for node_type, node_id in frontier:
                for link in self.links(node_type, node_id, limit=per_node_limit, since_us=since_us):
                    key = (link.type, link.id)
                    if key in seen:
                        continue
                    seen.add(key)
                    found.append(HopNode(link.type, link.id, depth, node_type, node_id))
                    next_frontier.append(key)
                    if len(found) >= max_nodes:
                        return found
            frontier = next_frontier
        return found

    def users_sharing(self, entity_type: str, entity_id: str, *, since_us: int) -> int:
        q = sa.select(sa.func.count(sa.distinct(edges.c.src_id))).where(
            edges.c.dst_type == entity_type,
            edges.c.dst_id == entity_id,
            edges.c.src_type == "user",
            edges.c.last_seen_us >= since_us,
        )
        return int(self._conn.execute(q).scalar_one())


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
        ins = _insert(self._dialect, list_entries).values(**values)
        keys = {"list_name", "entity_type", "entity_id"}
        self._conn.execute(
            ins.on_conflict_do_update(
                index_elements=sorted(keys),
                set_={k: v for k, v in values.items() if k not in keys},
            )
        )

    def remove(self, list_name: str, entity_type: str, entity_id: str) -> bool:
        res = self._conn.execute(
            list_entries.delete().where(
                list_entries.c.list_name == list_name,
                list_entries.c.entity_type == entity_type,
                list_entries.c.entity_id == entity_id,
            )
        )
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


class SqlCursors:
    def __init__(self, conn: Connection, dialect: str) -> None:
        self._conn = conn
        self._dialect = dialect

    def get(self, name: str, *, for_update: bool = False) -> int:
        q = sa.select(projection_cursors.c.seq).where(projection_cursors.c.name == name)
        if for_update and self._dialect == "postgresql":
            # make sure the row exists so that it can be locked
            self._conn.execute(
                postgresql.insert(projection_cursors)
                .values(name=name, seq=0)
                .on_conflict_do_nothing(index_elements=["name"])
            )
            q = q.with_for_update()
        value = self._conn.execute(q).scalar()
        return int(value or 0)

    def set(self, name: str, seq: int) -> None:
        ins = _insert(self._dialect, projection_cursors).values(name=name, seq=seq)
        self._conn.execute(ins.on_conflict_do_update(index_elements=["name"], set_={"seq": seq}))
