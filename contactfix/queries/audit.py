"""Reading the audit log: newest first, filtered by actor, organisation and action."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from contactfix.db.models import AuditEntry, Organization

__all__ = ["AuditFilter", "audit_entries"]


@dataclass(frozen=True)
class AuditFilter:
    """Which entries: ``None`` matches any; ``before_id`` pages back from an earlier answer."""

    actor: str | None = None
    organization: str | None = None
    action: str | None = None
    before_id: int | None = None
    limit: int = 50


def audit_entries(session: Session, wanted: AuditFilter) -> list[dict[str, Any]]:
    """The entries ``wanted`` names, newest first, JSON-ready (``at`` as ISO 8601)."""
    query = (
        select(AuditEntry, Organization.name)
        .outerjoin(Organization, Organization.id == AuditEntry.organization_id)
        .order_by(AuditEntry.id.desc())
        .limit(wanted.limit)
    )
    if wanted.actor is not None:
        query = query.where(AuditEntry.actor == wanted.actor)
    if wanted.organization is not None:
        query = query.where(Organization.name == wanted.organization)
    if wanted.action is not None:
        query = query.where(AuditEntry.action == wanted.action)
    if wanted.before_id is not None:
        query = query.where(AuditEntry.id < wanted.before_id)
    return [
        {
            "id": entry.id, "at": entry.at.isoformat(), "actor": entry.actor, "organization": org,
            "action": entry.action, "subject_type": entry.subject_type, "subject_id": entry.subject_id,
            "detail": dict(entry.detail or {}),
        }
        for entry, org in session.execute(query)
    ]  # fmt: skip
