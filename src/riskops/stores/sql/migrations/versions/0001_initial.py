"""Initial schema: event log, entity graph, API keys, lists, projection cursors.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("seq", _SEQ, primary_key=True, autoincrement=True),
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
        sa.PrimaryKeyConstraint("seq", name="pk_events"),
        sa.UniqueConstraint("event_id", name="uq_events_event_id"),
    )
    op.create_index("ix_events_occurred_at_us", "events", ["occurred_at_us"])
    op.create_table(
        "entities",
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("first_seen_us", sa.BigInteger, nullable=False),
        sa.Column("last_seen_us", sa.BigInteger, nullable=False),
        sa.Column("events", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("type", "id", name="pk_entities"),
    )
    op.create_table(
        "edges",
        sa.Column("src_type", sa.String(16), nullable=False),
        sa.Column("src_id", sa.String(128), nullable=False),
        sa.Column("dst_type", sa.String(16), nullable=False),
        sa.Column("dst_id", sa.String(128), nullable=False),
        sa.Column("first_seen_us", sa.BigInteger, nullable=False),
        sa.Column("last_seen_us", sa.BigInteger, nullable=False),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("src_type", "src_id", "dst_type", "dst_id", name="pk_edges"),
    )
    op.create_index(
        "ix_edges_dst_type_dst_id_last_seen_us", "edges", ["dst_type", "dst_id", "last_seen_us"]
    )
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("scopes", sa.String(200), nullable=False),
        sa.Column("created_at_us", sa.BigInteger, nullable=False),
        sa.Column("revoked_at_us", sa.BigInteger),
        sa.PrimaryKeyConstraint("key_id", name="pk_api_keys"),
    )
    op.create_table(
        "list_entries",
        sa.Column("list_name", sa.String(100), nullable=False),
        sa.Column("entity_type", sa.String(16), nullable=False),
        sa.Column("entity_id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("created_at_us", sa.BigInteger, nullable=False),
        sa.Column("expires_at_us", sa.BigInteger),
        sa.PrimaryKeyConstraint("list_name", "entity_type", "entity_id", name="pk_list_entries"),
    )
    op.create_index(
        "ix_list_entries_entity_type_entity_id", "list_entries", ["entity_type", "entity_id"]
    )
    op.create_table(
        "projection_cursors",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_projection_cursors"),
    )


def downgrade() -> None:
    for table in ("projection_cursors", "list_entries", "api_keys", "edges", "entities", "events"):
        op.drop_table(table)
