"""Alembic environment: the engine comes from riskops (``config.attributes["engine"]``)."""

from __future__ import annotations

from alembic import context

from riskops.stores.sql.tables import metadata

engine = context.config.attributes["engine"]
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
