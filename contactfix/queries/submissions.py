"""A submission's receipt and progress, as its bank may see it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from contactfix.db.models import Submission, SubmissionIssue

__all__ = ["ISSUES_SHOWN", "submission_progress"]

ISSUES_SHOWN = 100


def submission_progress(
    session: Session, submission_id: int, visible: ColumnElement[bool]
) -> dict[str, Any] | None:
    """Status, counts so far (batches commit as they go) and the first issues; None when not visible."""
    submission = session.scalars(select(Submission).where(Submission.id == submission_id, visible)).first()
    if submission is None:
        return None
    issues = session.execute(
        select(SubmissionIssue.row, SubmissionIssue.field, SubmissionIssue.reason, SubmissionIssue.severity)
        .where(SubmissionIssue.submission_id == submission.id)
        .order_by(SubmissionIssue.row, SubmissionIssue.id)
        .limit(ISSUES_SHOWN)
    )
    return {
        "submission_id": submission.id,
        "filename": submission.filename,
        "status": submission.status,
        "rows": submission.rows,
        "accepted": submission.accepted,
        "rejected": submission.rejected,
        "warnings": submission.warnings,
        "created_at": submission.created_at,
        "completed_at": submission.completed_at,
        "issues": [
            {"row": row, "field": field, "reason": reason, "severity": severity}
            for row, field, reason, severity in issues
        ],
    }
