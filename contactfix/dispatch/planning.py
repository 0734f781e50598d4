"""The transactional outbox: dispatch rows written in the same transaction as the repair that caused them.

A repair that commits has its dispatches committed with it; one that rolls back leaves none. Nothing
here talks to Redis: the relay (:mod:`contactfix.dispatch.relay`) enqueues the rows later, so a broker
that is down at commit time loses nothing.

Each row is keyed by :func:`idempotency_key` of (debtor, contact, channel, purpose): planning the same
repair twice, in a rerun or after a crash, inserts nothing new.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, exists, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from contactfix.db.carrier_models import CarrierNumber
from contactfix.db.dispatch_models import Dispatch
from contactfix.db.identity_models import ContactRanking
from contactfix.db.models import Debtor, DebtorStatus
from contactfix.dispatch.mediators import assign_cases
from contactfix.pipeline.ranking import NOT_PUSHED, REPAIRS, takes_texts
from contactfix.privacy import PURPOSE_DISPATCH, KeyedHash
from contactfix.privacy.hash_secrets import stable_keyed_hash

__all__ = [
    "PURPOSE_REPAIRED",
    "PlanCounts",
    "PlannedContact",
    "dispatch_hasher",
    "idempotency_key",
    "insert_new",
    "plan_dispatches",
    "plan_undispatched",
]

PURPOSE_REPAIRED = "repaired_contact"
# Mediators hear of a repaired contact by text; the text carries a call path to the debtor.
CHANNEL_SMS = "sms"


@dataclass(frozen=True, slots=True)
class PlannedContact:
    """The contact that repaired a debtor: channel ("phone"), E.164 value, and its confidence."""

    channel: str
    value: str
    confidence: float | None = None


@dataclass(slots=True)
class PlanCounts:
    """``planned``: new dispatch rows; ``existing``: already there; ``unassigned``: no mediator yet."""

    planned: int = 0
    existing: int = 0
    unassigned: int = 0


def idempotency_key(
    debtor_id: int,
    contact_channel: str,
    value: str,
    channel: str,
    purpose: str,
    hasher: KeyedHash,
) -> str:
    """HMAC-SHA-256 hex of (debtor, contact, channel, purpose) under the database's dispatch secret
    (``hasher``: :func:`dispatch_hasher`): the same on every run and across key rotations, free of
    PII, and neither computable nor reversible without the key (it travels with the message to
    providers and the outbox).
    """
    text = "\x1f".join((str(debtor_id), contact_channel, value, channel, purpose))
    return hasher.hexdigest(text, 64)


def dispatch_hasher(connection: Connection) -> KeyedHash:
    """The dispatch keys' HMAC, under a secret of the database's own stored sealed
    (:mod:`contactfix.privacy.hash_secrets`), not one derived from the data key: a key derived from it
    would change at a rotation, and a dispatch planned again after one would be sent twice."""
    return stable_keyed_hash(connection, PURPOSE_DISPATCH)


def plan_dispatches(
    session: Session,
    repaired: Mapping[int, PlannedContact],
    run_id: int | None,
    hasher: KeyedHash | None = None,
) -> PlanCounts:
    """Write one pending dispatch per repaired debtor (debtor id → its repairing contact).

    Debtors get a mediator first (:func:`~contactfix.dispatch.mediators.assign_cases`); those left
    without one (no active mediator) are counted, not dispatched: adding a mediator plans them
    (:func:`plan_undispatched`). Flushes through ``session``; the caller's transaction commits.
    """
    counts = PlanCounts()
    if not repaired:
        return counts
    mediators = assign_cases(session, repaired)
    hasher = hasher or dispatch_hasher(session.connection())
    rows: list[dict[str, Any]] = []
    for debtor_id, contact in sorted(repaired.items()):
        mediator_id = mediators.get(debtor_id)
        if mediator_id is None:
            counts.unassigned += 1
            continue
        key = idempotency_key(
            debtor_id, contact.channel, contact.value, CHANNEL_SMS, PURPOSE_REPAIRED, hasher
        )
        rows.append(
            {
                "idempotency_key": key,
                "debtor_id": debtor_id,
                "mediator_id": mediator_id,
                "channel": CHANNEL_SMS,
                "purpose": PURPOSE_REPAIRED,
                "contact_channel": contact.channel,
                "contact_value": contact.value,
                "confidence": contact.confidence,
                "run_id": run_id,
            }
        )
    inserted = insert_new(session, Dispatch, "idempotency_key", rows)
    counts.planned = inserted
    counts.existing = len(rows) - inserted
    return counts


def plan_undispatched(session: Session, now: dt.datetime | None = None) -> PlanCounts:
    """Plan dispatches for repaired debtors that have none yet: the carrier's number while it is
    valid (at ``now``, default the current time), else the phone repair chose (never a landline, nor
    a number known to have failed)."""
    no_dispatch = ~exists().where(Dispatch.debtor_id == Debtor.id)
    query = (
        select(Debtor.id, ContactRanking.value, ContactRanking.confidence, ContactRanking.flags)
        .join(ContactRanking, ContactRanking.debtor_id == Debtor.id)
        .where(Debtor.status == DebtorStatus.REPAIRED.value, ContactRanking.channel == "phone", no_dispatch)
        .order_by(Debtor.id, ContactRanking.rank)
    )
    repaired: dict[int, PlannedContact] = {}
    fallback: dict[int, PlannedContact] = {}
    for debtor, value, confidence, flags in session.execute(query):
        marks = set(flags or ())
        if REPAIRS in marks:
            repaired[debtor] = PlannedContact("phone", value, confidence)
        elif not marks & NOT_PUSHED and takes_texts(value):
            fallback.setdefault(debtor, PlannedContact("phone", value, confidence))
    # Rankings written before repair marked its choice: their best pushable mobile.
    repaired = {**fallback, **repaired}
    carrier = (
        select(CarrierNumber.debtor_id, CarrierNumber.value)
        .join(Debtor, Debtor.id == CarrierNumber.debtor_id)
        .where(Debtor.status == DebtorStatus.REPAIRED.value, no_dispatch)
        .where(CarrierNumber.expires_at > (now or dt.datetime.now(dt.UTC)))
        .order_by(CarrierNumber.debtor_id, CarrierNumber.expires_at)
    )
    # The carrier's number repaired them when records could not: it comes first; the latest expiry wins.
    for debtor, value in session.execute(carrier):
        repaired[debtor] = PlannedContact("phone", value, None)
    return plan_dispatches(session, repaired, None)


def insert_new(session: Session, model: Any, key: str, rows: Sequence[dict[str, Any]]) -> int:
    """Insert the rows of ``model`` whose unique ``key`` is new (ON CONFLICT DO NOTHING, on
    PostgreSQL and SQLite alike), 1,000 a statement; return how many were new."""
    module: Any = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = module.insert(model).on_conflict_do_nothing(index_elements=[key]).returning(model.id)
    inserted = 0
    for start in range(0, len(rows), 1000):
        inserted += len(session.execute(statement, rows[start : start + 1000]).all())
    return inserted
