"""Erasure (PIPL art. 47) and retention: remove one debtor's personal data from everywhere it went.

:func:`erase_debtor` erases the debtor a bank knows by ``reference``;
:func:`contactfix.privacy.retention.run_retention` erases every debtor whose case is ``closed`` and
unchanged for ``retention_days``. What erasure does, table by table (the README's "Erasure and
retention" says the same for operators):

* ``debtors`` and the bank's own ``source_records`` row of the debtor: deleted.
* the other source records of the debtor's identity (court party rows, other sources): they are the
  debtor's personal data — name, ID number, address, phones — held only to repair this debtor, so
  they are **deleted**, not scrubbed: a scrubbed party row would still tie a case number and a role to
  the person (the court's docket names them), which is pseudonymous, not anonymous, and nothing in
  contactfix reads a party row without its identity. The court's case itself stays with the court.
  Exception: when the identity also holds *another* debtor's bank record (the same person owes a
  second bank), those shared rows serve that case too and are kept (counted as ``shared_records_kept``).
* ``contacts``, ``blocking_keys``, ``identity_members``, ``record_links``, ``link_reviews`` of the
  erased records: deleted; an ``identities`` row left with no member: deleted.
* ``contact_rankings``, ``case_assignments``, ``dispatches`` (with their ``dispatch_decisions``),
  ``outcomes`` (value and note), ``carrier_requests``, ``carrier_numbers`` of the debtor: deleted.
* ``call_attempts``: those of the debtor's dispatches, and those of its phones that no remaining
  record holds, deleted. A phone that someone else's record still holds keeps its call history: the
  daily call cap protects that other person too.
* ``do_not_contact``: an objection must still be honoured if the number comes back (a court export
  taken in again, a bank's new batch), so the entry of a number that no remaining record holds is
  kept only as a keyed hash — channel ``phone_hash``, value ``KEYID:HMAC`` under the deployment's
  ``do_not_contact`` key (:mod:`contactfix.privacy.keyring`) — which nobody can turn back into the
  number. :func:`relist_erased_objections` puts the number on the list in clear again the moment a
  record brings it back into the database (the nightly task runs it before reconciling).
* ``audit_log``: earlier entries stay (they never hold an unmasked ID or phone: :mod:`contactfix.db.audit`);
  one tombstone ``debtor.erased`` is added: who, when, the organisation, the reference, and counts.
* Redis: the rate-limit buckets keyed by the keyed hash of any of the debtor's erased phones
  (``contactfix:rl:recipient:…``, under every key of the keyring) are deleted. Celery messages hold
  dispatch ids only (a worker finds an erased one "missing"); the reconcile lock holds a random token.
* Retention (:mod:`contactfix.privacy.retention`) erases closed cases the same way.
* Not touched: the ``outbox`` file (the mediators' message log, as an SMSC's log would be: it is
  purged by the operator's log retention, see the README), exports and issues CSVs already handed out.

Erasure takes the reconciliation lock (a run must not re-link a half-erased identity), refuses while
a reconciliation holds it (or waits ``wait_s``), and runs in one database transaction; Redis buckets
are deleted inside it, before the commit, so a Redis that does not answer rolls the erasure back.
Erasing twice erases nothing the second time and says so (the tombstone knows the reference).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, delete, func, or_, select
from sqlalchemy.orm import Session

from contactfix.db.audit import record_audit
from contactfix.db.carrier_models import CarrierNumber, CarrierRequest
from contactfix.db.dispatch_models import (
    CallAttempt,
    CaseAssignment,
    Dispatch,
    DispatchDecision,
    DoNotContact,
)
from contactfix.db.identity_models import BlockingKey, ContactRanking, Identity, IdentityMember, RecordLink
from contactfix.db.models import AuditEntry, Contact, Debtor, Organization, SourceRecord
from contactfix.db.outcome_models import Outcome
from contactfix.db.review_models import LinkReview
from contactfix.errors import ContactfixError, NotFound
from contactfix.pipeline.lock import ReconcileLocked, reconcile_lock
from contactfix.privacy.keyring import PURPOSE_RATELIMIT, KeyedHash, Keyring, current_keyring

__all__ = [
    "ERASED_ACTION",
    "HASHED_CHANNEL",
    "PURPOSE_DO_NOT_CONTACT",
    "ErasureError",
    "ErasureReport",
    "erase_debtor",
    "erase_in_session",
    "hold_reconcile_lock",
    "relist_erased_objections",
]

ERASED_ACTION = "debtor.erased"
PURPOSE_DO_NOT_CONTACT = "do_not_contact"
HASHED_CHANNEL = "phone_hash"  # fits do_not_contact.channel (10 characters)
_RECIPIENT_PREFIX = "contactfix:rl:recipient:"  # contactfix.dispatch.ratelimit.recipient_key
_CHUNK = 500  # ids per IN (...): well under SQLite's and PostgreSQL's parameter limits


class ErasureError(ContactfixError, RuntimeError):
    """An erasure could not run (Redis down, the lock not free in time); nothing was erased."""


@dataclass(frozen=True, slots=True)
class ErasureReport:
    """What one erasure did: ``erased`` False when there was nothing left (erased before)."""

    organization: str
    reference: str
    erased: bool
    counts: dict[str, int] = field(default_factory=dict)
    erased_at: dt.datetime | None = None  # of the first erasure, when this one found nothing


@contextmanager
def hold_reconcile_lock(engine: Engine, redis_url: str | None, wait_s: float) -> Iterator[None]:
    """Hold the reconciliation lock for the block; ReconcileLocked at once, or after ``wait_s``
    seconds of trying. ``redis_url``: the broker's Redis, where a reconciliation holds it too."""
    deadline = time.monotonic() + max(wait_s, 0.0)
    while True:
        try:
            with reconcile_lock(engine, redis_url):
                yield
            return
        except ReconcileLocked:
            if time.monotonic() >= deadline:
                raise
            time.sleep(min(1.0, max(deadline - time.monotonic(), 0.05)))


def _chunks(values: Iterable[Any]) -> Iterator[list[Any]]:
    items = sorted(set(values))
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _organization(session: Session, name: str) -> Organization:
    found = session.scalar(select(Organization).where(Organization.name == name.strip()))
    if found is None:
        raise NotFound(f"no organisation named {name.strip()[:100]!r}")
    return found


def _tombstone(session: Session, organization_id: int, reference: str) -> AuditEntry | None:
    """The latest erasure of ``reference`` at the organisation, if it was erased before."""
    query = (
        select(AuditEntry)
        .where(
            AuditEntry.action == ERASED_ACTION,
            AuditEntry.subject_type == "debtor",
            AuditEntry.detail["reference"].as_string() == reference,
            AuditEntry.detail["organization_id"].as_integer() == organization_id,
        )
        .order_by(AuditEntry.id.desc())
        .limit(1)
    )
    return session.scalar(query)


def _erased_records(session: Session, debtor: Debtor) -> tuple[set[int], int, int | None]:
    """The source records to erase, how many shared ones are kept, and the debtor's identity."""
    own = debtor.source_record_id
    identity_id = session.scalar(
        select(IdentityMember.identity_id).where(IdentityMember.source_record_id == own)
    )
    if identity_id is None:
        return {own}, 0, None
    members = set(
        session.scalars(
            select(IdentityMember.source_record_id).where(IdentityMember.identity_id == identity_id)
        )
    )
    others = session.scalar(
        select(func.count())
        .select_from(Debtor)
        .where(Debtor.source_record_id.in_(members), Debtor.id != debtor.id)
    )
    if others:
        return {own}, len(members - {own}), identity_id
    return members | {own}, 0, identity_id


def _phones_of(session: Session, debtor_id: int, records: set[int]) -> set[str]:
    """Every phone the debtor's erased rows hold: contacts, rankings, dispatches, outcomes, carrier."""
    phones: set[str] = set()
    for batch in _chunks(records):
        phones |= set(
            session.scalars(
                select(Contact.value).where(Contact.source_record_id.in_(batch), Contact.channel == "phone")
            )
        )
    phones |= set(
        session.scalars(
            select(ContactRanking.value).where(
                ContactRanking.debtor_id == debtor_id, ContactRanking.channel == "phone"
            )
        )
    )
    phones |= set(session.scalars(select(Dispatch.contact_value).where(Dispatch.debtor_id == debtor_id)))
    phones |= set(session.scalars(select(Outcome.value).where(Outcome.debtor_id == debtor_id)))
    phones |= set(session.scalars(select(CarrierNumber.value).where(CarrierNumber.debtor_id == debtor_id)))
    return phones


def _held_by_others(session: Session, debtor_id: int, records: set[int], phones: set[str]) -> set[str]:
    """The phones among ``phones`` that a record or debtor that stays still holds."""
    held: set[str] = set()
    for batch in _chunks(phones):
        held |= set(
            session.scalars(
                select(Contact.value).where(
                    Contact.channel == "phone",
                    Contact.value.in_(batch),
                    Contact.source_record_id.not_in(sorted(records)),
                )
            )
        )
        for column, owner in (
            (ContactRanking.value, ContactRanking.debtor_id),
            (Dispatch.contact_value, Dispatch.debtor_id),
            (CarrierNumber.value, CarrierNumber.debtor_id),
        ):
            held |= set(session.scalars(select(column).where(column.in_(batch), owner != debtor_id)))
    return held


def _hashers(keyring: Keyring, purpose: str) -> list[KeyedHash]:
    """The keyed hash of ``purpose`` under every key of the keyring, current first."""
    return [KeyedHash(keyring.derive(purpose, key_id=kid), purpose, kid) for kid in keyring.key_ids]


def _hash_objections(session: Session, phones: set[str], keyring: Keyring) -> int:
    """Replace the clear do-not-contact entries of ``phones`` by their keyed hashes; how many."""
    hasher = keyring.keyed_hash(PURPOSE_DO_NOT_CONTACT)
    moved = 0
    for batch in _chunks(phones):
        entries = session.scalars(
            select(DoNotContact).where(DoNotContact.channel == "phone", DoNotContact.value.in_(batch))
        ).all()
        for entry in entries:
            hashed = f"{hasher.key_id}:{hasher.hexdigest(entry.value)}"
            exists = session.scalar(
                select(DoNotContact.id).where(
                    DoNotContact.channel == HASHED_CHANNEL, DoNotContact.value == hashed
                )
            )
            if exists is None:
                entry.channel, entry.value = HASHED_CHANNEL, hashed
                entry.reason = f"{entry.reason[:150]} (number erased, kept as a keyed hash)"
            else:
                session.delete(entry)
            moved += 1
    session.flush()
    return moved


def relist_erased_objections(session: Session, keyring: Keyring | None = None) -> int:
    """Put a number whose objection survives only as a keyed hash back on the do-not-contact list in
    clear when a record (or a carrier answer) holds it again; returns how many were listed again.

    Costs nothing when no hashed entry exists; otherwise one HMAC per distinct phone in the database
    and key, about a microsecond each. The caller commits.
    """
    hashed = set(session.scalars(select(DoNotContact.value).where(DoNotContact.channel == HASHED_CHANNEL)))
    if not hashed:
        return 0
    keyring = keyring or current_keyring()
    hashers = [
        h
        for h in _hashers(keyring, PURPOSE_DO_NOT_CONTACT)
        if any(v.startswith(f"{h.key_id}:") for v in hashed)
    ]
    listed = set(session.scalars(select(DoNotContact.value).where(DoNotContact.channel == "phone")))
    candidates = set(session.scalars(select(Contact.value).where(Contact.channel == "phone").distinct()))
    candidates |= set(session.scalars(select(CarrierNumber.value).distinct()))
    relisted = 0
    for phone in sorted(candidates - listed):
        if any(f"{h.key_id}:{h.hexdigest(phone)}" in hashed for h in hashers):
            session.add(DoNotContact(channel="phone", value=phone, reason="objected before an erasure"))
            relisted += 1
    if relisted:
        session.flush()
    return relisted


def _delete(session: Session, statement: Any) -> int:
    result = session.execute(statement.execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


def _delete_rows(session: Session, debtor: Debtor, records: set[int], phones: set[str]) -> dict[str, int]:
    """Delete every row of the debtor and of ``records`` (children first); counts per table."""
    counts: dict[str, int] = {}

    def add(table: str, n: int) -> None:
        counts[table] = counts.get(table, 0) + n

    dispatch_ids = list(session.scalars(select(Dispatch.id).where(Dispatch.debtor_id == debtor.id)))
    for batch in _chunks(dispatch_ids):
        add(
            "dispatch_decisions",
            _delete(session, delete(DispatchDecision).where(DispatchDecision.dispatch_id.in_(batch))),
        )
        add("call_attempts", _delete(session, delete(CallAttempt).where(CallAttempt.dispatch_id.in_(batch))))
    for batch in _chunks(phones):
        add("call_attempts", _delete(session, delete(CallAttempt).where(CallAttempt.value.in_(batch))))
    for model, table in (
        (Outcome, "outcomes"),
        (CarrierNumber, "carrier_numbers"),
        (CarrierRequest, "carrier_requests"),
        (Dispatch, "dispatches"),
        (ContactRanking, "contact_rankings"),
        (CaseAssignment, "case_assignments"),
    ):
        add(table, _delete(session, delete(model).where(model.debtor_id == debtor.id)))
    add("debtors", _delete(session, delete(Debtor).where(Debtor.id == debtor.id)))
    for batch in _chunks(records):
        add("record_links", _delete(session, delete(RecordLink).where(
            or_(RecordLink.record_a_id.in_(batch), RecordLink.record_b_id.in_(batch)))))  # fmt: skip
        add("link_reviews", _delete(session, delete(LinkReview).where(
            or_(LinkReview.record_a_id.in_(batch), LinkReview.record_b_id.in_(batch)))))  # fmt: skip
        add(
            "blocking_keys",
            _delete(session, delete(BlockingKey).where(BlockingKey.source_record_id.in_(batch))),
        )
        add(
            "identity_members",
            _delete(session, delete(IdentityMember).where(IdentityMember.source_record_id.in_(batch))),
        )
        add("contacts", _delete(session, delete(Contact).where(Contact.source_record_id.in_(batch))))
        add("source_records", _delete(session, delete(SourceRecord).where(SourceRecord.id.in_(batch))))
    return counts


def _forget_in_redis(redis_client: Any, phones: set[str], keyring: Keyring) -> int:
    """Delete the rate-limit buckets of ``phones`` under every key; how many existed."""
    if redis_client is None or not phones:
        return 0
    keys = [
        f"{_RECIPIENT_PREFIX}{hasher.hexdigest(phone, 32)}"
        for hasher in _hashers(keyring, PURPOSE_RATELIMIT)
        for phone in sorted(phones)
    ]
    try:
        return int(redis_client.delete(*keys))
    except Exception as exc:  # redis-py's errors: nothing in the database is erased then
        raise ErasureError(
            f"Redis did not answer ({type(exc).__name__}); nothing was erased, try again"
        ) from None


def erase_in_session(
    session: Session, debtor: Debtor, organization: Organization, *, actor: str, reason: str,
    redis_client: Any, keyring: Keyring,
) -> dict[str, int]:  # fmt: skip
    """Erase ``debtor`` (of ``organization``) in ``session``'s transaction and write its tombstone;
    the counts per table. The caller holds the reconciliation lock and commits."""
    records, shared_kept, identity_id = _erased_records(session, debtor)
    phones = _phones_of(session, debtor.id, records)
    erased_phones = phones - _held_by_others(session, debtor.id, records, phones)
    debtor_id, reference = debtor.id, debtor.reference
    counts = _delete_rows(session, debtor, records, erased_phones)
    if identity_id is not None:
        left = session.scalar(select(func.count()).where(IdentityMember.identity_id == identity_id))
        if not left:
            counts["identities"] = _delete(session, delete(Identity).where(Identity.id == identity_id))
    counts["do_not_contact_hashed"] = _hash_objections(session, erased_phones, keyring)
    counts["redis_keys"] = _forget_in_redis(redis_client, erased_phones, keyring)
    counts["phones_erased"] = len(erased_phones)
    counts["phones_kept_shared"] = len(phones - erased_phones)
    counts["shared_records_kept"] = shared_kept
    counts = {name: n for name, n in sorted(counts.items())}
    record_audit(
        session, actor[:100], ERASED_ACTION, "debtor", debtor_id,
        organization_id=organization.id, organization=organization.name, reference=reference,
        reason=reason, counts=counts,
    )  # fmt: skip
    return counts


def erase_debtor(
    engine: Engine,
    organization: str,
    reference: str,
    *,
    actor: str = "cli",
    reason: str = "request",
    redis_client: Any = None,
    redis_lock_url: str | None = None,
    keyring: Keyring | None = None,
    wait_s: float = 0.0,
) -> ErasureReport:
    """Erase the debtor ``reference`` of bank ``organization`` everywhere (see the module docstring).

    Raises :class:`~contactfix.errors.NotFound` for an unknown organisation, or a reference it never
    had (erased before is not unknown: the report then says nothing was left);
    :class:`~contactfix.pipeline.lock.ReconcileLocked` while a reconciliation runs (after ``wait_s``
    seconds of trying); :class:`ErasureError` when Redis (``redis_client``) does not answer.
    ``redis_lock_url``: the broker's Redis, where a reconciliation also holds its lock.
    """
    keyring = keyring or current_keyring()
    reference = reference.strip()
    with hold_reconcile_lock(engine, redis_lock_url, wait_s), Session(engine) as session, session.begin():
        org = _organization(session, organization)
        debtor = session.scalar(
            select(Debtor).where(Debtor.organization_id == org.id, Debtor.reference == reference)
        )
        if debtor is None:
            tombstone = _tombstone(session, org.id, reference)
            if tombstone is None:
                raise NotFound(f"no debtor with reference {reference[:100]!r} in this organisation")
            return ErasureReport(org.name, reference, False, {}, tombstone.at)
        counts = erase_in_session(
            session, debtor, org, actor=actor, reason=reason, redis_client=redis_client, keyring=keyring
        )
        name = org.name
    return ErasureReport(name, reference, True, counts)
