"""The numbers carrier repair obtained: stored with their expiry, repairing the debtor, dispatched once.

:func:`store_numbers` runs in the transaction that records the carrier's answer: the number is
upserted per (debtor, value), the new expiry replacing the old; a lost debtor moves to ``repaired``
(audited, source carrier) and gets its dispatch planned in that same transaction (the transactional
outbox), as record-based repair does. A renewal that brings a new number dispatches it too; one that
brings the same number only moves the expiry. :func:`carrier_observations` is what ranking reads.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from connectors.base import InvalidMessage, require_e164
from contactfix.db.audit import record_audit
from contactfix.db.carrier_models import CarrierNumber
from contactfix.db.models import Debtor, DebtorStatus
from contactfix.dispatch.planning import PlanCounts, PlannedContact, plan_dispatches
from contactfix.pipeline.records import among
from contactfix.pipeline.report import REPAIRED_BY_CARRIER

__all__ = ["CarrierObservation", "NumberAnswer", "StoredNumbers", "carrier_observations", "store_numbers"]

# (value E.164, the day it was obtained, when it expires): one unexpired carrier number of a debtor.
CarrierObservation = tuple[str, dt.date, dt.datetime]


@dataclass(frozen=True, slots=True)
class NumberAnswer:
    """A number the carrier gave for one request."""

    request_id: int
    debtor_id: int
    value: str
    expires_at: dt.datetime
    renewal: bool


@dataclass(slots=True)
class StoredNumbers:
    """What :func:`store_numbers` did: numbers new and renewed, debtors repaired, dispatches planned,
    and the requests whose number was unusable (not E.164), by id."""

    new: int = 0
    renewed: int = 0
    repaired: int = 0
    dispatches: PlanCounts | None = None
    unusable: tuple[int, ...] = ()


def store_numbers(
    session: Session, answers: Sequence[NumberAnswer], now: dt.datetime, run_id: int | None
) -> StoredNumbers:
    """Upsert the numbers, repair the lost debtors, plan dispatches; flushes, the caller commits."""
    result = StoredNumbers()
    usable, unusable = [], []
    for answer in answers:
        try:
            require_e164(answer.value, "carrier number")
        except InvalidMessage:
            unusable.append(answer.request_id)
            continue
        if answer.expires_at <= now:
            unusable.append(answer.request_id)  # already past its due date: it can never be dispatched
            continue
        usable.append(answer)
    result.unusable = tuple(unusable)
    if not usable:
        return result
    existing = _existing(session, {a.debtor_id for a in usable})
    to_dispatch: dict[int, PlannedContact] = {}
    new_rows: dict[tuple[int, str], dict[str, object]] = {}
    for answer in usable:
        stored = existing.get((answer.debtor_id, answer.value))
        if stored is None:
            if (answer.debtor_id, answer.value) in new_rows:
                continue  # the same number twice in one answer: once is enough
            new_rows[(answer.debtor_id, answer.value)] = {
                "debtor_id": answer.debtor_id, "value": answer.value, "obtained_at": now,
                "expires_at": answer.expires_at, "request_id": answer.request_id,
            }  # fmt: skip
            result.new += 1
            to_dispatch[answer.debtor_id] = PlannedContact("phone", answer.value, None)
        else:
            stored.expires_at, stored.obtained_at, stored.request_id = (
                answer.expires_at,
                now,
                answer.request_id,
            )
            result.renewed += 1
        if answer.renewal:
            record_audit(
                session, "carrier", "carrier.renewed", "debtor", answer.debtor_id,
                request_id=answer.request_id, expires_at=answer.expires_at.isoformat(),
                same_number=stored is not None,
            )  # fmt: skip
    if new_rows:
        session.execute(insert(CarrierNumber), list(new_rows.values()))
    session.flush()
    result.repaired = _mark_repaired(session, {a.debtor_id: a for a in usable}, run_id)
    open_cases = _open(session, to_dispatch)
    # The transactional outbox: the dispatches commit or roll back with the answer itself.
    result.dispatches = plan_dispatches(session, {d: to_dispatch[d] for d in open_cases}, run_id)
    return result


def _existing(session: Session, debtor_ids: Iterable[int]) -> dict[tuple[int, str], CarrierNumber]:
    query = select(CarrierNumber).where(
        among(session.connection(), CarrierNumber.debtor_id, sorted(debtor_ids))
    )
    return {(n.debtor_id, n.value): n for n in session.execute(query).scalars()}


def _mark_repaired(session: Session, answers: dict[int, NumberAnswer], run_id: int | None) -> int:
    """Lost debtors move to repaired; one a mediator reached or closed meanwhile keeps their word."""
    moved = session.execute(
        update(Debtor)
        .where(
            among(session.connection(), Debtor.id, sorted(answers)), Debtor.status == DebtorStatus.LOST.value
        )
        .values(status=DebtorStatus.REPAIRED.value)
        .returning(Debtor.id)
        .execution_options(synchronize_session=False)
    ).scalars()
    count = 0
    for debtor_id in sorted(moved):
        answer = answers[debtor_id]
        count += 1
        record_audit(
            session, "carrier", REPAIRED_BY_CARRIER, "debtor", debtor_id,
            run_id=run_id, channel="phone", source="carrier", request_id=answer.request_id,
            expires_at=answer.expires_at.isoformat(),
        )  # fmt: skip
    return count


def _open(session: Session, debtor_ids: Iterable[int]) -> list[int]:
    wanted = sorted(debtor_ids)
    if not wanted:
        return []
    query = select(Debtor.id).where(
        among(session.connection(), Debtor.id, wanted), Debtor.status != DebtorStatus.CLOSED.value
    )
    return sorted(session.execute(query).scalars())


def carrier_observations(
    session: Session, debtor_ids: Iterable[int], as_of: dt.datetime
) -> dict[int, list[CarrierObservation]]:
    """debtor id → its carrier numbers unexpired at ``as_of`` (value, day obtained, expiry), newest
    expiry first; debtors without one are absent. For ranking: source trust CARRIER."""
    wanted = sorted(set(debtor_ids))
    found: dict[int, list[CarrierObservation]] = {}
    for start in range(0, len(wanted), 1000):
        query = (
            select(CarrierNumber.debtor_id, CarrierNumber.value, CarrierNumber.obtained_at,
                   CarrierNumber.expires_at)
            .where(CarrierNumber.debtor_id.in_(wanted[start : start + 1000]),
                   CarrierNumber.expires_at > as_of)
            .order_by(CarrierNumber.debtor_id, CarrierNumber.expires_at.desc(), CarrierNumber.value)
        )  # fmt: skip
        for debtor_id, value, obtained_at, expires_at in session.execute(query):
            found.setdefault(debtor_id, []).append((value, obtained_at.date(), expires_at))
    return found
