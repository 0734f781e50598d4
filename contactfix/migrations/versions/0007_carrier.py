"""Carrier repair: the requests sent to the repair connector and the virtual numbers obtained.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07

History is frozen: this file does not import the models. Constraint names follow
contactfix.db.models.NAMING_CONVENTION.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATES = "'pending', 'submitted', 'answered', 'no_match', 'failed'"
_KINDS = "'loan_contract', 'court_delegation'"


def upgrade() -> None:
    """Create carrier_requests and carrier_numbers."""
    op.create_table(
        "carrier_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("debtor_id", sa.Integer(), nullable=False),
        sa.Column("connector", sa.String(length=64), nullable=False),
        sa.Column("authorisation_kind", sa.String(length=20), nullable=False),
        sa.Column("authorisation_reference", sa.String(length=100), nullable=False),
        sa.Column("case_number", sa.String(length=100), nullable=True),
        sa.Column("batch_key", sa.String(length=64), nullable=False),
        sa.Column("batch_id", sa.String(length=128), nullable=True),
        sa.Column("state", sa.String(length=12), server_default="pending", nullable=False),
        sa.Column("renewal", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("token", sa.String(length=500), nullable=True),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(f"state IN ({_STATES})", name=op.f("ck_carrier_requests_state")),
        sa.CheckConstraint(
            f"authorisation_kind IN ({_KINDS})", name=op.f("ck_carrier_requests_authorisation_kind")
        ),
        sa.ForeignKeyConstraint(
            ["debtor_id"], ["debtors.id"], name=op.f("fk_carrier_requests_debtor_id_debtors"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_carrier_requests")),
    )
    op.create_index(
        op.f("ix_carrier_requests_debtor_id_created_at"), "carrier_requests", ["debtor_id", "created_at"]
    )
    op.create_index(op.f("ix_carrier_requests_state"), "carrier_requests", ["state"])
    op.create_index(op.f("ix_carrier_requests_batch_key"), "carrier_requests", ["batch_key"])
    op.create_table(
        "carrier_numbers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("debtor_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.String(length=20), nullable=False),
        sa.Column("obtained_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["debtor_id"], ["debtors.id"], name=op.f("fk_carrier_numbers_debtor_id_debtors"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["carrier_requests.id"],
            name=op.f("fk_carrier_numbers_request_id_carrier_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_carrier_numbers")),
        sa.UniqueConstraint("debtor_id", "value", name=op.f("uq_carrier_numbers_debtor_id_value")),
    )
    op.create_index(op.f("ix_carrier_numbers_expires_at"), "carrier_numbers", ["expires_at"])
    op.create_index(op.f("ix_carrier_numbers_request_id"), "carrier_numbers", ["request_id"])


def downgrade() -> None:
    """Drop them."""
    op.drop_index(op.f("ix_carrier_numbers_request_id"), table_name="carrier_numbers")
    op.drop_index(op.f("ix_carrier_numbers_expires_at"), table_name="carrier_numbers")
    op.drop_table("carrier_numbers")
    op.drop_index(op.f("ix_carrier_requests_batch_key"), table_name="carrier_requests")
    op.drop_index(op.f("ix_carrier_requests_state"), table_name="carrier_requests")
    op.drop_index(op.f("ix_carrier_requests_debtor_id_created_at"), table_name="carrier_requests")
    op.drop_table("carrier_requests")
