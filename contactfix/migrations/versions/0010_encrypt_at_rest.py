"""Encryption at rest: ID numbers, phones and addresses sealed (AES-GCM) in every table that holds them.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07

On PostgreSQL the sealed columns lose their length (VARCHAR, as TEXT) (a sealed value is longer than its plaintext). SQLite
keeps their declared VARCHAR: it does not enforce the length, and rebuilding the tables to change a
declared type would cascade their drop to every referencing row (see ``contactfix.db.models.Sealed``).

Rows written before this revision are sealed here, under the deployment's data key, in batches:
a database with none (a fresh one) needs no key for this step. Downgrading opens them again. On
SQLite ``secure_delete`` zeroes the space the clear values leave; on PostgreSQL their old row
versions stay in the table files until VACUUM FULL (and in WAL archives and backups already made).
History is frozen: the list of columns is written out here, not read from the models.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table -> (sealed columns, their old length)
_SEALED: dict[str, tuple[tuple[str, int], ...]] = {
    "source_records": (("id_number", 64), ("address", 500)),
    "debtors": (("id_number", 64),),
    "contacts": (("value", 500), ("value_original", 500)),
    "contact_rankings": (("value", 500),),
    "mediators": (("phone", 20),),
    "dispatches": (("contact_value", 500),),
    "call_attempts": (("value", 500),),
    "do_not_contact": (("value", 500),),
    "outcomes": (("value", 500), ("note", 500)),
    "carrier_numbers": (("value", 20),),
}


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    """Widen the sealed columns on PostgreSQL, then seal the values stored in clear."""
    if _postgres():
        for table, columns in _SEALED.items():
            for column, length in columns:
                op.alter_column(table, column, type_=sa.String(), existing_type=sa.String(length))
    else:
        # The clear values this rewrites would otherwise stay readable in the file's free pages.
        op.execute("PRAGMA secure_delete = ON")
    from contactfix.privacy.rotation import seal_in_place

    seal_in_place(op.get_bind(), {table: [c for c, _ in columns] for table, columns in _SEALED.items()})


def downgrade() -> None:
    """Open every sealed value again, then give PostgreSQL its VARCHARs back."""
    from contactfix.privacy.rotation import open_in_place

    open_in_place(op.get_bind(), {table: [c for c, _ in columns] for table, columns in _SEALED.items()})
    if _postgres():
        for table, columns in _SEALED.items():
            for column, length in columns:
                op.alter_column(table, column, type_=sa.String(length), existing_type=sa.String())
