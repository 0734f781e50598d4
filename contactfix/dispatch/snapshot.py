"""Everything one send needs to know about its dispatch, read in one statement.

The dispatch row, its mediator's phone and hours, the debtor's reference, name, record and case
number, and the debtor phone's standing (do-not-contact, objected, recent calls) come back in one
round trip: on a busy database each statement costs milliseconds, and a send is a handful of them.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, exists, func, select

from contactfix.db.carrier_models import CarrierNumber
from contactfix.db.dispatch_models import CallAttempt, Dispatch, DoNotContact, Mediator
from contactfix.db.models import Contact, ContactStatus, Debtor, UtcDateTime
from contactfix.dispatch.gate import Party
from contactfix.dispatch.message import case_number_of
from contactfix.policy import ContactAttempt, ContactHistory, PolicyProfile, Window

__all__ = [
    "Snapshot",
    "debtor_party_of",
    "history_since",
    "load_snapshots",
    "mediator_party_of",
]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One dispatch as a send sees it (values, not ORM rows: nothing expires under it)."""

    id: int
    state: str
    attempts: int
    next_attempt_at: dt.datetime | None
    lease_until: dt.datetime | None
    idempotency_key: str
    contact_value: str
    debtor_id: int
    source_record_id: int
    reference: str
    name: str
    mediator_phone: str
    mediator_hours: str | None
    mediator_timezone: str | None
    case_number: str | None
    do_not_contact: bool
    objected: bool
    recent_calls: int
    # When the contact is a carrier's virtual number for this debtor: until when it is valid.
    carrier_expires_at: dt.datetime | None = None


def history_since(profile: PolicyProfile, now: dt.datetime) -> dt.datetime:
    """How far back call history matters to the profile's caps and pauses (a day's margin)."""
    days = max(profile.rolling_call_days, profile.call_pause_days_after_conversation, 1) + 1
    return now - dt.timedelta(days=days)


@functools.cache
def _snapshot_query() -> Any:
    """Built once: constructing a statement this size costs more than running it."""
    phone = Dispatch.contact_value
    listed = exists().where(DoNotContact.channel == "phone", DoNotContact.value == phone)
    objected = exists().where(
        Contact.channel == "phone", Contact.value == phone, Contact.status == ContactStatus.OBJECTED.value
    )
    recent = CallAttempt.at >= bindparam("since", type_=UtcDateTime())
    calls = select(func.count()).where(CallAttempt.value == phone, recent).scalar_subquery()
    carrier = (
        select(func.max(CarrierNumber.expires_at))
        .where(CarrierNumber.debtor_id == Dispatch.debtor_id, CarrierNumber.value == phone)
        .scalar_subquery()
    )
    columns = (
        Dispatch.id, Dispatch.state, Dispatch.attempts, Dispatch.next_attempt_at, Dispatch.lease_until,
        Dispatch.idempotency_key, Dispatch.contact_value, Dispatch.debtor_id, Debtor.source_record_id,
        Debtor.reference, Debtor.name, Mediator.phone, Mediator.hours, Mediator.timezone,
        case_number_of(Debtor.source_record_id).label("case_number"),
    )  # fmt: skip
    return (
        select(
            *columns,
            listed.label("listed"),
            objected.label("objected"),
            calls.label("calls"),
            carrier.label("carrier_expires_at"),
        )
        .join(Mediator, Mediator.id == Dispatch.mediator_id)
        .join(Debtor, Debtor.id == Dispatch.debtor_id)
        .where(Dispatch.id.in_(bindparam("ids", expanding=True)))
    )


def load_snapshots(
    connection: Connection, dispatch_ids: Sequence[int], since: dt.datetime
) -> dict[int, Snapshot]:
    """The snapshots of ``dispatch_ids`` that exist, by id: one statement for all of them."""
    rows = connection.execute(_snapshot_query(), {"ids": list(dispatch_ids), "since": since})
    found: dict[int, Snapshot] = {}
    for row in rows:
        values: list[Any] = list(row)
        values[15:18] = [bool(values[15]), bool(values[16]), int(values[17])]
        found[int(values[0])] = Snapshot(*values)
    return found


def mediator_party_of(snapshot: Snapshot) -> Party:
    """The text to the mediator: their own hours and zone when on record, else the profile's."""
    hours = Window.parse(snapshot.mediator_hours) if snapshot.mediator_hours else None
    attempt = ContactAttempt(
        recipient="mediator", channel="sms", mentions_debt=True, timezone=snapshot.mediator_timezone,
        mediator_hours=hours,
    )  # fmt: skip
    return Party(attempt, ContactHistory())


def debtor_party_of(connection: Connection, snapshot: Snapshot, since: dt.datetime) -> Party:
    """The debtor the mediator will call; the calls themselves are read only when there are any."""
    calls: list[tuple[dt.datetime, bool]] = []
    if snapshot.recent_calls:
        query = select(CallAttempt.at, CallAttempt.answered).where(
            CallAttempt.value == snapshot.contact_value, CallAttempt.at >= since
        )
        calls = [(at, answered) for at, answered in connection.execute(query)]
    answered = [at for at, was_answered in calls if was_answered]
    history = ContactHistory(
        call_attempts=tuple(at for at, _ in calls),
        do_not_contact=snapshot.do_not_contact,
        objected=snapshot.objected,
        last_conversation_at=max(answered) if answered else None,
    )
    return Party(ContactAttempt(recipient="debtor", channel="call", mentions_debt=True), history)
