"""Shared fixtures: servers (PostgreSQL, Redis) that fail under CI=true and skip elsewhere,
throwaway databases, a runtime and an authenticated API client on SQLite."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

PG_URL = os.environ.get("RISKOPS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("RISKOPS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"


def unavailable(what: str, detail: object) -> None:
    """Fail under CI (the servers must be there), skip with the reason elsewhere."""
    reason = f"{what} is not reachable: {detail}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: integration suites must run)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_server() -> str:
    try:
        import sqlalchemy as sa

        engine = sa.create_engine(PG_URL)
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        unavailable(f"PostgreSQL at {PG_URL} (set RISKOPS_TEST_PG_URL)", exc)
    return PG_URL


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A URL whose connections live in a fresh, empty schema, dropped afterwards."""
    import sqlalchemy as sa

    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = sa.create_engine(pg_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in pg_server else "?"
    try:
        yield f"{pg_server}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session")
def redis_server() -> str:
    try:
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        client.ping()
        client.close()
    except Exception as exc:
        unavailable(f"Redis at {REDIS_URL} (set RISKOPS_TEST_REDIS_URL)", exc)
    return REDIS_URL


@pytest.fixture
def redis_prefix(redis_server: str) -> Iterator[str]:
    """A unique key prefix; every key under it is deleted afterwards."""
    import redis

    prefix = f"riskops-test:{uuid.uuid4().hex[:12]}"
    yield prefix
    client = redis.Redis.from_url(redis_server)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    for start in range(0, len(keys), 500):
        client.delete(*keys[start : start + 500])
    client.close()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{(tmp_path / 'riskops.db').as_posix()}"


@pytest.fixture
def settings_factory(tmp_path: Path) -> Callable[..., object]:
    from riskops.config import Settings

    def make(**overrides: object) -> Settings:
        values: dict[str, object] = {"data_dir": tmp_path / "data", "secret_key": "test-secret"}
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]

    return make
