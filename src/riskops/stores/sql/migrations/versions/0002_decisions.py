"""Decisions: ruleset versions and the active one per checkpoint, recorded decisions, the audit
log.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ruleset_versions",
        sa.Column("checkpoint", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("note", sa.String(500), nullable=False),
        sa.Column("created_at_us", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("checkpoint", "version", name="pk_ruleset_versions"),
    )
    op.create_table(
        "active_rulesets",
        sa.Column("checkpoint", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("activated_by", sa.String(200), nullable=False),
        sa.Column("activated_at_us", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("checkpoint", name="pk_active_rulesets"),
    )
    op.create_table(
        "decisions",
        sa.Column("decision_id", sa.String(40), nullable=False),
        sa.Column("checkpoint", sa.String(32), nullable=False),
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("score", sa.SmallInteger, nullable=False),
        sa.Column("created_at_us", sa.BigInteger, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("decision_id", name="pk_decisions"),
    )
    op.create_index(
        "ix_decisions_checkpoint_created_at_us", "decisions", ["checkpoint", "created_at_us"]
    )
    op.create_index("ix_decisions_event_id", "decisions", ["event_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", _SEQ, nullable=False, autoincrement=True),
        sa.Column("at_us", sa.BigInteger, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("before", sa.Text),
        sa.Column("after", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_at_us", "audit_log", ["at_us"])


def downgrade() -> None:
    for table in ("audit_log", "decisions", "active_rulesets", "ruleset_versions"):
        op.drop_table(table)
