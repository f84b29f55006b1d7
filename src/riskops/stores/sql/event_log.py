"""The event log's queries: append (executemany, or COPY on PostgreSQL), reads by seq."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from riskops.stores.base import (
    NewEvent,
    StoredEvent,
)
from riskops.stores.sql.dialect import driver_sql
from riskops.stores.sql.tables import (
    events,
)

# Appends to the log hold this transaction-level advisory lock on PostgreSQL so that ``seq``
# order is commit order (readers tail the log by seq and must never miss a late commit).
_PG_APPEND_LOCK = 727_001


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
    "ON CONFLICT (event_id) DO NOTHING RETURNING event_id, seq"
)
_INSERT_JSON = (
    f"INSERT INTO events ({_EVENT_COLUMNS}) "  # noqa: S608 - constant column list only
    "SELECT r->>0, r->>1, (r->>2)::smallint, (r->>3)::bigint, (r->>4)::bigint, r->>5, r->>6, "
    "r->>7, r->>8, r->>9 FROM json_array_elements(%s::json) WITH ORDINALITY AS t(r, ordinal) "
    "ORDER BY ordinal ON CONFLICT (event_id) DO NOTHING RETURNING event_id, seq"
)
"""The batch as one JSON array of rows (serialised in C; psycopg's array dumper is Python)."""


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
        if self._dialect == "postgresql":
            # One statement, one round trip: the rows as one JSON array, or through
            # COPY when the batch is big; inserted in input order, RETURNING what was new.
            # ON CONFLICT skips ids already logged, and repeats inside the batch after the first.
            if len(rows) >= _COPY_FROM:
                new = self._copy_append(rows)
            else:
                new = self._conn.exec_driver_sql(_INSERT_JSON, (orjson.dumps(rows).decode(),))
            return {str(eid): int(seq) for eid, seq in new.fetchall()}
        before = self.last_seq()
        # Raw driver executemany: no per-row statement compile.
        self._conn.exec_driver_sql(driver_sql(self._dialect, _INSERT_EVENT), rows)
        new = self._conn.exec_driver_sql(
            driver_sql(self._dialect, "SELECT event_id, seq FROM events WHERE seq > ?"), (before,)
        )
        return {str(eid): int(seq) for eid, seq in new.fetchall()}

    def _copy_append(self, rows: list[tuple[Any, ...]]) -> Any:
        """PostgreSQL bulk path: COPY into a transaction-scoped staging table, then one
        INSERT … SELECT in input order (so seq follows the batch, and the first of repeated
        ids wins) that skips ids already logged."""
        self._conn.exec_driver_sql(_STAGE_EVENTS)
        raw: Any = self._conn.connection.driver_connection
        with raw.cursor() as cur, cur.copy(_COPY_STAGE) as copy:
            for ordinal, row in enumerate(rows):
                copy.write_row((ordinal, *row))
        return self._conn.exec_driver_sql(_INSERT_FROM_STAGE)

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
