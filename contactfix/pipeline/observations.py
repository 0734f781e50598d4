"""Each debtor's contact observations: every contact of every record of its identity, as ranking
takes them (:class:`contactfix.pipeline.ranking.Observation`).

Read in rounds of debtors with a few set queries each (identity members, records, contacts), never
one query per debtor. A debtor without an identity is observed through its own record alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import NamedTuple

from sqlalchemy import or_, select, tuple_
from sqlalchemy.orm import Session, aliased

from contactfix.db.identity_models import IdentityMember
from contactfix.db.models import Contact, Debtor, RecordSource, SourceRecord
from contactfix.db.outcome_models import Outcome
from contactfix.pipeline.ranking import Observation, SourceTrust
from contactfix.pipeline.records import among, batches

__all__ = [
    "SERVICE_ADDRESS",
    "DebtorRow",
    "add_carrier_numbers",
    "add_outcomes",
    "debtor_chunks",
    "debtor_observations",
    "debtors_with_changed_contacts",
    "gather",
    "identity_members",
]

# Debtors per round of queries: bounded memory (a few MB of observations), and few enough rounds that
# their dozen statements each cost a full run little (500 a round made 500 rounds at 250,000 debtors).
# SQLite's IN lists are cut to its variable limit by records.batches whatever the round's size.
CHUNK = 2000
# A court record's contact with this line type is an address the party confirmed for service.
SERVICE_ADDRESS = "service_address"


class DebtorRow(NamedTuple):
    """What repair needs of a debtor."""

    id: int
    organization_id: int
    source_record_id: int
    status: str


class _Record(NamedTuple):
    id: int
    source: str
    organization_id: int | None
    reference: str | None
    observed_on: dt.date | None


def debtor_chunks(session: Session, debtor_ids: Iterable[int] | None) -> Iterator[list[DebtorRow]]:
    """The debtors ``debtor_ids`` (None: all), in rounds of :data:`CHUNK` by id."""
    columns = (Debtor.id, Debtor.organization_id, Debtor.source_record_id, Debtor.status)
    if debtor_ids is None:
        # Keyset pages: each round reads the next debtors by id, whatever the previous round wrote.
        last = 0
        while True:
            query = select(*columns).where(Debtor.id > last).order_by(Debtor.id).limit(CHUNK)
            rows = [DebtorRow(*row) for row in session.execute(query)]
            if not rows:
                return
            yield rows
            last = rows[-1].id
    wanted, connection = sorted(set(debtor_ids)), session.connection()
    for start in range(0, len(wanted), CHUNK):
        chosen = among(connection, Debtor.id, wanted[start : start + CHUNK])
        query = select(*columns).where(chosen).order_by(Debtor.id)
        rows = [DebtorRow(*row) for row in session.execute(query)]
        if rows:
            yield rows


def debtor_observations(
    session: Session, debtor_ids: Sequence[int], *, members: Mapping[int, Mapping[int, float]] | None = None
) -> dict[int, list[Observation]]:
    """Every contact observation of each debtor's identity, as repair ranks them.

    ``members`` (debtor id → {record id: membership probability}) replaces the identities resolve
    wrote: benchmarks score ranking on known identities, apart from resolution's mistakes.
    """
    found: dict[int, list[Observation]] = {}
    for chunk in debtor_chunks(session, debtor_ids):
        if members is None:
            chunk_members = identity_members(session, chunk)
        else:
            chunk_members = {d.id: {d.source_record_id: 1.0, **members.get(d.id, {})} for d in chunk}
        found.update(gather(session, chunk, chunk_members))
    return found


def gather(
    session: Session, debtors: list[DebtorRow], members: dict[int, dict[int, float]]
) -> dict[int, list[Observation]]:
    """debtor id → the observations of its ``members`` (record id → membership probability)."""
    record_ids = {record_id for found in members.values() for record_id in found}
    session.flush()  # the reads below go to the connection, past the session's autoflush
    records = _records(session, record_ids)
    contacts = _contacts(session, record_ids)
    return {d.id: list(_observations(d, members[d.id], records, contacts)) for d in debtors}


# What a reported result says of the contact, as ranking reads a status: the debtor on the line
# (whatever they said), nobody or somebody else, or a stop.
_OUTCOME_STATUS = {
    "reached": "reached",
    "promised_to_pay": "reached",
    "refused_to_pay": "reached",
    "mediated": "reached",
    "objected": "objected",
    "wrong_number": "wrong_number",
    "no_answer": "no_answer",
}


def add_outcomes(session: Session, gathered: dict[int, list[Observation]]) -> None:
    """Add each debtor's reported outcomes to its observations (debtor id → observations), in place.

    An outcome is an observation of its own (trust MEDIATOR, dated the day it was reported), with a
    negative record id so that it never merges with a source record. A report for the debtor's
    number says the number is the debtor's (membership 1) when the debtor was on the line; a report
    against it says nothing of whose it is (ranking leaves it out of membership).
    """
    from contactfix.pipeline.outcomes import outcomes_of  # outcomes imports dispatch, which imports us

    for debtor_id, outcomes in outcomes_of(session, gathered).items():
        gathered[debtor_id].extend(
            Observation(
                record_id=-outcome.id,
                trust=SourceTrust.MEDIATOR,
                source="mediator",
                source_key=f"mediator:{outcome.reporter}",
                reference=f"outcome {outcome.id} {outcome.result}",
                observed_on=outcome.reported_at.date(),
                channel=outcome.channel,
                value=outcome.value,
                status=_OUTCOME_STATUS[outcome.result],
                membership=1.0,
            )
            for outcome in outcomes
        )


def add_carrier_numbers(session: Session, gathered: dict[int, list[Observation]], now: dt.datetime) -> None:
    """Add each debtor's unexpired carrier numbers to its observations, in place: the subscriber behind
    the debtor's ID today, by the carrier's answer (trust CARRIER, dated the day it was obtained). An
    expired number is left out: it no longer reaches anyone we may call."""
    from contactfix.pipeline.carrier_numbers import carrier_observations

    for debtor_id, numbers in carrier_observations(session, gathered, now).items():
        gathered[debtor_id].extend(
            Observation(
                record_id=-(10**12 + index),  # apart from records and outcomes
                trust=SourceTrust.CARRIER,
                source="carrier",
                source_key=f"carrier:{value}",
                reference="运营商修复 carrier answer",
                observed_on=obtained_on,
                channel="phone",
                value=value,
                line_type="mobile",
                membership=1.0,
            )
            for index, (value, obtained_on, _expires_at) in enumerate(numbers)
        )


def identity_members(session: Session, debtors: list[DebtorRow]) -> dict[int, dict[int, float]]:
    """debtor id → {record id: membership probability} of its identity; at least its own record."""
    by_record = {d.source_record_id: d.id for d in debtors}
    own = aliased(IdentityMember)
    query = (
        select(own.source_record_id, IdentityMember.source_record_id, IdentityMember.probability)
        .join(IdentityMember, IdentityMember.identity_id == own.identity_id)
        .where(among(session.connection(), own.source_record_id, list(by_record)))
    )
    found: dict[int, dict[int, float]] = {d.id: {d.source_record_id: 1.0} for d in debtors}
    for own_record, record_id, probability in session.execute(query):
        if record_id != own_record:  # the debtor's own record is its own, whatever resolve scored
            found[by_record[own_record]][record_id] = float(probability)
    return found


def _records(session: Session, record_ids: set[int]) -> dict[int, _Record]:
    columns = (SourceRecord.id, SourceRecord.source, SourceRecord.organization_id, SourceRecord.reference,
               SourceRecord.observed_on)  # fmt: skip
    found: dict[int, _Record] = {}
    connection = session.connection()
    for part in batches(connection, sorted(record_ids)):
        # On the connection, not the session: plain rows, without the ORM's loading layer per row.
        for row in connection.execute(select(*columns).where(among(connection, SourceRecord.id, part))):
            found[row[0]] = _Record(*row)
    return found


def _contacts(session: Session, record_ids: set[int]) -> dict[int, list[tuple[str, str, str | None, str]]]:
    """record id → its contacts as (channel, value, line_type, status)."""
    columns = (Contact.source_record_id, Contact.channel, Contact.value, Contact.line_type, Contact.status)
    found: dict[int, list[tuple[str, str, str | None, str]]] = {}
    connection = session.connection()
    for part in batches(connection, sorted(record_ids)):
        chosen = among(connection, Contact.source_record_id, part)
        query = select(*columns).where(chosen).order_by(Contact.id)
        for record_id, channel, value, line_type, status in connection.execute(query):
            found.setdefault(record_id, []).append((channel, value, line_type, status))
    return found


def _observations(
    debtor: DebtorRow,
    members: dict[int, float],
    records: dict[int, _Record],
    contacts: dict[int, list[tuple[str, str, str | None, str]]],
) -> Iterator[Observation]:
    for record_id, membership in members.items():
        record = records.get(record_id)
        if record is None:  # deleted between the two queries; the next run sees the new state
            continue
        phones = 0
        for channel, value, line_type, status in contacts.get(record_id, ()):
            position = phones if channel == "phone" else 0
            phones += channel == "phone"
            yield Observation(
                record_id=record.id,
                trust=_trust(record, debtor, line_type),
                source=record.source,
                source_key=_source_key(record),
                reference=record.reference,
                observed_on=record.observed_on,
                channel=channel,
                value=value,
                line_type=line_type,
                status=status,
                membership=membership,
                position=position,
            )


def _trust(record: _Record, debtor: DebtorRow, line_type: str | None) -> SourceTrust:
    if record.source == RecordSource.BANK.value:
        own = record.organization_id == debtor.organization_id
        return SourceTrust.OWN_BANK if own else SourceTrust.OTHER_BANK
    if record.source == RecordSource.CARRIER.value:
        return SourceTrust.CARRIER
    if record.source == RecordSource.MEDIATOR.value:
        return SourceTrust.MEDIATOR
    return SourceTrust.COURT_SERVICE if line_type == SERVICE_ADDRESS else SourceTrust.COURT_FILING


def _source_key(record: _Record) -> str:
    """Independent sources: each court case, each bank, each carrier; each mediator's report."""
    if record.source == RecordSource.COURT.value:
        return f"court:{record.reference or record.id}"
    if record.source == RecordSource.MEDIATOR.value:
        return f"mediator:{record.id}"
    return f"{record.source}:{record.organization_id}"


def debtors_with_changed_contacts(session: Session, since: dt.datetime) -> list[int]:
    """Debtors whose ranking may have changed although resolve regrouped nothing of theirs.

    Those with an outcome reported after ``since``, those whose identity holds a contact changed
    after it (a number added to a record), and those whose identity carries a phone or address
    that such a contact has too (a new record elsewhere can make their phone a shared one).
    """
    changed = select(Contact.channel, Contact.value).where(Contact.updated_at > since).distinct()
    touched = select(Contact.source_record_id).where(tuple_(Contact.channel, Contact.value).in_(changed))
    own, member = aliased(IdentityMember), aliased(IdentityMember)
    through_identity = (
        select(own.source_record_id)
        .join(member, member.identity_id == own.identity_id)
        .where(member.source_record_id.in_(touched))
    )
    query = select(Debtor.id).where(
        or_(Debtor.source_record_id.in_(touched), Debtor.source_record_id.in_(through_identity))
    )
    reported = select(Outcome.debtor_id).where(Outcome.created_at > since)
    return sorted(set(session.scalars(query)) | set(session.scalars(reported)))
