"""Secrets for keyed hashes that must stay the same when the data key changes.

Most keyed hashes are derived from the data key (:meth:`~contactfix.privacy.keyring.Keyring.keyed_hash`)
and move with it: blocking keys and fingerprints are rewritten by the next full reconciliation. A
court record's key cannot move: it is how the same party of the same case, imported again, finds
its record, and its inputs (the case number as written, the role as written) are not all kept to
compute it again. Yet a plain digest of them would give a record's ID number back to whoever tries
the thousand sequence numbers its name, birth date and county leave open.

A dispatch's idempotency key is the same case: a dispatch planned again after a rotation must find
the one planned before it, or the debtor gets the message twice.

So such a hash is keyed by a random secret of its own, stored in the database sealed under the data
key (envelope encryption): without the data key the secret cannot be read, and a rotation re-seals
it like every sealed value, so what it keys does not change.
"""

from __future__ import annotations

import base64
import secrets

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite

from contactfix.db.models import HashSecret
from contactfix.privacy.keyring import KeyedHash

__all__ = ["PURPOSE_COURT_RECORD", "SECRET_BYTES", "hash_secret", "stable_keyed_hash"]

PURPOSE_COURT_RECORD = "court_record_key"
SECRET_BYTES = 32


def hash_secret(connection: Connection, purpose: str) -> bytes:
    """The secret of ``purpose``, made (random) the first time it is asked for, in ``connection``'s
    transaction: it commits with the first thing keyed by it, or not at all. Two processes asking at
    once get the same one (the second waits for the first's commit)."""
    query = select(HashSecret.value).where(HashSecret.purpose == purpose)
    found = connection.execute(query).scalar_one_or_none()
    if found is None:
        module = postgresql if connection.dialect.name == "postgresql" else sqlite
        made = base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")
        connection.execute(
            module.insert(HashSecret)
            .values(purpose=purpose, value=made)
            .on_conflict_do_nothing(index_elements=["purpose"])
        )
        found = connection.execute(query).scalar_one()
    return base64.b64decode(found)


def stable_keyed_hash(connection: Connection, purpose: str) -> KeyedHash:
    """HMAC-SHA-256 under the secret of ``purpose`` (see the module's docstring)."""
    return KeyedHash(hash_secret(connection, purpose), purpose, "stored")
