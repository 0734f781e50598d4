"""Providers' later word: delivery receipts for texts and call records for privacy-number calls.

Receipts only move a dispatch forward (sent → delivered or failed, or straight from sending when the
receipt beat the send's own answer): one that arrives twice, or a late "sent" after "delivered",
changes nothing. A receipt names the provider's message id of the dispatch it reports on and
applies to that dispatch only: our idempotency key (which providers echo) never selects a dispatch,
so a report cannot be aimed at a dispatch whose message id the sender does not know. The price: a
report that arrives before the send's own answer (which brings the message id) finds nothing, and
that dispatch stays "sent" (never sent twice). A push is applied set-wise: one UPDATE per final
state (per 500 ids), whatever its size.

Call records are kept only for call paths we granted: the binding they name must be a dispatch's,
the two numbers must be that binding's mediator and debtor, and the call must fall within the
binding's life (not before it was made, not after it expired, not in the future). They are stored
once per provider call id; they are the call history the daily call cap counts, so a record that
fails any of these checks is dropped, never counted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import case, literal, or_, select, update
from sqlalchemy.orm import Session

from connectors.base import DeliveryStatus
from contactfix.db.dispatch_models import CallAttempt, Dispatch, DispatchState, Mediator
from contactfix.db.models import UtcDateTime
from contactfix.dispatch.planning import insert_new

__all__ = [
    "CallCounts",
    "PushedCall",
    "Receipt",
    "apply_receipts",
    "dispatch_of_binding",
    "record_calls",
    "record_pushed_calls",
]

S = DispatchState
_FINAL = {
    DeliveryStatus.DELIVERED: S.DELIVERED,
    DeliveryStatus.FAILED: S.FAILED,
    DeliveryStatus.EXPIRED: S.FAILED,
    DeliveryStatus.REJECTED: S.FAILED,
}
_IDS_AT_ONCE = 500


@dataclass(frozen=True, slots=True)
class Receipt:
    """A receipt for the message the provider knows as ``provider_message_id``."""

    status: DeliveryStatus
    at: dt.datetime
    provider_message_id: str | None = None


def apply_receipts(session: Session, receipts: Iterable[Receipt]) -> int:
    """Apply each receipt that moves its dispatch forward; return how many did. The caller commits.

    The first final receipt per message id, in the order given, counts (its time becomes
    ``finished_at``); receipts without a message id, or whose status is not final, change nothing.
    """
    first: dict[str, tuple[DispatchState, dt.datetime]] = {}
    for receipt in receipts:
        state = _FINAL.get(receipt.status)
        if state is None or not receipt.provider_message_id:
            continue  # queued / sent / unknown: the dispatch already says at least that much
        first.setdefault(receipt.provider_message_id, (state, receipt.at))
    wanted: dict[DispatchState, dict[str, dt.datetime]] = {}
    for message_id, (state, at) in first.items():
        wanted.setdefault(state, {})[message_id] = at
    moved = 0
    for state, by_id in wanted.items():
        times = list(by_id.items())
        for start in range(0, len(times), _IDS_AT_ONCE):
            # Each report's own time, typed so SQLite stores it as UTC like every other instant.
            part = {mid: literal(at, UtcDateTime()) for mid, at in times[start : start + _IDS_AT_ONCE]}
            result = session.execute(
                update(Dispatch)
                .where(
                    Dispatch.provider_message_id.in_(list(part)),
                    Dispatch.state.in_([S.SENT.value, S.SENDING.value]),
                )
                .values(
                    state=state.value,
                    finished_at=case(part, value=Dispatch.provider_message_id),
                    lease_until=None,
                )
                .returning(Dispatch.id)
                .execution_options(synchronize_session=False)
            )
            moved += len(result.all())
    return moved


def record_calls(session: Session, calls: Iterable[CallAttempt]) -> int:
    """Store call records not seen before (by provider call id); return how many were new."""
    rows = [
        {
            "provider_call_id": call.provider_call_id,
            "value": call.value,
            "at": call.at,
            "answered": call.answered,
            "dispatch_id": call.dispatch_id,
        }
        for call in calls
    ]
    return insert_new(session, CallAttempt, "provider_call_id", rows)


@dataclass(frozen=True, slots=True, repr=False)
class PushedCall:
    """A provider's record of one call through a binding, before it is checked against our own.

    ``binding_ids``: the ids the binding may be stored under, most specific first (an AXB record names
    ``SubsId`` and the virtual number; we keep ``SubsId:SecretNo``). Numbers in E.164.
    """

    binding_ids: tuple[str, ...]
    call_id: str
    caller: str
    called: str
    at: dt.datetime
    answered: bool

    def __repr__(self) -> str:  # numbers stay out of logs
        at = self.at.isoformat()
        return f"PushedCall(call_id={self.call_id!r}, binding_ids={self.binding_ids!r}, at={at})"


@dataclass(slots=True)
class CallCounts:
    """What became of a push's call records: stored (new), repeated, and the dropped ones by reason."""

    stored: int = 0
    repeated: int = 0
    unknown_binding: int = 0
    wrong_numbers: int = 0
    out_of_window: int = 0
    inbound: int = 0


@dataclass(frozen=True, slots=True)
class _Binding:
    dispatch_id: int
    debtor: str
    mediator: str
    bound_at: dt.datetime


def _bindings(session: Session, binding_ids: set[str]) -> dict[str, _Binding]:
    found: dict[str, _Binding] = {}
    wanted = sorted(binding_ids)
    for start in range(0, len(wanted), _IDS_AT_ONCE):
        rows = session.execute(
            select(Dispatch.binding_id, Dispatch.id, Dispatch.contact_value, Mediator.phone, Dispatch.sent_at)
            .join(Mediator, Mediator.id == Dispatch.mediator_id)
            .where(
                Dispatch.binding_id.in_(wanted[start : start + _IDS_AT_ONCE]), Dispatch.sent_at.is_not(None)
            )
            .order_by(Dispatch.id)
        )
        for binding_id, dispatch_id, debtor, mediator, sent_at in rows:
            if binding_id is not None and sent_at is not None:  # both are, by the query
                found.setdefault(binding_id, _Binding(dispatch_id, debtor, mediator, sent_at))
    return found


def record_pushed_calls(
    session: Session,
    calls: Sequence[PushedCall],
    *,
    now: dt.datetime,
    binding_life: dt.timedelta,
    skew: dt.timedelta,
) -> CallCounts:
    """Store the calls a provider pushed that passed every check (see the module text): a call to
    the debtor of a binding we made, between its making (less ``skew``) and its expiry
    (``binding_life`` after it, plus ``skew``), and not after ``now`` plus ``skew``. Calls the debtor
    made to the mediator are not attempts on the debtor and are not stored. The caller commits."""
    counts = CallCounts()
    bindings = _bindings(session, {bid for call in calls for bid in call.binding_ids})
    rows: list[CallAttempt] = []
    for call in calls:
        binding = next((bindings[bid] for bid in call.binding_ids if bid in bindings), None)
        if binding is None:
            counts.unknown_binding += 1
        elif {call.caller, call.called} != {binding.debtor, binding.mediator}:
            counts.wrong_numbers += 1
        elif not (binding.bound_at - skew <= call.at <= min(binding.bound_at + binding_life, now) + skew):
            counts.out_of_window += 1
        elif call.called != binding.debtor:
            counts.inbound += 1
        else:
            rows.append(
                CallAttempt(
                    provider_call_id=call.call_id,
                    value=binding.debtor,
                    at=call.at,
                    answered=call.answered,
                    dispatch_id=binding.dispatch_id,
                )
            )
    counts.stored = record_calls(session, rows)
    counts.repeated = len(rows) - counts.stored
    return counts


def dispatch_of_binding(session: Session, binding_id: str) -> int | None:
    """The dispatch that granted the call path ``binding_id``, if any.

    ``binding_id`` is the whole id the call connector gave, or the provider's subscription id that
    begins it: an AXB binding is kept as ``SubsId:SecretNo`` (unbinding needs both), while its call
    records carry only the ``SubsId``.
    """
    prefix = Dispatch.binding_id.startswith(f"{binding_id}:", autoescape=True)
    query = select(Dispatch.id).where(or_(Dispatch.binding_id == binding_id, prefix))
    return session.scalar(query.order_by(Dispatch.id).limit(1))
