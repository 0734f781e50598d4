"""Dispatch: mediators, case assignments, dispatches, policy decisions, call attempts, do-not-contact.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21

History is frozen: this file does not import the models. Constraint names follow
contactfix.db.models.NAMING_CONVENTION.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATES = "'pending', 'deferred', 'sending', 'sent', 'delivered', 'failed', 'dead', 'blocked'"


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[Any]:
    default = None if nullable else sa.func.now()
    return sa.Column(name, sa.DateTime(timezone=True), server_default=default, nullable=nullable)


def _fk(table: str, column: str, target: str, ondelete: str | None = None) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def upgrade() -> None:
    """Create the tables of dispatch."""
    _create_mediators()
    _create_dispatches()
    _create_contact_history()


def _create_mediators() -> None:
    op.create_table(
        "mediators",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("center", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("hours", sa.String(length=11), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        _timestamp("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mediators")),
        sa.UniqueConstraint("center", "name", name=op.f("uq_mediators_center_name")),
    )
    op.create_table(
        "case_assignments",
        sa.Column("debtor_id", sa.Integer(), nullable=False),
        sa.Column("mediator_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        _timestamp("assigned_at"),
        sa.CheckConstraint("kind IN ('round_robin', 'explicit')", name=op.f("ck_case_assignments_kind")),
        _fk("case_assignments", "debtor_id", "debtors", "CASCADE"),
        _fk("case_assignments", "mediator_id", "mediators"),
        sa.PrimaryKeyConstraint("debtor_id", name=op.f("pk_case_assignments")),
    )
    op.create_index(op.f("ix_case_assignments_mediator_id"), "case_assignments", ["mediator_id"])


def _create_dispatches() -> None:
    op.create_table(
        "dispatches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("debtor_id", sa.Integer(), nullable=False),
        sa.Column("mediator_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("purpose", sa.String(length=30), nullable=False),
        sa.Column("contact_channel", sa.String(length=10), nullable=False),
        sa.Column("contact_value", sa.String(length=500), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=12), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        _timestamp("next_attempt_at", nullable=True),
        _timestamp("lease_until", nullable=True),
        _timestamp("enqueued_at", nullable=True),
        sa.Column("connector", sa.String(length=64), nullable=True),
        sa.Column("provider_message_id", sa.String(length=128), nullable=True),
        sa.Column("binding_id", sa.String(length=128), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("rule", sa.String(length=40), nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        _timestamp("sent_at", nullable=True),
        _timestamp("finished_at", nullable=True),
        sa.CheckConstraint(f"state IN ({_STATES})", name=op.f("ck_dispatches_state")),
        _fk("dispatches", "debtor_id", "debtors", "CASCADE"),
        _fk("dispatches", "mediator_id", "mediators"),
        sa.ForeignKeyConstraint(
            ["run_id"], ["reconcile_runs.id"], name=op.f("fk_dispatches_run_id_reconcile_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispatches")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_dispatches_idempotency_key")),
    )
    op.create_index(op.f("ix_dispatches_debtor_id"), "dispatches", ["debtor_id"])
    op.create_index(op.f("ix_dispatches_provider_message_id"), "dispatches", ["provider_message_id"])
    op.create_index(op.f("ix_dispatches_binding_id"), "dispatches", ["binding_id"])
    op.create_index(op.f("ix_dispatches_state_next_attempt_at"), "dispatches", ["state", "next_attempt_at"])
    op.create_table(
        "dispatch_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dispatch_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("allowed", sa.Boolean(), nullable=False),
        sa.Column("rule", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        _timestamp("defer_until", nullable=True),
        _fk("dispatch_decisions", "dispatch_id", "dispatches", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispatch_decisions")),
    )
    op.create_index(op.f("ix_dispatch_decisions_dispatch_id"), "dispatch_decisions", ["dispatch_id"])


def _create_contact_history() -> None:
    op.create_table(
        "call_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_call_id", sa.String(length=128), nullable=False),
        sa.Column("value", sa.String(length=500), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered", sa.Boolean(), nullable=False),
        sa.Column("dispatch_id", sa.Integer(), nullable=True),
        _fk("call_attempts", "dispatch_id", "dispatches", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_attempts")),
        sa.UniqueConstraint("provider_call_id", name=op.f("uq_call_attempts_provider_call_id")),
    )
    op.create_index(op.f("ix_call_attempts_value_at"), "call_attempts", ["value", "at"])
    op.create_table(
        "do_not_contact",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("value", sa.String(length=500), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        _timestamp("added_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_do_not_contact")),
        sa.UniqueConstraint("channel", "value", name=op.f("uq_do_not_contact_channel_value")),
    )


def downgrade() -> None:
    """Drop the tables of dispatch, dependants first."""
    for table in (
        "do_not_contact",
        "call_attempts",
        "dispatch_decisions",
        "dispatches",
        "case_assignments",
        "mediators",
    ):
        op.drop_table(table)
