"""Backends chosen by configuration (the only place that picks an implementation)."""

from __future__ import annotations

from riskops.config import Settings
from riskops.errors import Unavailable
from riskops.stores.base import OnlineState
from riskops.stores.memory.online_state import MemoryOnlineState
from riskops.stores.sql.engine import SqlStore
from riskops.stores.sql.migrate import upgrade


def open_store(url: str) -> SqlStore:
    return SqlStore(url)


def upgrade_schema(store: SqlStore) -> None:
    upgrade(store.engine)


def open_state(settings: Settings, *, memory_only: bool = False) -> OnlineState:
    if settings.state_backend == "memory" or memory_only:
        return MemoryOnlineState()
    try:
        import redis
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise Unavailable("state_backend=redis needs the 'redis' extra") from exc
    from riskops.stores.redis.online_state import RedisOnlineState

    client = redis.Redis.from_url(settings.redis_url)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise Unavailable(f"Redis unreachable at {settings.redis_url}: {exc}") from exc
    return RedisOnlineState(client, settings.redis_prefix)


def schema_revisions(store: SqlStore) -> tuple[str | None, str]:
    """(current revision of the database, newest revision shipped)."""
    from riskops.stores.sql.migrate import current_revision, head_revision

    return current_revision(store.engine), head_revision(store.engine)
