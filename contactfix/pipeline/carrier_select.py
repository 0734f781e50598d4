"""Who carrier repair asks: debtors still lost with an ID number and an authorisation, and the
carrier-repaired debtors whose number is about to expire while their case is open.

Authorisation (PIPL: every request carries one), in this order:

* ``loan_contract``: the debtor's ``contract_number``, as the bank submitted it;
* ``court_delegation``: a court record in the debtor's identity that carries a case number. Court
  records reach us as a court's export of the cases it delegated to the mediation center (诉前委托调解),
  so a linked record with a case number is that delegation; its case number is both the reference and
  the case number (the newest case when there are several).

A debtor with neither is never asked (counted ``carrier_unauthorised``). Only full resident IDs and
residence permits can be asked (carriers match the SHA-256 of the full number; a masked ID cannot be).
Batches hold at most ``size`` debtors, never two with the same ID hash or the same authorisation
reference (a carrier would merge the first and answer the second ambiguously).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast as typing_cast

from sqlalchemy import ScalarSelect, String, and_, cast, exists, func, literal, or_, select
from sqlalchemy.orm import Session, aliased

from connectors.repair import Authorisation, hash_id_number
from connectors.repair.base import AuthorisationKind
from contactfix.db.carrier_models import CarrierNumber, CarrierRequest, CarrierRequestState
from contactfix.db.identity_models import IdentityMember
from contactfix.db.models import Debtor, DebtorStatus, IdType, RecordSource, SourceRecord

__all__ = ["Candidate", "Selection", "in_batches", "select_candidates"]

# What carriers can match: an 18-digit resident ID or residence permit, or a 15-digit old ID.
_FULL_ID = re.compile(r"^(\d{17}[\dXx]|\d{15})$")
_ASKABLE_ID_TYPES = (IdType.RESIDENT_ID.value, IdType.RESIDENCE_PERMIT.value)
_IN_FLIGHT = (CarrierRequestState.PENDING.value, CarrierRequestState.SUBMITTED.value)


@dataclass(frozen=True, slots=True)
class Candidate:
    """One debtor to ask, with its authorisation; ``id_sha256`` only to keep batches apart."""

    debtor_id: int
    id_sha256: str
    authorisation: Authorisation
    renewal: bool = False


@dataclass(frozen=True, slots=True)
class Selection:
    """The debtors to ask now, and how many lost ones could not be (no authorisation, no full ID)."""

    candidates: list[Candidate]
    unauthorised: int
    no_full_id: int


def court_case_of() -> ScalarSelect[str]:
    """The newest case number of a court record in the identity of the debtor's own record
    (a column: （2025）闽0103民初12号), NULL when there is none."""
    record = aliased(SourceRecord)
    own, same = aliased(IdentityMember), aliased(IdentityMember)
    members = (
        select(same.source_record_id)
        .join(own, own.identity_id == same.identity_id)
        .where(own.source_record_id == Debtor.source_record_id)
        .correlate_except(own, same)
    )
    spelled = (
        literal("（", String) + cast(record.case_year, String) + literal("）", String) + record.court_code
        + record.case_type + cast(record.case_sequence, String) + literal("号", String)
    )  # fmt: skip
    return (
        select(spelled)
        .where(
            record.id.in_(members),
            record.source == RecordSource.COURT.value,
            record.case_year.is_not(None),
            record.court_code.is_not(None),
            record.case_type.is_not(None),
            record.case_sequence.is_not(None),
        )
        .order_by(record.case_year.desc(), record.case_sequence.desc(), record.id)
        .limit(1)
        .correlate_except(record)
        .scalar_subquery()
    )


def authorisation_of(contract_number: str | None, case_number: str | None) -> Authorisation | None:
    """The loan contract when the bank gave one, else the court delegation, else None."""
    contract = (contract_number or "").strip()
    if contract:
        return Authorisation("loan_contract", contract[:100])
    case = (case_number or "").strip()
    if case:
        return Authorisation("court_delegation", case[:100], case[:100])
    return None


def select_candidates(session: Session, now: dt.datetime, retry_days: int, renew_days: int) -> Selection:
    """The lost debtors to ask and the numbers to renew, by debtor id (each debtor once)."""
    lost = _lost(session, now - dt.timedelta(days=retry_days))
    renewals = _renewals(session, now, retry_days, renew_days)
    seen = {c.debtor_id for c in lost.candidates}
    candidates = lost.candidates + [c for c in renewals if c.debtor_id not in seen]
    return Selection(candidates, lost.unauthorised, lost.no_full_id)


def _lost(session: Session, since: dt.datetime) -> Selection:
    asked = exists().where(
        CarrierRequest.debtor_id == Debtor.id,
        or_(CarrierRequest.state.in_(_IN_FLIGHT), CarrierRequest.created_at >= since),
    )
    query = (
        select(
            Debtor.id, Debtor.id_type, Debtor.id_number, Debtor.contract_number, court_case_of().label("case")
        )
        .where(Debtor.status == DebtorStatus.LOST.value, Debtor.id_number.is_not(None), ~asked)
        .order_by(Debtor.id)
    )
    candidates: list[Candidate] = []
    unauthorised = no_full_id = 0
    for debtor_id, id_type, id_number, contract, case in session.execute(query):
        if id_type not in _ASKABLE_ID_TYPES or not _FULL_ID.match(str(id_number).strip()):
            no_full_id += 1
            continue
        authorisation = authorisation_of(contract, case)
        if authorisation is None:
            unauthorised += 1
            continue
        candidates.append(Candidate(debtor_id, hash_id_number(str(id_number)), authorisation))
    return Selection(candidates, unauthorised, no_full_id)


def _renewals(session: Session, now: dt.datetime, retry_days: int, renew_days: int) -> list[Candidate]:
    """Open cases whose newest carrier number expires within ``renew_days`` (or has expired), not
    asked again since it was obtained (a no-match or failure older than the retry window aside)."""
    latest = (
        select(
            CarrierNumber.debtor_id,
            func.max(CarrierNumber.expires_at).label("expires_at"),
            func.max(CarrierNumber.obtained_at).label("obtained_at"),
        )
        .group_by(CarrierNumber.debtor_id)
        .subquery()
    )
    since = now - dt.timedelta(days=retry_days)
    asked_again = exists().where(
        CarrierRequest.debtor_id == latest.c.debtor_id,
        CarrierRequest.created_at > latest.c.obtained_at,
        or_(CarrierRequest.state.notin_(("no_match", "failed")), CarrierRequest.created_at >= since),
    )
    # The authorisation of the request that obtained the newest number.
    source = aliased(CarrierRequest)
    number = aliased(CarrierNumber)
    query = (
        select(Debtor.id, Debtor.id_number, source.authorisation_kind, source.authorisation_reference,
               source.case_number)
        .join(latest, latest.c.debtor_id == Debtor.id)
        .join(number, and_(number.debtor_id == Debtor.id, number.expires_at == latest.c.expires_at))
        .join(source, source.id == number.request_id)
        .where(
            latest.c.expires_at <= now + dt.timedelta(days=renew_days),
            Debtor.status != DebtorStatus.CLOSED.value,
            Debtor.id_number.is_not(None),
            ~asked_again,
        )
        .order_by(Debtor.id)
    )  # fmt: skip
    found: dict[int, Candidate] = {}
    for debtor_id, id_number, kind, reference, case in session.execute(query):
        if debtor_id in found or not _FULL_ID.match(str(id_number).strip()):
            continue
        authorisation = Authorisation(typing_cast(AuthorisationKind, kind), reference, case)
        found[debtor_id] = Candidate(debtor_id, hash_id_number(str(id_number)), authorisation, renewal=True)
    return list(found.values())


def in_batches(candidates: Iterable[Candidate], size: int) -> list[list[Candidate]]:
    """Batches of at most ``size``, none holding two candidates with one ID hash or one reference."""
    batches: list[list[Candidate]] = []
    left = list(candidates)
    while left:
        batch: list[Candidate] = []
        hashes: set[str] = set()
        references: set[str] = set()
        later: list[Candidate] = []
        for candidate in left:
            reference = candidate.authorisation.reference.strip()
            if len(batch) >= size or candidate.id_sha256 in hashes or reference in references:
                later.append(candidate)
                continue
            batch.append(candidate)
            hashes.add(candidate.id_sha256)
            references.add(reference)
        batches.append(batch)
        left = later
    return batches
