"""The audit trail of callers: every call that reads personal data, reveals a number or changes state
writes who (login), for which organisation, what, on which subject and when (:mod:`contactfix.db.audit`
keeps PII out of it)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from contactfix.access.caller import Caller
from contactfix.db.audit import record_audit
from contactfix.db.models import AuditEntry

__all__ = ["audit"]


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
