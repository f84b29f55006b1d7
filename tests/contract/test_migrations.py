"""The alembic migrations, on SQLite and on the real PostgreSQL: they reach head from an empty
database, a second upgrade changes nothing, the migrated schema is exactly
``riskops.stores.sql.tables.metadata``, and a downgrade to base removes every table."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from riskops.stores.sql.engine import SqlStore
from riskops.stores.sql.migrate import alembic_config, current_revision, head_revision, upgrade
from riskops.stores.sql.tables import metadata

VERSION_TABLE = "alembic_version"
OUR_TABLES = set(metadata.tables)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Iterator[sa.Engine]:
    """An engine (with the store's connection set-up) on an empty database."""
    url_fixture = "sqlite_url" if request.param == "sqlite" else "pg_url"
    store = SqlStore(request.getfixturevalue(url_fixture))
    try:
        yield store.engine
    finally:
        store.close()


def table_names(engine: sa.Engine) -> set[str]:
    with engine.connect() as conn:
        names = set(sa.inspect(conn).get_table_names())
        conn.rollback()
    return names


def schema_diff(engine: sa.Engine, target: sa.MetaData) -> list[Any]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff: list[Any] = compare_metadata(context, target)
        conn.rollback()
    return diff


def copy_of_metadata() -> sa.MetaData:
    copy = sa.MetaData(naming_convention=metadata.naming_convention)
    for table in metadata.tables.values():
        table.to_metadata(copy)
    return copy


def test_upgrade_of_an_empty_database_reaches_head(engine: sa.Engine) -> None:
    assert table_names(engine) == set()
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == head_revision(engine)
    assert table_names(engine) == OUR_TABLES | {VERSION_TABLE}


def test_a_second_upgrade_is_a_no_op(engine: sa.Engine) -> None:
    upgrade(engine)
    store = SqlStore("unused", engine=engine)
    with store.begin(write=True) as uow:
        uow.cursors.set("graph", 42)
        uow.commit()

    statements: list[str] = []

    def capture(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", capture)
    try:
        upgrade(engine)
    finally:
        sa.event.remove(engine, "before_cursor_execute", capture)

    changes = [
        s
        for s in statements
        if s.split(None, 1)[0].upper() in {"CREATE", "ALTER", "DROP", "INSERT", "UPDATE", "DELETE"}
    ]
    assert statements, "the second upgrade did not even read the version"
    assert changes == []
    assert current_revision(engine) == head_revision(engine)
    with store.begin() as uow:
        assert uow.cursors.get("graph") == 42


def test_the_migrated_schema_is_exactly_the_metadata(engine: sa.Engine) -> None:
    upgrade(engine)
    # No diff at all: tables, columns, types, nullability, indexes, unique constraints. The
    # events.seq column is BIGINT on PostgreSQL and INTEGER on SQLite (only a column typed
    # exactly INTEGER aliases the rowid there, so it auto-increments). The migration and the
    # metadata declare the same variant, and alembic compares the type each dialect actually
    # gets, so that column needs no special handling - and none is applied: see the next test.
    assert schema_diff(engine, metadata) == []


def test_the_schema_comparison_sees_type_changes(engine: sa.Engine) -> None:
    """The empty diff above means something: a changed column type is reported, and on SQLite
    a plain BIGINT ``seq`` (without the INTEGER variant) would be too."""
    upgrade(engine)
    wider = copy_of_metadata()
    wider.tables["events"].c.market.type = sa.String(3)
    assert [(d[0][0], d[0][2], d[0][3]) for d in schema_diff(engine, wider)] == [
        ("modify_type", "events", "market")
    ]

    plain_seq = copy_of_metadata()
    plain_seq.tables["events"].c.seq.type = sa.BigInteger()
    expected = [("modify_type", "events", "seq")] if engine.dialect.name == "sqlite" else []
    assert [(d[0][0], d[0][2], d[0][3]) for d in schema_diff(engine, plain_seq)] == expected


def test_downgrade_to_base_removes_the_tables(engine: sa.Engine) -> None:
    upgrade(engine)
    command.downgrade(alembic_config(engine), "base")
    assert current_revision(engine) is None
    assert table_names(engine) - {VERSION_TABLE} == set()
    # and the way back up still works
    upgrade(engine)
    assert current_revision(engine) == head_revision(engine)
    assert schema_diff(engine, metadata) == []
