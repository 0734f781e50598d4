"""Tables of dispatch: mediators, case assignments, dispatches, policy decisions, calls, do-not-contact.

A dispatch is one intended message to a mediator about one repaired contact of one debtor. It is
written in the same transaction as the repair that caused it (the transactional outbox); a relay
enqueues its id, and a worker moves it forward through :class:`DispatchState`. Migration ``0003``
builds exactly this.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from contactfix.db.models import Base, Sealed, UtcDateTime, one_of

__all__ = [
    "AssignmentKind",
    "CallAttempt",
    "CaseAssignment",
    "Dispatch",
    "DispatchDecision",
    "DispatchState",
    "DoNotContact",
    "Mediator",
]


class DispatchState(StrEnum):
    """Where a dispatch stands; see :mod:`contactfix.dispatch.states` for the moves allowed."""

    PENDING = "pending"
    DEFERRED = "deferred"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    DEAD = "dead"
    BLOCKED = "blocked"


class AssignmentKind(StrEnum):
    ROUND_ROBIN = "round_robin"
    EXPLICIT = "explicit"


def _created_at() -> Mapped[dt.datetime]:
    return mapped_column(UtcDateTime(), nullable=False, server_default=func.now())


class Mediator(Base):
    """A mediator of a mediation center: where messages go, and the hours they may arrive."""

    __tablename__ = "mediators"
    __table_args__ = (UniqueConstraint("center", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    center: Mapped[str] = mapped_column(String(200), nullable=False)
    phone: Mapped[str] = mapped_column(Sealed(20), nullable=False)  # E.164
    # "HH:MM-HH:MM" local working hours; NULL: the policy profile's default.
    hours: Mapped[str | None] = mapped_column(String(11), nullable=True)
    timezone: Mapped[str | None] = mapped_column(String(64), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True, server_default=text("true"))
    created_at: Mapped[dt.datetime] = _created_at()


class CaseAssignment(Base):
    """Which mediator handles a debtor's case: round-robin by default, or set explicitly."""

    __tablename__ = "case_assignments"
    __table_args__ = (one_of("kind", AssignmentKind),)

    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtors.id", ondelete="CASCADE"), primary_key=True)
    mediator_id: Mapped[int] = mapped_column(ForeignKey("mediators.id"), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    assigned_at: Mapped[dt.datetime] = _created_at()


class Dispatch(Base):
    """One intended message or call, keyed so that writing it twice is writing it once."""

    __tablename__ = "dispatches"
    __table_args__ = (
        one_of("state", DispatchState),
        # The relay's question: which rows are due?
        Index(None, "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # SHA-256 of (debtor, contact, channel, purpose): no PII, the same on every retry and every run.
    idempotency_key: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    debtor_id: Mapped[int] = mapped_column(
        ForeignKey("debtors.id", ondelete="CASCADE"), nullable=False, index=True
    )
    mediator_id: Mapped[int] = mapped_column(ForeignKey("mediators.id"), nullable=False)
    channel: Mapped[str] = mapped_column(String(10), nullable=False)
    purpose: Mapped[str] = mapped_column(String(30), nullable=False)
    contact_channel: Mapped[str] = mapped_column(String(10), nullable=False)
    contact_value: Mapped[str] = mapped_column(Sealed(), nullable=False)  # the debtor's E.164 phone
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("reconcile_runs.id"), nullable=True)
    state: Mapped[str] = mapped_column(
        String(12),
        nullable=False,
        default=DispatchState.PENDING.value,
        server_default=DispatchState.PENDING.value,
    )
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default=text("0"))
    # Deferred or backing off: not before this instant. NULL: as soon as possible.
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    # A worker that claimed the row (state sending) owns it until then; afterwards anyone may retry.
    lease_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    enqueued_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    connector: Mapped[str | None] = mapped_column(String(64), nullable=True)
    provider_message_id: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    # Call records name the binding: looked up by it.
    binding_id: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)  # masked
    rule: Mapped[str | None] = mapped_column(String(40), nullable=True)  # the last policy decision's
    created_at: Mapped[dt.datetime] = _created_at()
    updated_at: Mapped[dt.datetime] = mapped_column(
        UtcDateTime(), nullable=False, server_default=func.now(), onupdate=func.now()
    )
    sent_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class DispatchDecision(Base):
    """Every policy decision taken for a dispatch, with the rule that made it (no PII)."""

    __tablename__ = "dispatch_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dispatch_id: Mapped[int] = mapped_column(
        ForeignKey("dispatches.id", ondelete="CASCADE"), nullable=False, index=True
    )
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), nullable=False)
    allowed: Mapped[bool] = mapped_column(Boolean, nullable=False)
    rule: Mapped[str] = mapped_column(String(40), nullable=False)
    reason: Mapped[str] = mapped_column(String(300), nullable=False)
    defer_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class CallAttempt(Base):
    """A call placed to a debtor's number (from a provider's call record): what the daily cap counts."""

    __tablename__ = "call_attempts"
    __table_args__ = (Index(None, "value", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The provider's id of the call: a record that arrives twice is stored once.
    provider_call_id: Mapped[str] = mapped_column(String(128), nullable=False, unique=True)
    value: Mapped[str] = mapped_column(Sealed(), nullable=False)  # the debtor's E.164 phone
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), nullable=False)
    answered: Mapped[bool] = mapped_column(Boolean, nullable=False)
    dispatch_id: Mapped[int | None] = mapped_column(
        ForeignKey("dispatches.id", ondelete="SET NULL"), nullable=True
    )


class DoNotContact(Base):
    """A number nobody may be contacted at, with why (a complaint, a court order, a request)."""

    __tablename__ = "do_not_contact"
    __table_args__ = (UniqueConstraint("channel", "value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(10), nullable=False)
    value: Mapped[str] = mapped_column(Sealed(), nullable=False)
    reason: Mapped[str] = mapped_column(String(200), nullable=False)
    added_at: Mapped[dt.datetime] = _created_at()
