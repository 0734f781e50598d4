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

:func:`funnel_by_submission` gives every batch's funnel at once, grouped in SQL (four queries however
many batches; a debtor belongs to the batch that last touched it, as for ``--submission``), and
:func:`funnel_by_period` adds them up by week or month of the batches' upload: the figures a
mediation centre reports to its court.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, case, distinct, func, select, true
from sqlalchemy.orm import Session

from contactfix.db.dispatch_models import Dispatch, DispatchState
from contactfix.db.models import AuditEntry, Debtor, Submission, SubmissionKind
from contactfix.db.outcome_models import REACHING_RESULTS, Outcome, OutcomeResult

__all__ = [
    "FUNNEL_KEYS",
    "REPAIRED_BY_CARRIER",
    "REPAIRED_FROM_RECORDS",
    "BatchFunnel",
    "PeriodFunnel",
    "funnel",
    "funnel_by_period",
    "funnel_by_submission",
    "local_day",
]

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


@dataclass(frozen=True)
class BatchFunnel:
    """One bank batch and its funnel (:data:`FUNNEL_KEYS`)."""

    submission_id: int
    organization_id: int
    filename: str
    status: str
    created_at: dt.datetime
    counts: dict[str, int]


def funnel_by_submission(session: Session, visible: ColumnElement[bool] | None = None) -> list[BatchFunnel]:
    """Every bank batch that ``visible`` (a condition on ``submissions``, e.g. the caller's
    :func:`~contactfix.access.scope`) keeps, newest first, each with its funnel — the same figures as
    :func:`funnel` with ``submission_id``, in four grouped queries whatever the number of batches."""
    where = [Submission.kind == SubmissionKind.BANK_BATCH.value, visible if visible is not None else true()]
    batches = session.execute(
        select(
            Submission.id, Submission.organization_id, Submission.filename, Submission.status,
            Submission.created_at, Submission.rows, Submission.accepted,
        ).where(*where).order_by(Submission.id.desc())
    ).all()  # fmt: skip
    counts: dict[int, dict[str, int]] = {
        row.id: {key: 0 for key in FUNNEL_KEYS} | {"submitted": int(row.rows), "accepted": int(row.accepted)}
        for row in batches
    }
    if not counts:
        return []
    # The batches' debtors: those whose latest batch is one of them (and of the batch's own bank).
    debtors = (
        select(Debtor.id.label("debtor_id"), Debtor.submission_id.label("submission_id"))
        .join(Submission, Submission.id == Debtor.submission_id)
        .where(*where, Debtor.organization_id == Submission.organization_id)
        .subquery()
    )
    audited = (
        select(
            debtors.c.submission_id,
            _distinct_where(AuditEntry.action == REPAIRED_FROM_RECORDS, AuditEntry.subject_id),
            _distinct_where(AuditEntry.action == REPAIRED_BY_CARRIER, AuditEntry.subject_id),
        )
        .join(AuditEntry, AuditEntry.subject_id == debtors.c.debtor_id)
        .where(
            AuditEntry.subject_type == "debtor",
            AuditEntry.action.in_((REPAIRED_FROM_RECORDS, REPAIRED_BY_CARRIER)),
        )
    )
    for submission_id, records, carrier in session.execute(audited.group_by(debtors.c.submission_id)):
        counts[submission_id].update(repaired_records=int(records), repaired_carrier=int(carrier))
    dispatched = (
        select(
            debtors.c.submission_id,
            _distinct_where(Dispatch.state.in_(_WENT_OUT), Dispatch.debtor_id),
            _distinct_where(Dispatch.state == DispatchState.DELIVERED.value, Dispatch.debtor_id),
        )
        .join(Dispatch, Dispatch.debtor_id == debtors.c.debtor_id)
        .where(Dispatch.state.in_(_WENT_OUT))
    )
    for submission_id, went_out, delivered in session.execute(dispatched.group_by(debtors.c.submission_id)):
        counts[submission_id].update(dispatched=int(went_out), delivered=int(delivered))
    reported = [
        ("reached", [result.value for result in REACHING_RESULTS]),
        *((result.value, [result.value]) for result in (OutcomeResult.WRONG_NUMBER, OutcomeResult.OBJECTED,
                                                       OutcomeResult.MEDIATED)),
    ]  # fmt: skip
    outcomes = select(
        debtors.c.submission_id, *(_distinct_where(Outcome.result.in_(results), Outcome.debtor_id)
                                   for _, results in reported),
    ).join(Outcome, Outcome.debtor_id == debtors.c.debtor_id)  # fmt: skip
    for submission_id, *values in session.execute(outcomes.group_by(debtors.c.submission_id)):
        counts[submission_id].update(
            {key: int(value) for (key, _), value in zip(reported, values, strict=True)}
        )
    return [
        BatchFunnel(row.id, row.organization_id, row.filename, row.status, row.created_at, counts[row.id])
        for row in batches
    ]


def _distinct_where(condition: ColumnElement[bool], column: Any) -> Any:
    """COUNT(DISTINCT column) over the rows meeting ``condition`` (one pass for several counts)."""
    return func.count(distinct(case((condition, column), else_=None)))


@dataclass(frozen=True)
class PeriodFunnel:
    """The funnel of the batches uploaded in one week or month (``start`` its first day, local)."""

    start: dt.date
    label: str
    batches: int
    counts: dict[str, int]


# Above this many weeks between the first and the last batch, periods are months.
WEEKS_SHOWN = 26


def funnel_by_period(
    batches: list[BatchFunnel], *, tz: str = "Asia/Shanghai", unit: str | None = None
) -> tuple[str, list[PeriodFunnel]]:
    """The batches' funnels added up by the week (Monday first) or month of their upload, in the
    service's time zone, oldest first and without gaps; ``unit`` ("week"/"month") or chosen by the
    span (weeks up to :data:`WEEKS_SHOWN` of them). Returns the unit and the periods."""
    if not batches:
        return unit or "week", []
    zone = ZoneInfo(tz)
    days = [local_day(batch.created_at, zone) for batch in batches]
    first, last = min(days), max(days)
    if unit is None:
        unit = "week" if (last - first).days < 7 * WEEKS_SHOWN else "month"
    if unit not in ("week", "month"):
        raise ValueError(f"unit must be week or month, not {unit!r}")
    start_of = _week_start if unit == "week" else _month_start
    periods: dict[dt.date, PeriodFunnel] = {}
    at = start_of(first)
    while at <= last:
        label = at.isoformat() if unit == "week" else at.strftime("%Y-%m")
        periods[at] = PeriodFunnel(at, label, 0, {key: 0 for key in FUNNEL_KEYS})
        at = at + dt.timedelta(days=7) if unit == "week" else _month_start(at + dt.timedelta(days=32))
    for batch, day in zip(batches, days, strict=True):
        period = periods[start_of(day)]
        for key, value in batch.counts.items():
            period.counts[key] += value
        periods[period.start] = PeriodFunnel(period.start, period.label, period.batches + 1, period.counts)
    return unit, list(periods.values())


def local_day(moment: dt.datetime, zone: ZoneInfo) -> dt.date:
    """The day ``moment`` (naive: UTC) falls on in ``zone``."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
    return aware.astimezone(zone).date()


def _week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def _month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)
