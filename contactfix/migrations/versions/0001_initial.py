"""Initial schema.

Organizations, submissions and their issues, source records, debtors, contacts, the audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-21

History is frozen: this file does not import the models, so later model changes never rewrite it.
Constraint names follow contactfix.db.models.NAMING_CONVENTION.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


def _one_of(table: str, column: str, values: Sequence[str]) -> sa.CheckConstraint:
    allowed = ", ".join(f"'{value}'" for value in values)
    return sa.CheckConstraint(f"{column} IN ({allowed})", name=op.f(f"ck_{table}_{column}"))


PARTY_TYPES = ("person", "company")
ID_TYPES = ("resident_id", "resident_id_masked", "residence_permit", "credit_code", "other")
GENDERS = ("M", "F")


def upgrade() -> None:
    """Create every table of the initial schema with its constraints and indexes."""
    op.create_table(
        "organizations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        _timestamp("created_at"),
        _one_of("organizations", "kind", ("bank", "mediation_center", "court")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organizations")),
        sa.UniqueConstraint("name", name=op.f("uq_organizations_name")),
    )

    op.create_table(
        "submissions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("filename", sa.String(length=500), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("rows", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("accepted", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("rejected", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("warnings", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        _timestamp("created_at"),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        _one_of("submissions", "kind", ("bank_batch", "court_export")),
        _one_of("submissions", "status", ("processing", "completed", "failed")),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_submissions_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submissions")),
        sa.UniqueConstraint(
            "organization_id",
            "kind",
            "content_sha256",
            name=op.f("uq_submissions_organization_id_kind_content_sha256"),
        ),
    )

    op.create_table(
        "submission_issues",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("severity", sa.String(length=10), nullable=False),
        _one_of("submission_issues", "severity", ("warning", "rejected")),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_submission_issues_submission_id_submissions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submission_issues")),
    )
    op.create_index(op.f("ix_submission_issues_submission_id"), "submission_issues", ["submission_id"])

    op.create_table(
        "source_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("record_key", sa.String(length=128), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=True),
        sa.Column("submission_id", sa.Integer(), nullable=True),
        sa.Column("reference", sa.String(length=100), nullable=True),
        sa.Column("case_year", sa.Integer(), nullable=True),
        sa.Column("court_code", sa.String(length=20), nullable=True),
        sa.Column("case_type", sa.String(length=20), nullable=True),
        sa.Column("case_sequence", sa.Integer(), nullable=True),
        sa.Column("role", sa.String(length=20), nullable=True),
        sa.Column("role_original", sa.String(length=50), nullable=True),
        sa.Column("observed_on", sa.Date(), nullable=True),
        sa.Column("party_type", sa.String(length=10), server_default="person", nullable=False),
        sa.Column("name_original", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("id_type", sa.String(length=30), nullable=True),
        sa.Column("id_number", sa.String(length=64), nullable=True),
        sa.Column("id_prefix", sa.String(length=18), nullable=True),
        sa.Column("id_suffix", sa.String(length=18), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("gender", sa.String(length=1), nullable=True),
        sa.Column("county_code", sa.String(length=6), nullable=True),
        sa.Column("address", sa.String(length=500), nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        _one_of("source_records", "source", ("bank", "court", "carrier", "mediator")),
        _one_of("source_records", "party_type", PARTY_TYPES),
        _one_of("source_records", "id_type", ID_TYPES),
        _one_of("source_records", "gender", GENDERS),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_source_records_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"], ["submissions.id"], name=op.f("fk_source_records_submission_id_submissions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_source_records")),
        sa.UniqueConstraint("record_key", name=op.f("uq_source_records_record_key")),
    )
    for name, columns in _SOURCE_RECORD_INDEXES:
        op.create_index(op.f(name), "source_records", list(columns))

    op.create_table(
        "debtors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=False),
        sa.Column("source_record_id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=True),
        sa.Column("party_type", sa.String(length=10), nullable=False),
        sa.Column("name_original", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("id_type", sa.String(length=30), nullable=True),
        sa.Column("id_number", sa.String(length=64), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("gender", sa.String(length=1), nullable=True),
        sa.Column("contract_number", sa.String(length=100), nullable=True),
        sa.Column("product", sa.String(length=100), nullable=True),
        sa.Column("amount_owed", sa.Numeric(precision=16, scale=2), nullable=True),
        sa.Column("currency", sa.String(length=3), server_default="CNY", nullable=False),
        sa.Column("status", sa.String(length=20), server_default="lost", nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        _one_of("debtors", "party_type", PARTY_TYPES),
        _one_of("debtors", "id_type", ID_TYPES),
        _one_of("debtors", "gender", GENDERS),
        _one_of("debtors", "status", ("lost", "repaired", "reached", "closed")),
        sa.ForeignKeyConstraint(
            ["organization_id"], ["organizations.id"], name=op.f("fk_debtors_organization_id_organizations")
        ),
        sa.ForeignKeyConstraint(
            ["source_record_id"],
            ["source_records.id"],
            name=op.f("fk_debtors_source_record_id_source_records"),
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"], ["submissions.id"], name=op.f("fk_debtors_submission_id_submissions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_debtors")),
        sa.UniqueConstraint(
            "organization_id", "reference", name=op.f("uq_debtors_organization_id_reference")
        ),
        sa.UniqueConstraint("source_record_id", name=op.f("uq_debtors_source_record_id")),
    )
    op.create_index(op.f("ix_debtors_status"), "debtors", ["status"])
    op.create_index(op.f("ix_debtors_submission_id"), "debtors", ["submission_id"])

    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_record_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("value", sa.String(length=500), nullable=False),
        sa.Column("value_original", sa.String(length=500), nullable=True),
        sa.Column("line_type", sa.String(length=30), nullable=True),
        sa.Column("region", sa.String(length=100), nullable=True),
        sa.Column("carrier", sa.String(length=50), nullable=True),
        sa.Column("first_seen", sa.Date(), nullable=True),
        sa.Column("last_seen", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=20), server_default="unverified", nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        _one_of("contacts", "channel", ("phone", "address", "email")),
        _one_of("contacts", "status", ("unverified", "reached", "wrong_number", "no_answer", "objected")),
        sa.ForeignKeyConstraint(
            ["source_record_id"],
            ["source_records.id"],
            name=op.f("fk_contacts_source_record_id_source_records"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
        sa.UniqueConstraint(
            "source_record_id", "channel", "value", name=op.f("uq_contacts_source_record_id_channel_value")
        ),
    )
    op.create_index(op.f("ix_contacts_channel_value"), "contacts", ["channel", "value"])

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        _timestamp("at"),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=50), nullable=False),
        sa.Column("subject_type", sa.String(length=50), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=True),
        sa.Column(
            "detail",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_subject_type_subject_id"), "audit_log", ["subject_type", "subject_id"])


_SOURCE_RECORD_INDEXES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ix_source_records_id_number", ("id_number",)),
    ("ix_source_records_name_birth_date", ("name", "birth_date")),
    ("ix_source_records_id_prefix_id_suffix", ("id_prefix", "id_suffix")),
    ("ix_source_records_county_code", ("county_code",)),
    ("ix_source_records_submission_id", ("submission_id",)),
    ("ix_source_records_updated_at", ("updated_at",)),
    ("ix_source_records_case_number", ("case_year", "court_code", "case_type", "case_sequence")),
)


def downgrade() -> None:
    """Drop every table of the initial schema (indexes and constraints go with their tables)."""
    for table in (
        "audit_log",
        "contacts",
        "debtors",
        "source_records",
        "submission_issues",
        "submissions",
        "organizations",
    ):
        op.drop_table(table)
