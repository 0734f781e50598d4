"""What operators look at: reconciliation runs and mediators (dispatch counts: dispatch.status)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from contactfix.db.dispatch_models import CaseAssignment, Mediator
from contactfix.db.identity_models import ReconcileRun
from matchers.identifiers import mask_phone

__all__ = ["mediator_rows", "recent_runs"]


def recent_runs(session: Session, limit: int) -> list[dict[str, Any]]:
    """The newest reconciliation runs: when, full or not, status, counts, error (masked)."""
    runs = session.scalars(select(ReconcileRun).order_by(ReconcileRun.id.desc()).limit(limit))
    return [
        {"id": r.id, "started_at": r.started_at, "finished_at": r.finished_at, "status": r.status,
         "full": r.full, "watermark": r.watermark, "counts": dict(r.counts or {}), "error": r.error}
        for r in runs
    ]  # fmt: skip


def mediator_rows(session: Session) -> list[dict[str, Any]]:
    """Every mediator with center, masked phone, hours, active and number of cases."""
    counted = select(CaseAssignment.mediator_id, func.count()).group_by(CaseAssignment.mediator_id)
    cases = {mediator_id: int(count) for mediator_id, count in session.execute(counted).all()}
    return [
        {"id": m.id, "name": m.name, "center": m.center, "phone": mask_phone(m.phone), "hours": m.hours,
         "active": m.active, "cases": cases.get(m.id, 0)}
        for m in session.scalars(select(Mediator).order_by(Mediator.id))
    ]  # fmt: skip
