"""Court record keys and dispatch keys under secrets stored sealed, not a plain SHA-256 or the data key.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07

A court record's key was ``court:`` and the SHA-256 of its case number, name, ID number and role:
with the name and birth date in clear, trying the thousand sequence numbers gave the ID number back.
It is now ``court:`` and HMAC-SHA-256(secret, that digest), the secret random and stored sealed in
``hash_secrets`` (see ``contactfix.privacy.hash_secrets``). Keys already stored are keyed here from
their digest alone, so a record imported again still finds its record. A database without court
records (a fresh one) needs no data key for this step.

A dispatch's idempotency key was an HMAC under a key derived from the data key, so it changed at a
rotation and a dispatch planned again after one would have been sent twice; it is now under a secret
of its own, stored alike, and the stored dispatches' keys are computed again here.

Downgrading drops the secrets: the keys stay keyed and can no longer be recomputed, so a court file
imported again under the older code adds its parties as new records.
History is frozen: this file does not import the models.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PURPOSE = "court_record_key"  # contactfix.privacy.hash_secrets.PURPOSE_COURT_RECORD
_DISPATCH = "dispatch"  # contactfix.privacy.PURPOSE_DISPATCH
_PLAIN_KEY = re.compile(r"court:[0-9a-f]{48}")
_BATCH = 5000


def upgrade() -> None:
    """Create hash_secrets; key the court record keys stored so far and the dispatches' keys anew."""
    op.create_table(
        "hash_secrets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=50), nullable=False),
        sa.Column("value", sa.String() if _postgres() else sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hash_secrets")),
        sa.UniqueConstraint("purpose", name=op.f("uq_hash_secrets_purpose")),
    )
    _key_court_records()
    _key_dispatches()


def _secret(purpose: str) -> bytes:
    """A new secret for ``purpose``, stored sealed under the deployment's data key."""
    from contactfix.privacy.sealing import field_cipher

    secret = secrets.token_bytes(32)
    stored = field_cipher().seal(base64.b64encode(secret).decode("ascii"))
    table = sa.table("hash_secrets", sa.column("purpose", sa.String), sa.column("value", sa.String))
    op.get_bind().execute(sa.insert(table).values(purpose=purpose, value=stored))
    return secret


def _key_court_records() -> None:
    records = sa.table("source_records", sa.column("id", sa.Integer), sa.column("record_key", sa.String))
    court = records.c.record_key.like("court:%")
    if op.get_bind().execute(sa.select(records.c.id).where(court).limit(1)).first() is None:
        return  # the secret is made when the first court file comes in
    secret = _secret(_PURPOSE)

    def new_key(row: sa.Row[tuple[object, ...]]) -> str | None:
        key = str(row.record_key)
        return "court:" + _keyed(key[6:], secret) if _PLAIN_KEY.fullmatch(key) else None

    _rewrite(records, "record_key", court, new_key)


def _key_dispatches() -> None:
    dispatches = sa.table(
        "dispatches",
        *(sa.column(c, sa.Integer) for c in ("id", "debtor_id")),
        *(sa.column(c, sa.String) for c in ("contact_channel", "contact_value", "channel", "purpose")),
        sa.column("idempotency_key", sa.String),
    )
    if op.get_bind().execute(sa.select(dispatches.c.id).limit(1)).first() is None:
        return
    from contactfix.privacy.sealing import field_cipher

    cipher, secret = field_cipher(), _secret(_DISPATCH)

    def new_key(row: sa.Row[tuple[object, ...]]) -> str | None:
        value = row.contact_value
        return None if value is None else _dispatch_key(row, cipher.open(str(value)), secret)

    _rewrite(dispatches, "idempotency_key", sa.true(), new_key)


def _rewrite(
    table: sa.TableClause,
    column: str,
    where: sa.ColumnElement[bool],
    new_value: Callable[[sa.Row[tuple[object, ...]]], str | None],
) -> None:
    """``column`` of the rows ``where`` set to ``new_value(row)`` (None: kept), in batches by id."""
    connection = op.get_bind()
    update = (
        sa.update(table).where(table.c.id == sa.bindparam("row_id")).values({column: sa.bindparam("new")})
    )
    last = 0
    while True:
        query = sa.select(table).where(where, table.c.id > last).order_by(table.c.id).limit(_BATCH)
        rows = connection.execute(query).all()
        if not rows:
            return
        last = rows[-1].id
        changes = [{"row_id": row.id, "new": new} for row in rows if (new := new_value(row)) is not None]
        if changes:
            connection.execute(update, changes)


def _dispatch_key(row: sa.Row[tuple[object, ...]], value: str, secret: bytes) -> str:
    # contactfix.dispatch.planning.idempotency_key, frozen here.
    text = "\x1f".join((str(row.debtor_id), str(row.contact_channel), value, str(row.channel), str(row.purpose)))
    return hmac.new(secret, text.encode("utf-8"), hashlib.sha256).hexdigest()


def downgrade() -> None:
    """Drop the secrets (the keys stay as they are: see the module's docstring)."""
    op.drop_table("hash_secrets")


def _keyed(digest: str, secret: bytes) -> str:
    # contactfix.intake.rows.court_key_of_digest, frozen here.
    return hmac.new(secret, digest.encode("ascii"), hashlib.sha256).hexdigest()[:48]


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"
