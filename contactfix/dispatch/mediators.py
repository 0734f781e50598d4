"""Mediators and the cases they handle.

``add_mediator`` validates and stores one mediator; ``assign_cases`` gives each debtor without a
mediator the active mediator with the fewest cases (ties: the longest-serving), so new cases go round
the team in turn and a mediator added later catches up first. ``assign_explicitly`` sets one.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from contactfix.db.dispatch_models import AssignmentKind, CaseAssignment, Mediator
from contactfix.dispatch.errors import MediatorError
from contactfix.policy import PolicyInputError, Window
from contactfix.policy.profile import known_zone
from matchers.errors import InvalidPhone
from matchers.identifiers.phone import parse_phone

__all__ = ["MediatorInput", "add_mediator", "assign_cases", "assign_explicitly", "find_mediator"]


@dataclass(frozen=True)
class MediatorInput:
    """What an operator says of a new mediator. ``hours`` "HH:MM-HH:MM" (None: the policy default)."""

    name: str
    phone: str
    center: str
    hours: str | None = None
    timezone: str | None = None


def add_mediator(session: Session, new: MediatorInput) -> Mediator:
    """Validate ``new`` and add it; MediatorError names the field that is wrong (phones masked)."""
    name, center = new.name.strip(), new.center.strip()
    if not name or len(name) > 100:
        raise MediatorError("name: give the mediator's name (1-100 characters)")
    if not center or len(center) > 200:
        raise MediatorError("center: give the mediation center (1-200 characters)")
    try:
        phone = parse_phone(new.phone).e164
    except InvalidPhone as exc:
        raise MediatorError(f"phone: {exc}") from exc
    hours = None
    if new.hours is not None:
        try:
            hours = str(Window.parse(new.hours))
        except PolicyInputError as exc:
            raise MediatorError(f"hours: {exc}") from exc
    if new.timezone is not None:
        try:
            known_zone(new.timezone)
        except PolicyInputError as exc:
            raise MediatorError(f"timezone: {exc}") from exc
    taken = session.scalar(select(Mediator.id).where(Mediator.center == center, Mediator.name == name))
    if taken is not None:
        raise MediatorError(f"name: {center} already has a mediator called {name} (id {taken})")
    mediator = Mediator(name=name, center=center, phone=phone, hours=hours, timezone=new.timezone)
    session.add(mediator)
    session.flush()
    return mediator


def find_mediator(session: Session, name: str, center: str | None = None) -> Mediator:
    """The active mediator called ``name`` (in ``center``); MediatorError if none or several."""
    query = select(Mediator).where(Mediator.name == name.strip(), Mediator.active.is_(True))
    if center is not None:
        query = query.where(Mediator.center == center.strip())
    found = list(session.scalars(query))
    if not found:
        raise MediatorError(f"mediator: no active mediator called {name}")
    if len(found) > 1:
        centers = ", ".join(sorted(m.center for m in found))
        raise MediatorError(f"mediator: several mediators are called {name} ({centers}); give --center")
    return found[0]


def assign_explicitly(session: Session, debtor_id: int, mediator: Mediator) -> None:
    """Give the case of ``debtor_id`` to ``mediator``, replacing any earlier assignment."""
    assignment = session.get(CaseAssignment, debtor_id)
    if assignment is None:
        session.add(
            CaseAssignment(debtor_id=debtor_id, mediator_id=mediator.id, kind=AssignmentKind.EXPLICIT.value)
        )
    else:
        assignment.mediator_id = mediator.id
        assignment.kind = AssignmentKind.EXPLICIT.value
    session.flush()


def assign_cases(session: Session, debtor_ids: Iterable[int]) -> dict[int, int]:
    """debtor id → mediator id for ``debtor_ids``: their mediator, or a new round-robin one.

    Debtors stay unassigned (absent from the result) when there is no active mediator.
    """
    wanted = sorted(set(debtor_ids))
    if not wanted:
        return {}
    assigned: dict[int, int] = {}
    for start in range(0, len(wanted), 5000):
        chunk = wanted[start : start + 5000]
        rows = session.execute(
            select(CaseAssignment.debtor_id, CaseAssignment.mediator_id).where(
                CaseAssignment.debtor_id.in_(chunk)
            )
        )
        assigned.update({debtor: mediator for debtor, mediator in rows})
    missing = [debtor for debtor in wanted if debtor not in assigned]
    if not missing:
        return assigned
    loads = session.execute(
        select(Mediator.id, func.count(CaseAssignment.debtor_id))
        .outerjoin(CaseAssignment, CaseAssignment.mediator_id == Mediator.id)
        .where(Mediator.active.is_(True))
        .group_by(Mediator.id)
    ).all()
    if not loads:
        return assigned
    queue = [(int(count), int(mediator)) for mediator, count in loads]
    heapq.heapify(queue)
    new_rows = []
    for debtor in missing:
        count, mediator = heapq.heappop(queue)
        assigned[debtor] = mediator
        new_rows.append(
            {"debtor_id": debtor, "mediator_id": mediator, "kind": AssignmentKind.ROUND_ROBIN.value}
        )
        heapq.heappush(queue, (count + 1, mediator))
    session.execute(insert(CaseAssignment), new_rows)
    return assigned
