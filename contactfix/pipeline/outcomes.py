"""Outcomes: what a mediator or a dialer found when they used a debtor's contact.

:func:`record_outcome` validates one report and stores it as an :class:`~contactfix.db.Outcome`
observation, with its immediate effects, in the caller's transaction:

* ``reached``, ``promised_to_pay``, ``refused_to_pay``: the debtor was on the line, the debtor moves to
  ``reached``; ``mediated``: the case is settled, the debtor moves to ``closed``;
* ``objected``: all contact with the debtor stops: every phone of the debtor goes on the do-not-contact
  list and its dispatches not yet sent are blocked;
* ``wrong_number``: a dispatch of that number not yet sent is blocked; the next reconciliation ranks
  the number last and plans a dispatch of the next candidate;
* ``no_answer``: only the observation (weak evidence against, counted by ranking).

Every report writes an audit entry (masked). The next incremental reconciliation re-ranks the debtor
(:func:`debtors_with_outcomes_since`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from contactfix.db.audit import record_audit
from contactfix.db.carrier_models import CarrierNumber
from contactfix.db.dispatch_models import Dispatch, DispatchState, DoNotContact
from contactfix.db.identity_models import ContactRanking
from contactfix.db.models import Contact, Debtor, DebtorStatus
from contactfix.db.outcome_models import REACHING_RESULTS, Outcome, OutcomeResult
from contactfix.errors import ContactfixError
from matchers.errors import InvalidPhone
from matchers.identifiers import parse_phone
from matchers.identifiers.phone import mask_phone

__all__ = [
    "RESULT_WORDS",
    "InvalidOutcome",
    "debtors_with_outcomes_since",
    "parse_result",
    "record_outcome",
]

# The result words a dialer's export or a mediator's page may use, Chinese included (the labels of the
# mediators' buttons), each to its result.
RESULT_WORDS: dict[str, OutcomeResult] = {
    **{result.value: result for result in OutcomeResult},
    "接通本人": OutcomeResult.REACHED,
    "号码错误": OutcomeResult.WRONG_NUMBER,
    "无人接听": OutcomeResult.NO_ANSWER,
    "拒绝联系": OutcomeResult.OBJECTED,
    "承诺还款": OutcomeResult.PROMISED_TO_PAY,
    "拒绝还款": OutcomeResult.REFUSED_TO_PAY,
    "调解成功": OutcomeResult.MEDIATED,
}
# Dispatches that have not gone out yet and can still be stopped.
_UNSENT = (DispatchState.PENDING.value, DispatchState.DEFERRED.value)
# A report may come from a dialer's clock a little ahead of ours; further ahead is a typo.
_CLOCK_SKEW = dt.timedelta(hours=1)
_NOTE_LENGTH = 500


class InvalidOutcome(ContactfixError, ValueError):
    """An outcome report was refused; the message says why and is safe to show (numbers masked)."""


def parse_result(word: str) -> OutcomeResult:
    """The result a word names (``reached``, ``号码错误``…); InvalidOutcome for any other word."""
    found = RESULT_WORDS.get(word.strip().lower()) or RESULT_WORDS.get(word.strip())
    if found is None:
        allowed = ", ".join(result.value for result in OutcomeResult)
        raise InvalidOutcome(f"unknown result {word.strip()[:40]!r}; use one of: {allowed}")
    return found


def _phone(contact: str) -> str:
    try:
        return parse_phone(contact).e164
    except InvalidPhone:
        raise InvalidOutcome(f"contact {mask_phone(contact)} is not a valid phone number") from None


def debtor_phones(session: Session, debtor_id: int) -> set[str]:
    """Every phone the debtor has: its ranked phones and unexpired carrier numbers, or its own
    record's before the first ranking."""
    ranked = session.scalars(
        select(ContactRanking.value).where(
            ContactRanking.debtor_id == debtor_id, ContactRanking.channel == "phone"
        )
    )
    phones = set(ranked)
    # A carrier's number not yet ranked (the next reconciliation ranks it) is the debtor's all the same.
    carrier = select(CarrierNumber.value).where(
        CarrierNumber.debtor_id == debtor_id, CarrierNumber.expires_at > dt.datetime.now(dt.UTC)
    )
    phones |= set(session.scalars(carrier))
    if not phones:
        own = (
            select(Contact.value)
            .join(Debtor, Debtor.source_record_id == Contact.source_record_id)
            .where(Debtor.id == debtor_id, Contact.channel == "phone")
        )
        phones = set(session.scalars(own))
    return phones


def record_outcome(
    session: Session,
    *,
    debtor_id: int,
    contact: str,
    result: str,
    reporter: str,
    note: str | None = None,
    reported_at: dt.datetime | None = None,
    channel: str = "phone",
) -> Outcome:
    """Store one outcome of using ``contact`` of debtor ``debtor_id``, with its effects; return it.

    ``result`` is a result word (:data:`RESULT_WORDS`); ``reporter`` a login or ``cli``;
    ``reported_at`` when it happened (default now; not in the future). Raises :class:`InvalidOutcome`
    for an unknown debtor, result or contact, or a contact the debtor does not have. Flushes through
    ``session``; the caller commits.
    """
    if channel != "phone":
        raise InvalidOutcome(f"outcomes are reported for phones, not {channel[:20]!r}")
    chosen = parse_result(result)
    value = _phone(contact)
    now = dt.datetime.now(dt.UTC)
    when = reported_at or now
    if when.tzinfo is None:
        raise InvalidOutcome("reported_at needs a time zone (e.g. 2026-12-07T10:30:00+08:00)")
    if when > now + _CLOCK_SKEW:
        raise InvalidOutcome(f"reported_at {when.isoformat()} is in the future")
    debtor = session.get(Debtor, debtor_id)
    if debtor is None:
        raise InvalidOutcome(f"no debtor {debtor_id}")
    if value not in debtor_phones(session, debtor_id):
        raise InvalidOutcome(f"debtor {debtor.reference} has no contact {mask_phone(value)}")
    dispatch_id = session.scalar(
        select(Dispatch.id)
        .where(Dispatch.debtor_id == debtor_id, Dispatch.contact_value == value)
        .order_by(Dispatch.id.desc())
        .limit(1)
    )
    outcome = Outcome(
        debtor_id=debtor_id,
        channel=channel,
        value=value,
        result=chosen.value,
        note=(note or "").strip()[:_NOTE_LENGTH] or None,
        reported_at=when,
        reporter=reporter[:100],
        dispatch_id=dispatch_id,
    )
    session.add(outcome)
    _apply(session, debtor, chosen, value)
    session.flush()
    record_audit(
        session, reporter, "outcome.recorded", "debtor", debtor_id,
        result=chosen.value, contact=mask_phone(value), outcome_id=outcome.id, dispatch_id=dispatch_id,
    )  # fmt: skip
    return outcome


def _apply(session: Session, debtor: Debtor, result: OutcomeResult, value: str) -> None:
    """The effects of an outcome that cannot wait for the next reconciliation."""
    if result == OutcomeResult.MEDIATED:
        _move(debtor, DebtorStatus.CLOSED, (DebtorStatus.LOST, DebtorStatus.REPAIRED, DebtorStatus.REACHED))
    elif result in REACHING_RESULTS:
        _move(debtor, DebtorStatus.REACHED, (DebtorStatus.LOST, DebtorStatus.REPAIRED))
    if result == OutcomeResult.OBJECTED:
        _listed(session, sorted(debtor_phones(session, debtor.id)), "debtor objected")
        _block(session, debtor.id, None, "objection")
    elif result == OutcomeResult.WRONG_NUMBER:
        _block(session, debtor.id, value, "wrong_number")


def _move(debtor: Debtor, to: DebtorStatus, allowed_from: Sequence[DebtorStatus]) -> None:
    """Statuses only move forward: from ``allowed_from`` to ``to``, else the debtor keeps its own."""
    if debtor.status in {status.value for status in allowed_from}:
        debtor.status = to.value


def _listed(session: Session, phones: Sequence[str], reason: str) -> None:
    """Put phones on the do-not-contact list; those already there keep their first reason."""
    listed = set(
        session.scalars(
            select(DoNotContact.value).where(DoNotContact.channel == "phone", DoNotContact.value.in_(phones))
        )
    )
    session.add_all(
        DoNotContact(channel="phone", value=phone, reason=reason) for phone in phones if phone not in listed
    )


def _block(session: Session, debtor_id: int, value: str | None, rule: str) -> None:
    """Stop the debtor's dispatches not yet sent (those of ``value`` only, when given)."""
    query = update(Dispatch).where(Dispatch.debtor_id == debtor_id, Dispatch.state.in_(_UNSENT))
    if value is not None:
        query = query.where(Dispatch.contact_value == value)
    session.execute(
        query.values(state=DispatchState.BLOCKED.value, rule=rule).execution_options(
            synchronize_session=False
        )
    )


def debtors_with_outcomes_since(session: Session, since: dt.datetime) -> list[int]:
    """Debtors with an outcome stored after ``since``: the incremental run re-ranks them."""
    query = select(Outcome.debtor_id).where(Outcome.created_at > since).distinct()
    return sorted(session.scalars(query))


def outcomes_of(session: Session, debtor_ids: Iterable[int]) -> dict[int, list[Outcome]]:
    """debtor id → its outcomes, oldest first."""
    wanted = sorted(set(debtor_ids))
    found: dict[int, list[Outcome]] = {}
    for start in range(0, len(wanted), 500):
        query = (
            select(Outcome)
            .where(Outcome.debtor_id.in_(wanted[start : start + 500]))
            .order_by(Outcome.debtor_id, Outcome.reported_at, Outcome.id)
        )
        for outcome in session.scalars(query):
            found.setdefault(outcome.debtor_id, []).append(outcome)
    return found
