"""Tables of the SQL stores. Migrations in ``migrations/versions`` create exactly these; a test
checks that the migrated schema and this metadata agree on SQLite and PostgreSQL.

Timestamps are BIGINT microseconds since the Unix epoch, UTC: exact, portable, fast to compare.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only aliases the rowid (and so auto-increments) for a column typed exactly INTEGER.
SeqType = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

events = sa.Table(
    "events",
    metadata,
    sa.Column("seq", SeqType, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(128), nullable=False),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("schema_version", sa.SmallInteger, nullable=False),
    sa.Column("occurred_at_us", sa.BigInteger, nullable=False),
    sa.Column("received_at_us", sa.BigInteger, nullable=False),
    sa.Column("market", sa.String(2), nullable=False),
    sa.Column("user_id", sa.String(128)),
    sa.Column("device_fp", sa.String(128)),
    sa.Column("ip", sa.String(45)),
    sa.Column("body", sa.Text, nullable=False),
    sa.UniqueConstraint("event_id"),
    sa.Index(None, "occurred_at_us"),
)

entities = sa.Table(
    "entities",
    metadata,
    sa.Column("type", sa.String(16), primary_key=True),
    sa.Column("id", sa.String(128), primary_key=True),
    sa.Column("first_seen_us", sa.BigInteger, nullable=False),
    sa.Column("last_seen_us", sa.BigInteger, nullable=False),
    sa.Column("events", sa.BigInteger, nullable=False),
)

edges = sa.Table(
    "edges",
    metadata,
    sa.Column("src_type", sa.String(16), primary_key=True),
    sa.Column("src_id", sa.String(128), primary_key=True),
    sa.Column("dst_type", sa.String(16), primary_key=True),
    sa.Column("dst_id", sa.String(128), primary_key=True),
    sa.Column("first_seen_us", sa.BigInteger, nullable=False),
    sa.Column("last_seen_us", sa.BigInteger, nullable=False),
    sa.Column("count", sa.BigInteger, nullable=False),
    sa.Index(None, "dst_type", "dst_id", "last_seen_us"),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("key_id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("secret_hash", sa.String(64), nullable=False),
    sa.Column("scopes", sa.String(200), nullable=False),
    sa.Column("created_at_us", sa.BigInteger, nullable=False),
    sa.Column("revoked_at_us", sa.BigInteger),
)

list_entries = sa.Table(
    "list_entries",
    metadata,
    sa.Column("list_name", sa.String(100), primary_key=True),
    sa.Column("entity_type", sa.String(16), primary_key=True),
    sa.Column("entity_id", sa.String(128), primary_key=True),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("reason", sa.String(500), nullable=False),
    sa.Column("source", sa.String(100), nullable=False),
    sa.Column("created_at_us", sa.BigInteger, nullable=False),
    sa.Column("expires_at_us", sa.BigInteger),
    sa.Index(None, "entity_type", "entity_id"),
)

projection_cursors = sa.Table(
    "projection_cursors",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("seq", sa.BigInteger, nullable=False),
)

ruleset_versions = sa.Table(
    "ruleset_versions",
    metadata,
    sa.Column("checkpoint", sa.String(32), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("author", sa.String(200), nullable=False),
    sa.Column("note", sa.String(500), nullable=False),
    sa.Column("created_at_us", sa.BigInteger, nullable=False),
)

active_rulesets = sa.Table(
    "active_rulesets",
    metadata,
    sa.Column("checkpoint", sa.String(32), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("activated_by", sa.String(200), nullable=False),
    sa.Column("activated_at_us", sa.BigInteger, nullable=False),
)

decisions = sa.Table(
    "decisions",
    metadata,
    sa.Column("decision_id", sa.String(40), primary_key=True),
    sa.Column("checkpoint", sa.String(32), nullable=False),
    sa.Column("event_id", sa.String(128), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("score", sa.SmallInteger, nullable=False),
    sa.Column("created_at_us", sa.BigInteger, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Index(None, "checkpoint", "created_at_us"),
    sa.Index(None, "event_id"),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", SeqType, primary_key=True, autoincrement=True),
    sa.Column("at_us", sa.BigInteger, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("subject", sa.String(300), nullable=False),
    sa.Column("before", sa.Text),
    sa.Column("after", sa.Text),
    sa.Index(None, "at_us"),
)
