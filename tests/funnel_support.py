"""Bank batches with a known funnel, built row by row (no intake, no run): for the funnel's tests.

Batch ``k`` of ``add_batches`` is uploaded ``k`` weeks after ``first`` at 10:00 Shanghai time and
holds ``debtors`` debtors and one rejected row; debtor ``j`` of it gets, by ``j % 5``: 0 nothing;
1 repaired from records; 2 repaired and a dispatch sent; 3 repaired, delivered and reached;
4 repaired by a carrier, delivered, reached and mediated (and a wrong number on another contact).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools

from sqlalchemy import select
from sqlalchemy.orm import Session

from contactfix.db.dispatch_models import Dispatch, Mediator
from contactfix.db.models import AuditEntry, Debtor, Organization, SourceRecord, Submission, SubmissionIssue
from contactfix.db.outcome_models import Outcome
from contactfix.pipeline.report import REPAIRED_BY_CARRIER, REPAIRED_FROM_RECORDS

_serial = itertools.count(1)


def _mediator(session: Session) -> int:
    found = session.scalar(select(Mediator.id).limit(1))
    if found is not None:
        return int(found)
    mediator = Mediator(name="测试", phone="+8613700000099", center="示范调解中心")
    session.add(mediator)
    session.flush()
    return mediator.id


def add_batches(
    session: Session, organization: str, batches: int, debtors: int, first: dt.date, *, every_days: int = 7
) -> list[int]:
    """``batches`` bank batches of ``organization`` (created when missing); their ids, oldest first."""
    org = session.scalar(select(Organization).where(Organization.name == organization))
    if org is None:
        org = Organization(name=organization, kind="bank")
        session.add(org)
        session.flush()
    mediator_id = _mediator(session)
    submissions = []
    for k in range(batches):
        serial = next(_serial)
        at = dt.datetime.combine(first + dt.timedelta(days=every_days * k), dt.time(2, 0), tzinfo=dt.UTC)
        submissions.append(Submission(
            organization_id=org.id, kind="bank_batch", filename=f"{organization}-{at:%Y%m%d}.csv",
            content_sha256=hashlib.sha256(f"{organization}{serial}".encode()).hexdigest(), rows=debtors + 1,
            accepted=debtors, rejected=1, status="completed", created_at=at, completed_at=at,
        ))  # fmt: skip
    session.add_all(submissions)
    session.flush()  # one flush per table, not per batch: a thousand batches take seconds
    session.add_all(
        SubmissionIssue(submission_id=submission.id, row=debtors + 2, field="reference",
                        reason="missing reference", severity="rejected")
        for submission in submissions
    )  # fmt: skip
    records = [
        SourceRecord(source="bank", record_key=f"funnel:{submission.id}:{j}", organization_id=org.id,
                     reference=f"F{submission.id}-{j}", name_original="王芳", name="王芳")
        for submission in submissions for j in range(debtors)
    ]  # fmt: skip
    session.add_all(records)
    session.flush()
    people = [
        (Debtor(organization_id=org.id, reference=record.reference, source_record_id=record.id,
                submission_id=submission.id, party_type="person", name_original="王芳", name="王芳"),
         j, submission.created_at)
        for k, submission in enumerate(submissions)
        for j, record in enumerate(records[k * debtors : (k + 1) * debtors])
    ]  # fmt: skip
    session.add_all([debtor for debtor, _, _ in people])
    session.flush()
    rows: list[object] = []
    for debtor, j, at in people:
        stage = j % 5
        if stage == 0:
            continue
        how = REPAIRED_BY_CARRIER if stage == 4 else REPAIRED_FROM_RECORDS
        rows.append(AuditEntry(actor="pipeline", action=how, subject_type="debtor", subject_id=debtor.id))
        if stage >= 2:
            state = "sent" if stage == 2 else "delivered"
            rows.append(Dispatch(
                idempotency_key=hashlib.sha256(f"d{debtor.id}".encode()).hexdigest(), debtor_id=debtor.id,
                mediator_id=mediator_id, channel="sms", purpose="case_assigned", contact_channel="phone",
                contact_value="+8613900000002", state=state,
            ))  # fmt: skip
        for result in ("reached",) * (stage >= 3) + ("mediated", "wrong_number") * (stage == 4):
            rows.append(Outcome(debtor_id=debtor.id, channel="phone", value="+8613900000002",
                                result=result, reported_at=at, reporter="med"))  # fmt: skip
    session.add_all(rows)
    session.flush()
    return [submission.id for submission in submissions]
