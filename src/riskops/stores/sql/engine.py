"""Engines for SQLite (embedded default) and PostgreSQL, and the SQL unit of work."""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Connection, Engine

from riskops.errors import Unavailable
from riskops.stores.sql.decisions import SqlAudit, SqlDecisions, SqlRulesets
from riskops.stores.sql.event_log import SqlEventLog
from riskops.stores.sql.graph import SqlGraph
from riskops.stores.sql.registry import SqlApiKeys, SqlCursors, SqlLists

_WRITE = "riskops_write"


def _sqlite_engine(url: str) -> Engine:
    path = sa.make_url(url).database
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @sa_event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control from the driver so BEGIN IMMEDIATE can be issued.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        # FULL: the WAL is fsynced at every commit, so an acknowledged event survives power
        # loss, not only a crash of the process.
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA cache_size=-65536")
        cur.close()

    @sa_event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the write lock up front: no lock upgrade, no SQLITE_BUSY deadlock.
        mode = "BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN"
        conn.exec_driver_sql(mode)

    return engine


def create_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    return sa.create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


class SqlUnitOfWork:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        dialect = conn.dialect.name
        self.events = SqlEventLog(conn, dialect)
        self.graph = SqlGraph(conn, dialect)
        self.keys = SqlApiKeys(conn)
        self.lists = SqlLists(conn, dialect)
        self.cursors = SqlCursors(conn, dialect)
        self.rulesets = SqlRulesets(conn, dialect)
        self.decisions = SqlDecisions(conn)
        self.audit = SqlAudit(conn)

    def commit(self) -> None:
        self._conn.commit()


class _WriterQueue:
    """Writers of one SQLite file, across processes, queue on an advisory file lock before
    they take SQLite's write lock. SQLite makes a blocked writer poll (sleeping 1, 2, 5, 10 …
    ms between tries), which adds milliseconds to every contended commit; a process blocked
    on the file lock is woken by the kernel the moment the holder lets go."""

    def __init__(self, path: str | None) -> None:
        self._fd: int | None = None
        self._local = threading.Lock()  # flock is per open file: threads queue here first
        if path and path != ":memory:":
            self._fd = os.open(f"{path}.writer-lock", os.O_RDWR | os.O_CREAT, 0o644)

    def acquire(self) -> None:
        self._local.acquire()
        if self._fd is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            except BaseException:
                self._local.release()
                raise

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._local.release()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class SqlStore:
    """The :class:`~riskops.stores.base.Store` on SQLAlchemy."""

    def __init__(self, url: str, engine: Engine | None = None) -> None:
        self.url = url
        self.engine = engine or create_engine(url)
        self.dialect = self.engine.dialect.name
        self._writers = _WriterQueue(self.engine.url.database) if self.dialect == "sqlite" else None

    @contextmanager
    def begin(self, *, write: bool = False) -> Iterator[SqlUnitOfWork]:
        try:
            conn = self.engine.connect()
        except sa.exc.OperationalError as exc:
            raise Unavailable(f"database unreachable: {exc.orig}") from exc
        queued = False
        try:
            if write:
                conn = conn.execution_options(**{_WRITE: True})
            if write and self._writers is not None:
                self._writers.acquire()
                queued = True  # only what was taken is let go
            yield SqlUnitOfWork(conn)  # SQLAlchemy begins on first use
        finally:
            if conn.in_transaction():
                conn.rollback()
            conn.close()
            if queued:
                assert self._writers is not None
                self._writers.release()

    def ping(self) -> None:
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError as exc:
            raise Unavailable(f"database unreachable: {exc}") from exc

    def close(self) -> None:
        self.engine.dispose()
        if self._writers is not None:
            self._writers.close()
