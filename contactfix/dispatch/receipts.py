"""Providers' later word: delivery receipts for texts and call records for privacy-number calls.

Receipts only move a dispatch forward (sent → delivered or failed, or straight from sending when the
receipt beat the send's own answer): one that arrives twice, or a late "sent" after "delivered",
changes nothing. Call records are stored once per provider call id; they are the call history the
daily call cap counts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from connectors.base import DeliveryStatus
from contactfix.db.dispatch_models import CallAttempt, Dispatch, DispatchState
from contactfix.dispatch.planning import insert_new

__all__ = ["Receipt", "apply_receipts", "dispatch_of_binding", "record_calls"]

S = DispatchState
_FINAL = {
    DeliveryStatus.DELIVERED: S.DELIVERED,
    DeliveryStatus.FAILED: S.FAILED,
    DeliveryStatus.EXPIRED: S.FAILED,
    DeliveryStatus.REJECTED: S.FAILED,
}


@dataclass(frozen=True, slots=True)
class Receipt:
    """A receipt, matched by the provider's message id or by our idempotency key (either may be None)."""

    status: DeliveryStatus
    at: dt.datetime
    provider_message_id: str | None = None
    idempotency_key: str | None = None


def apply_receipts(session: Session, receipts: Iterable[Receipt]) -> int:
    """Apply each receipt that moves its dispatch forward; return how many did. The caller commits."""
    moved = 0
    for receipt in receipts:
        state = _FINAL.get(receipt.status)
        if state is None:  # queued / sent / unknown: the dispatch already says at least that much
            continue
        match = []
        if receipt.provider_message_id:
            match.append(Dispatch.provider_message_id == receipt.provider_message_id)
        if receipt.idempotency_key:
            match.append(Dispatch.idempotency_key == receipt.idempotency_key)
        if not match:
            continue
        result = session.execute(
            update(Dispatch)
            .where(or_(*match), Dispatch.state.in_([S.SENT.value, S.SENDING.value]))
            .values(state=state.value, finished_at=receipt.at, lease_until=None)
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


def dispatch_of_binding(session: Session, binding_id: str) -> int | None:
    """The dispatch that granted the call path ``binding_id``, if any.

    ``binding_id`` is the whole id the call connector gave, or the provider's subscription id that
    begins it: an AXB binding is kept as ``SubsId:SecretNo`` (unbinding needs both), while its call
    records carry only the ``SubsId``.
    """
    prefix = Dispatch.binding_id.startswith(f"{binding_id}:", autoescape=True)
    query = select(Dispatch.id).where(or_(Dispatch.binding_id == binding_id, prefix))
    return session.scalar(query.order_by(Dispatch.id).limit(1))
