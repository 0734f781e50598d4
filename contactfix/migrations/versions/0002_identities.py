"""Identities: reconciliation runs, blocking keys, record links, identities and members, contact
rankings, fitted link models.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21

History is frozen: this file does not import the models. Constraint names follow
contactfix.db.models.NAMING_CONVENTION.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


def _json(name: str, default: str | None = None) -> sa.Column[Any]:
    return sa.Column(
        name,
        sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
        server_default=sa.text(default) if default else None,
        nullable=False,
    )


def _record_fk(table: str, column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column],
        ["source_records.id"],
        name=op.f(f"fk_{table}_{column}_source_records"),
        ondelete="CASCADE",
    )


def _run_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["run_id"], ["reconcile_runs.id"], name=op.f(f"fk_{table}_run_id_reconcile_runs")
    )


def upgrade() -> None:
    """Create the tables of resolution and repair."""
    _create_runs_and_keys()
    _create_links_and_identities()
    _create_rankings_and_models()


def _create_runs_and_keys() -> None:
    op.create_table(
        "reconcile_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        _timestamp("started_at"),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("full", sa.Boolean(), nullable=False),
        sa.Column("watermark", sa.DateTime(timezone=True), nullable=True),
        _json("counts", "'{}'"),
        sa.Column("error", sa.String(length=300), nullable=True),
        sa.CheckConstraint(
            "status IN ('running', 'completed', 'failed')", name=op.f("ck_reconcile_runs_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconcile_runs")),
    )
    op.create_table(
        "blocking_keys",
        sa.Column("source_record_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        _record_fk("blocking_keys", "source_record_id"),
        sa.PrimaryKeyConstraint("kind", "key", "source_record_id", name=op.f("pk_blocking_keys")),
    )
    op.create_index(op.f("ix_blocking_keys_source_record_id"), "blocking_keys", ["source_record_id"])


def _create_links_and_identities() -> None:
    op.create_table(
        "record_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_a_id", sa.Integer(), nullable=False),
        sa.Column("record_b_id", sa.Integer(), nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        _json("weights"),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.CheckConstraint("record_a_id < record_b_id", name=op.f("ck_record_links_ordered")),
        _record_fk("record_links", "record_a_id"),
        _record_fk("record_links", "record_b_id"),
        _run_fk("record_links"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_links")),
        sa.UniqueConstraint(
            "record_a_id", "record_b_id", name=op.f("uq_record_links_record_a_id_record_b_id")
        ),
    )
    op.create_index(op.f("ix_record_links_record_b_id"), "record_links", ["record_b_id"])
    op.create_table(
        "identities",
        sa.Column("id", sa.Integer(), nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        _json("flags", "'[]'"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identities")),
    )
    op.create_table(
        "identity_members",
        sa.Column("source_record_id", sa.Integer(), nullable=False),
        sa.Column("identity_id", sa.Integer(), nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        _record_fk("identity_members", "source_record_id"),
        sa.ForeignKeyConstraint(
            ["identity_id"], ["identities.id"], name=op.f("fk_identity_members_identity_id_identities")
        ),
        _run_fk("identity_members"),
        sa.PrimaryKeyConstraint("source_record_id", name=op.f("pk_identity_members")),
    )
    op.create_index(op.f("ix_identity_members_identity_id"), "identity_members", ["identity_id"])


def _create_rankings_and_models() -> None:
    op.create_table(
        "contact_rankings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("debtor_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("value", sa.String(length=500), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        _json("sources"),
        sa.Column("last_seen", sa.Date(), nullable=True),
        _json("flags", "'[]'"),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["debtor_id"],
            ["debtors.id"],
            name=op.f("fk_contact_rankings_debtor_id_debtors"),
            ondelete="CASCADE",
        ),
        _run_fk("contact_rankings"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_rankings")),
        sa.UniqueConstraint(
            "debtor_id", "channel", "value", name=op.f("uq_contact_rankings_debtor_id_channel_value")
        ),
    )
    op.create_index(op.f("ix_contact_rankings_debtor_id"), "contact_rankings", ["debtor_id"])
    op.create_table(
        "link_models",
        sa.Column("id", sa.Integer(), nullable=False),
        _timestamp("created_at"),
        sa.Column("run_id", sa.Integer(), nullable=False),
        _json("params"),
        _run_fk("link_models"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_models")),
    )


def downgrade() -> None:
    """Drop the tables of resolution and repair (indexes and constraints go with their tables)."""
    for table in (
        "link_models",
        "contact_rankings",
        "identity_members",
        "identities",
        "record_links",
        "blocking_keys",
        "reconcile_runs",
    ):
        op.drop_table(table)
