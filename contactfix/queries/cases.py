"""A mediator's cases: the debtors assigned to them, the contact to call and when the policy allows it.

A case is identified by its debtor's id (``case_id``): a debtor has one case assignment. What a
mediator sees of the contacts is what the case's bank would see (:class:`ContactView`), masked; the
number itself is revealed only by the audited call (``POST /cases/{id}/call``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from contactfix.access.policy import ContactView
from contactfix.db.dispatch_models import CallAttempt, DoNotContact
from contactfix.db.models import Contact, ContactStatus, Debtor, Organization
from contactfix.db.outcome_models import Outcome
from contactfix.dispatch.message import case_number_of, mask_name
from contactfix.dispatch.snapshot import history_since
from contactfix.policy import ContactAttempt, ContactHistory, Decision, PolicyProfile, evaluate
from contactfix.queries.debtors import ShownContact, masked_contact, shown_contacts
from contactfix.queries.exports import UNUSABLE
from matchers.identifiers import mask_id

__all__ = ["CallTarget", "case_detail", "case_row", "find_case", "lawful_target", "list_cases"]

ViewOf = Callable[[int], ContactView]
_OUTCOMES_SHOWN = 20


def _columns() -> tuple[Any, ...]:
    return (
        Debtor.id, Debtor.organization_id, Debtor.source_record_id, Debtor.reference, Debtor.status,
        Debtor.name_original, Debtor.id_number, Organization.name.label("bank"),
        case_number_of(Debtor.source_record_id).label("case_number"),
    )  # fmt: skip


def find_case(session: Session, case_id: int, visible: ColumnElement[bool]) -> Any | None:
    """The case's debtor row (with ``bank`` and ``case_number``) among ``visible``, or None."""
    query = (
        select(*_columns())
        .join(Organization, Organization.id == Debtor.organization_id)
        .where(Debtor.id == case_id, visible)
    )
    return session.execute(query).first()


def usable_phones(contacts: Sequence[ShownContact]) -> list[ShownContact]:
    """The phones that may be called at all, best first: not wrong, invalid, shared or objected to."""
    return [c for c in contacts if c.channel == "phone" and not UNUSABLE & set(c.flags)]


def debtor_decision(session: Session, phone: str, profile: PolicyProfile, now: dt.datetime) -> Decision:
    """May the debtor be called on ``phone`` now? The policy's decision, from the stored history."""
    since = history_since(profile, now)
    calls = session.execute(
        select(CallAttempt.at, CallAttempt.answered).where(
            CallAttempt.value == phone, CallAttempt.at >= since
        )
    ).all()
    listed = session.scalar(
        select(DoNotContact.id).where(DoNotContact.channel == "phone", DoNotContact.value == phone).limit(1)
    )
    objected = session.scalar(
        select(Contact.id)
        .where(
            Contact.channel == "phone", Contact.value == phone, Contact.status == ContactStatus.OBJECTED.value
        )
        .limit(1)
    )
    answered = [at for at, was_answered in calls if was_answered]
    history = ContactHistory(
        call_attempts=tuple(at for at, _ in calls), do_not_contact=listed is not None,
        objected=objected is not None, last_conversation_at=max(answered) if answered else None,
    )  # fmt: skip
    attempt = ContactAttempt(recipient="debtor", channel="call", mentions_debt=True)
    return evaluate(attempt, history, profile, now)


@dataclass(frozen=True)
class CallTarget:
    """The best lawful phone of a case and the policy's word on calling it now."""

    contact: ShownContact | None
    decision: Decision | None


def lawful_target(
    session: Session, contacts: Sequence[ShownContact], profile: PolicyProfile, now: dt.datetime
) -> CallTarget:
    """The best phone no stop rule forbids (objection, do-not-contact), with its decision now (allowed,
    or deferred to the next allowed time); no contact when every phone is stopped or none is usable."""
    for contact in usable_phones(contacts):
        decision = debtor_decision(session, contact.value, profile, now)
        if not decision.blocked:
            return CallTarget(contact, decision)
    return CallTarget(None, None)


def _next_allowed(target: CallTarget, now: dt.datetime) -> dt.datetime | None:
    if target.decision is None:
        return None
    return now if target.decision.allowed else target.decision.defer_until


def case_row(
    session: Session, row: Any, view_of: ViewOf, profile: PolicyProfile, now: dt.datetime
) -> dict[str, Any]:
    """One case as the list shows it: numbers masked, the best lawful contact and when it may be called."""
    contacts = shown_contacts(session, row, view_of(row.organization_id))
    target = lawful_target(session, contacts, profile, now)
    best = target.contact
    return {
        "case_id": row.id,
        "case_number": row.case_number,
        "reference": row.reference,
        "bank": row.bank,
        "status": row.status,
        "debtor": mask_name(row.name_original),
        "best_contact": None if best is None else masked_contact(best.channel, best.value),
        "confidence": None if best is None else round(best.confidence, 4),
        "next_allowed_at": _next_allowed(target, now),
        "policy": None if target.decision is None else target.decision.reason,
    }


def list_cases(
    session: Session, visible: ColumnElement[bool], view_of: ViewOf, profile: PolicyProfile,
    now: dt.datetime, *, limit: int, offset: int,
) -> list[dict[str, Any]]:  # fmt: skip
    """The cases among ``visible``, oldest first, a page of ``limit`` from ``offset``."""
    query = (
        select(*_columns())
        .join(Organization, Organization.id == Debtor.organization_id)
        .where(visible)
        .order_by(Debtor.id)
        .limit(limit)
        .offset(offset)
    )
    return [case_row(session, row, view_of, profile, now) for row in session.execute(query).all()]


def case_detail(
    session: Session, row: Any, view_of: ViewOf, profile: PolicyProfile, now: dt.datetime
) -> dict[str, Any]:
    """One case in full: the list's fields, the masked ID, every shown contact, recent outcomes."""
    detail = case_row(session, row, view_of, profile, now)
    contacts = shown_contacts(session, row, view_of(row.organization_id))
    outcomes = session.execute(
        select(Outcome.channel, Outcome.value, Outcome.result, Outcome.reported_at, Outcome.reporter)
        .where(Outcome.debtor_id == row.id)
        .order_by(Outcome.reported_at.desc())
        .limit(_OUTCOMES_SHOWN)
    ).all()
    detail["id_number"] = mask_id(row.id_number) if row.id_number else None
    detail["contacts"] = [
        {"channel": c.channel, "rank": c.rank, "value": masked_contact(c.channel, c.value),
         "confidence": round(c.confidence, 4), "flags": c.flags, "last_seen": c.last_seen}
        for c in contacts
    ]  # fmt: skip
    detail["outcomes"] = [
        {"contact": masked_contact(o.channel, o.value), "result": o.result, "reported_at": o.reported_at,
         "reporter": o.reporter}
        for o in outcomes
    ]  # fmt: skip
    return detail
