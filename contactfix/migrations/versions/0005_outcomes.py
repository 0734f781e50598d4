"""The repair loop: outcomes reported by mediators and dialers, and confidence models fitted on them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07

History is frozen: this file does not import the models. Constraint names follow
contactfix.db.models.NAMING_CONVENTION.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_RESULTS = (
    "'reached', 'wrong_number', 'no_answer', 'objected', 'promised_to_pay', 'refused_to_pay', 'mediated'"
)


def upgrade() -> None:
    """Create outcomes and confidence_models."""
    op.create_table(
        "outcomes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("debtor_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("value", sa.String(length=500), nullable=False),
        sa.Column("result", sa.String(length=20), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reporter", sa.String(length=100), nullable=False),
        sa.Column("dispatch_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(f"result IN ({_RESULTS})", name=op.f("ck_outcomes_result")),
        sa.ForeignKeyConstraint(
            ["debtor_id"], ["debtors.id"], name=op.f("fk_outcomes_debtor_id_debtors"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["dispatch_id"],
            ["dispatches.id"],
            name=op.f("fk_outcomes_dispatch_id_dispatches"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outcomes")),
    )
    op.create_index(op.f("ix_outcomes_debtor_id_reported_at"), "outcomes", ["debtor_id", "reported_at"])
    op.create_index(op.f("ix_outcomes_created_at"), "outcomes", ["created_at"])
    op.create_table(
        "confidence_models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("weights", sa.JSON(), nullable=False),
        sa.Column("outcomes", sa.Integer(), nullable=False),
        sa.Column("held_out", sa.Integer(), nullable=False),
        sa.Column("brier_prior", sa.Float(), nullable=True),
        sa.Column("brier_fitted", sa.Float(), nullable=True),
        sa.Column("reliability", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_confidence_models")),
    )


def downgrade() -> None:
    """Drop them."""
    op.drop_table("confidence_models")
    op.drop_index(op.f("ix_outcomes_created_at"), table_name="outcomes")
    op.drop_index(op.f("ix_outcomes_debtor_id_reported_at"), table_name="outcomes")
    op.drop_table("outcomes")
