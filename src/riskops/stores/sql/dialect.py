"""What differs between SQLite and PostgreSQL in the hand-written SQL of the stores."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite


def insert_for(dialect: str, table: sa.Table) -> Any:
    if dialect == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def driver_sql(dialect: str, template: str) -> str:
    """Driver SQL for a dialect: SQLite's scalar min/max and ``?``; PostgreSQL's
    LEAST/GREATEST and ``%s``."""
    if dialect == "postgresql":
        return template.format(least="LEAST", greatest="GREATEST").replace("?", "%s")
    return template.format(least="min", greatest="max")
