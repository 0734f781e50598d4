"""Tables of carrier repair (失联修复 through a carrier): the requests sent, and the numbers obtained.

A :class:`CarrierRequest` is one lost debtor asked of the repair connector once, with the authorisation
that allowed the asking; its ``batch_key`` (ours) groups the requests that go to the carrier together,
and ``batch_id`` is the carrier's name for that batch once it accepted it. A :class:`CarrierNumber` is
the virtual number a repaired debtor can be reached at, until ``expires_at``: past it, nothing is
dispatched to it. Migration ``0007`` builds exactly this.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint, func, text
from sqlalchemy.orm import Mapped, mapped_column

from contactfix.db.models import Base, Sealed, UtcDateTime, one_of

__all__ = ["AuthorisationKind", "CarrierNumber", "CarrierRequest", "CarrierRequestState"]


class CarrierRequestState(StrEnum):
    """Where one request stands with the carrier."""

    PENDING = "pending"  # written, not (known to be) accepted by the carrier yet
    SUBMITTED = "submitted"  # the carrier accepted its batch; query it for the answer
    ANSWERED = "answered"  # the carrier repaired the debtor
    NO_MATCH = "no_match"  # the carrier settled the batch without repairing the debtor
    FAILED = "failed"  # refused for good (the message says why, masked)


class AuthorisationKind(StrEnum):
    """Why we may ask (PIPL): the bank's loan contract, or a court's delegation of the case."""

    LOAN_CONTRACT = "loan_contract"
    COURT_DELEGATION = "court_delegation"


class CarrierRequest(Base):
    """One debtor asked of one repair connector, with its authorisation. Never holds an ID number."""

    __tablename__ = "carrier_requests"
    __table_args__ = (
        one_of("state", CarrierRequestState),
        one_of("authorisation_kind", AuthorisationKind),
        # Who was asked lately? Selection and renewal look requests up by debtor.
        Index(None, "debtor_id", "created_at"),
        # Resuming: the requests still pending or submitted.
        Index(None, "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtors.id", ondelete="CASCADE"), nullable=False)
    connector: Mapped[str] = mapped_column(String(64), nullable=False)
    authorisation_kind: Mapped[str] = mapped_column(String(20), nullable=False)
    # The loan contract number, or for a court delegation its case number.
    authorisation_reference: Mapped[str] = mapped_column(String(100), nullable=False)
    case_number: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # Ours: the requests sent together; a batch retried is the same requests again.
    batch_key: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    # The carrier's, once it accepted the batch.
    batch_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    state: Mapped[str] = mapped_column(
        String(12),
        nullable=False,
        default=CarrierRequestState.PENDING.value,
        server_default=CarrierRequestState.PENDING.value,
    )
    # True when asked to renew a number about to expire, False for a first repair.
    renewal: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=text("false")
    )
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default=text("0"))
    # What binds a virtual number later (no personal data in it), and until when the answer holds.
    token: Mapped[str | None] = mapped_column(String(500), nullable=True)
    valid_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)  # masked
    run_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # provenance, not a foreign key
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), nullable=False)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    answered_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(
        UtcDateTime(), nullable=False, server_default=func.now(), onupdate=func.now()
    )


class CarrierNumber(Base):
    """A number the carrier gave for a debtor (E.164), valid until ``expires_at``; renewals move it."""

    __tablename__ = "carrier_numbers"
    __table_args__ = (
        # Also the sender's look-up: is this dispatch's contact a carrier number, and until when?
        UniqueConstraint("debtor_id", "value"),
        # Renewal scans the numbers about to expire.
        Index(None, "expires_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtors.id", ondelete="CASCADE"), nullable=False)
    value: Mapped[str] = mapped_column(Sealed(20), nullable=False)
    obtained_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), nullable=False)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), nullable=False)
    # The request whose answer last set the expiry.
    request_id: Mapped[int] = mapped_column(
        ForeignKey("carrier_requests.id", ondelete="CASCADE"), nullable=False, index=True
    )
