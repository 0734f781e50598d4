"""The audit log: who did what to which subject, with a detail that never holds unmasked PII.

PIPL forbids keeping ID numbers and phone numbers where they are not needed; the audit log is read by
operators and kept for years, so :func:`record_audit` refuses anything that looks like one. Masked
forms (``350103********1234``, ``138****5678``) pass.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from contactfix.db.models import AuditEntry
from contactfix.errors import ContactfixError

# Digit runs are bounded by non-digits so that, e.g., a 20-digit contract number is not taken for an
# ID. Single spaces or hyphens between the groups are allowed: people type them.
_SEP = r"[-\s]?"
RESIDENT_ID_18 = re.compile(rf"(?<!\d)\d{{6}}{_SEP}\d{{8}}{_SEP}\d{{3}}[\dXx](?!\d)")
RESIDENT_ID_15 = re.compile(rf"(?<!\d)\d{{6}}{_SEP}\d{{6}}{_SEP}\d{{3}}(?!\d)")
# A mainland mobile, alone or behind +86 / 0086 / 86 (which would otherwise hide it in a longer run).
CN_MOBILE = re.compile(rf"(?<!\d)(?:(?:\+|00)?86{_SEP})?1[3-9]\d{_SEP}\d{{4}}{_SEP}\d{{4}}(?!\d)")

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (RESIDENT_ID_18, "an 18-digit ID number"),
    (RESIDENT_ID_15, "a 15-digit ID number"),
    (CN_MOBILE, "a mobile phone number"),
)


class AuditDetailError(ContactfixError, ValueError):
    """An audit entry was refused; the message names where, never the value."""


class PersonalDataInAudit(AuditDetailError):
    """An audit entry would have stored what looks like an unmasked ID or phone number."""


def find_personal_data(text: str) -> str | None:
    """What kind of unmasked PII ``text`` seems to contain (e.g. "a mobile phone number"), or None."""
    for pattern, kind in _PATTERNS:
        if pattern.search(text):
            return kind
    return None


def _clean(value: Any, where: str) -> Any:
    """A JSON-ready copy of ``value``; raises if any part of it, keys included, looks like PII."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str | int | float | Decimal):
        kind = find_personal_data(str(value))
        if kind is not None:
            raise PersonalDataInAudit(f"{where} looks like {kind}; mask it before it enters the audit log")
        return str(value) if isinstance(value, Decimal) else value  # str keeps money exact
    if isinstance(value, Mapping):
        cleaned: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise AuditDetailError(f"{where} has a key that is not a string")
            if find_personal_data(key) is not None:
                raise PersonalDataInAudit(f"{where} has a key that looks like personal data")
            cleaned[key] = _clean(item, f"{where}[{key!r}]")
        return cleaned
    if isinstance(value, list | tuple):
        return [_clean(item, f"{where}[{index}]") for index, item in enumerate(value)]
    raise AuditDetailError(f"{where} is a {type(value).__name__}, which JSON cannot hold; convert it first")


def audit_values(
    actor: str,
    action: str,
    subject_type: str,
    subject_id: int | None = None,
    **detail: Any,
) -> dict[str, Any]:
    """The columns of one audit entry, checked: ``detail`` must be JSON-like (str, numbers, bool,
    None, dicts with string keys, lists).

    Raises :class:`PersonalDataInAudit` (a ``ValueError``) when the actor, the action or any detail
    value or key, however deeply nested, contains what looks like an 18- or 15-digit ID number or a
    mainland mobile number; the message says where, never what.
    """
    for name, text in (("actor", actor), ("action", action), ("subject_type", subject_type)):
        kind = find_personal_data(text)
        if kind is not None:
            raise PersonalDataInAudit(f"{name} looks like {kind}; mask it before it enters the audit log")
    return {
        "actor": actor,
        "action": action,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "detail": _clean(detail, "detail"),
    }


def record_audit(
    session: Session,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: int | None = None,
    **detail: Any,
) -> AuditEntry:
    """Add one audit entry to ``session`` and return it; it is written with the session's next flush.

    Checked as :func:`audit_values` checks it (:class:`PersonalDataInAudit` for what looks like an
    unmasked ID or mobile number); nothing is added to the session then.
    """
    entry = AuditEntry(**audit_values(actor, action, subject_type, subject_id, **detail))
    session.add(entry)
    return entry


def record_audits(session: Session, entries: Iterable[Mapping[str, Any]]) -> int:
    """Write many entries, each made by :func:`audit_values` (so checked alike), in one multi-row
    INSERT; their count. For the pipeline's entry per debtor: 100,000 ORM objects flushed one by one
    cost a nightly run tens of seconds, this a few."""
    rows = list(entries)
    if rows:
        session.execute(insert(AuditEntry), rows)
    return len(rows)
