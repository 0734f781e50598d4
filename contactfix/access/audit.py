"""The audit trail of callers: every call that reads personal data, reveals a number or changes state
writes who (login), for which organisation, what, on which subject and when (:mod:`contactfix.db.audit`
keeps PII out of it).

:func:`audit` adds the entry to an ORM session (written with the session's flush, in its
transaction); :func:`audit_now` writes it at once with one INSERT on a connection (the API's hot reads,
on an autocommit connection: the entry is committed before the answer leaves).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert
from sqlalchemy.orm import Session

from contactfix.access.caller import Caller
from contactfix.db.audit import audit_values, record_audit
from contactfix.db.models import AuditEntry

__all__ = ["audit", "audit_now"]

_INSERT = insert(AuditEntry)


def audit(
    session: Session,
    caller: Caller,
    action: str,
    subject_type: str,
    subject_id: int | None = None,
    **detail: Any,
) -> AuditEntry:
    """Add the entry of ``caller`` doing ``action`` on a subject to ``session`` (written at its flush)."""
    entry = record_audit(
        session, caller.login, action, subject_type, subject_id, role=caller.role.value, **detail
    )
    entry.organization_id = caller.organization_id
    return entry


def audit_now(
    connection: Connection,
    caller: Caller,
    action: str,
    subject_type: str,
    subject_id: int | None = None,
    **detail: Any,
) -> None:
    """Write the entry of ``caller`` doing ``action`` on a subject with one INSERT on ``connection``
    (committed with the connection's transaction, or at once in autocommit). Raises when it cannot be
    written: a read that cannot be audited is not answered."""
    values = audit_values(caller.login, action, subject_type, subject_id, role=caller.role.value, **detail)
    connection.execute(_INSERT, {**values, "organization_id": caller.organization_id})
