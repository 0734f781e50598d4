"""The funnel: how far a bank's lost debtors got, from the batch to a settled case.

Each stage counts debtors (or rows, for the first two) of the chosen scope: all, one bank, or one
submission. The stages, in order:

``submitted`` rows in the bank batches, ``accepted`` of them; ``repaired_records`` debtors repaired from
records (resolve + repair), ``repaired_carrier`` by a carrier's answer; ``dispatched`` debtors whose
repaired contact went out to a mediator, ``delivered`` where the provider confirmed it; then what
mediators reported: ``reached`` (the debtor was on the line, whatever they said), ``wrong_number``,
``objected``, ``mediated``.

A debtor repaired and later reported wrong still counts as repaired: the funnel says what happened,
the debtor's status says where it stands now.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from contactfix.db.dispatch_models import Dispatch, DispatchState
from contactfix.db.models import AuditEntry, Debtor, Submission, SubmissionKind
from contactfix.db.outcome_models import REACHING_RESULTS, Outcome, OutcomeResult

__all__ = ["FUNNEL_KEYS", "REPAIRED_BY_CARRIER", "REPAIRED_FROM_RECORDS", "funnel"]

FUNNEL_KEYS = (
    "submitted",
    "accepted",
    "repaired_records",
    "repaired_carrier",
    "dispatched",
    "delivered",
    "reached",
    "wrong_number",
    "objected",
    "mediated",
)
# The audit actions that mark a debtor repaired, by how.
REPAIRED_FROM_RECORDS = "debtor.repaired"
REPAIRED_BY_CARRIER = "debtor.repaired_by_carrier"
_WENT_OUT = (DispatchState.SENT.value, DispatchState.DELIVERED.value, DispatchState.FAILED.value)


def funnel(
    session: Session, *, organization_id: int | None = None, submission_id: int | None = None
) -> dict[str, int]:
    """The funnel's counts (:data:`FUNNEL_KEYS`, in order) for one bank, one submission, or all."""
    debtors = select(Debtor.id)
    submissions = select(
        func.coalesce(func.sum(Submission.rows), 0), func.coalesce(func.sum(Submission.accepted), 0)
    )
    submissions = submissions.where(Submission.kind == SubmissionKind.BANK_BATCH.value)
    if organization_id is not None:
        debtors = debtors.where(Debtor.organization_id == organization_id)
        submissions = submissions.where(Submission.organization_id == organization_id)
    if submission_id is not None:
        debtors = debtors.where(Debtor.submission_id == submission_id)
        submissions = submissions.where(Submission.id == submission_id)
    scope = debtors
    submitted, accepted = session.execute(submissions).one()
    counts: dict[str, Any] = {"submitted": int(submitted), "accepted": int(accepted)}
    counts["repaired_records"] = _audited(session, scope, REPAIRED_FROM_RECORDS)
    counts["repaired_carrier"] = _audited(session, scope, REPAIRED_BY_CARRIER)
    counts["dispatched"] = _dispatched(session, scope, _WENT_OUT)
    counts["delivered"] = _dispatched(session, scope, (DispatchState.DELIVERED.value,))
    counts["reached"] = _reported(session, scope, [result.value for result in REACHING_RESULTS])
    for result in (OutcomeResult.WRONG_NUMBER, OutcomeResult.OBJECTED, OutcomeResult.MEDIATED):
        counts[result.value] = _reported(session, scope, [result.value])
    return {key: int(counts[key]) for key in FUNNEL_KEYS}


def _audited(session: Session, scope: Any, action: str) -> int:
    query = select(func.count(distinct(AuditEntry.subject_id))).where(
        AuditEntry.subject_type == "debtor", AuditEntry.action == action, AuditEntry.subject_id.in_(scope)
    )
    return int(session.scalar(query) or 0)


def _dispatched(session: Session, scope: Any, states: tuple[str, ...]) -> int:
    query = select(func.count(distinct(Dispatch.debtor_id))).where(
        Dispatch.state.in_(states), Dispatch.debtor_id.in_(scope)
    )
    return int(session.scalar(query) or 0)


def _reported(session: Session, scope: Any, results: list[str]) -> int:
    query = select(func.count(distinct(Outcome.debtor_id))).where(
        Outcome.result.in_(results), Outcome.debtor_id.in_(scope)
    )
    return int(session.scalar(query) or 0)
