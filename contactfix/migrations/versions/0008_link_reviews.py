"""Link reviews: an operator's word that two records are, or are not, the same party.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07

History is frozen: this file does not import the models. Constraint names follow
contactfix.db.models.NAMING_CONVENTION.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create link_reviews."""
    op.create_table(
        "link_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_a_id", sa.Integer(), nullable=False),
        sa.Column("record_b_id", sa.Integer(), nullable=False),
        sa.Column("same", sa.Boolean(), nullable=False),
        sa.Column("probability", sa.Float(), nullable=True),
        sa.Column("reviewer", sa.String(length=100), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("record_a_id < record_b_id", name=op.f("ck_link_reviews_ordered")),
        sa.ForeignKeyConstraint(
            ["record_a_id"],
            ["source_records.id"],
            name=op.f("fk_link_reviews_record_a_id_source_records"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["record_b_id"],
            ["source_records.id"],
            name=op.f("fk_link_reviews_record_b_id_source_records"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_reviews")),
        sa.UniqueConstraint(
            "record_a_id", "record_b_id", name=op.f("uq_link_reviews_record_a_id_record_b_id")
        ),
    )
    op.create_index(op.f("ix_link_reviews_record_b_id"), "link_reviews", ["record_b_id"])


def downgrade() -> None:
    """Drop it."""
    op.drop_index(op.f("ix_link_reviews_record_b_id"), table_name="link_reviews")
    op.drop_table("link_reviews")
