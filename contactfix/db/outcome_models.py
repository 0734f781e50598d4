"""Tables of the repair loop: what mediators found when they dialled, and the confidence models
fitted on it. Migration ``0005`` builds exactly this.

An :class:`Outcome` is an observation about one contact of one debtor, reported by a person (a
mediator on a page, a dialer's export through the CLI): the strongest evidence repair has, for or
against a number. A :class:`ConfidenceModel` is one fit of the contact-confidence weights on such
outcomes, kept with the number of outcomes it saw and its calibration on held-out ones.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from contactfix.db.models import Base, Sealed, UtcDateTime, one_of

__all__ = ["ConfidenceModel", "Outcome", "OutcomeResult"]


class OutcomeResult(StrEnum):
    """What happened when a mediator or a dialer used a contact."""

    REACHED = "reached"  # the debtor answered: the number is theirs today
    WRONG_NUMBER = "wrong_number"  # someone else answered, or the number does not exist
    NO_ANSWER = "no_answer"  # rang out, switched off, busy: weak evidence either way
    OBJECTED = "objected"  # the debtor asked not to be contacted: all contact stops
    PROMISED_TO_PAY = "promised_to_pay"  # reached, and the debtor promised
    REFUSED_TO_PAY = "refused_to_pay"  # reached, and the debtor refused
    MEDIATED = "mediated"  # reached, and the case was settled by mediation


# Results that mean the debtor was on the line: all of them confirm the number.
REACHING_RESULTS = frozenset(
    {
        OutcomeResult.REACHED,
        OutcomeResult.OBJECTED,
        OutcomeResult.PROMISED_TO_PAY,
        OutcomeResult.REFUSED_TO_PAY,
        OutcomeResult.MEDIATED,
    }
)


class Outcome(Base):
    """One reported outcome of using one contact of one debtor (no PII beyond the E.164 value)."""

    __tablename__ = "outcomes"
    __table_args__ = (
        one_of("result", OutcomeResult),
        Index(None, "debtor_id", "reported_at"),
        # The incremental run asks which debtors had outcomes since its last run.
        Index(None, "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtors.id", ondelete="CASCADE"), nullable=False)
    channel: Mapped[str] = mapped_column(String(10), nullable=False)
    value: Mapped[str] = mapped_column(Sealed(), nullable=False)  # E.164 for phones
    result: Mapped[str] = mapped_column(String(20), nullable=False)
    # Sealed too: a mediator's note may well hold a number ("new number 139…").
    note: Mapped[str | None] = mapped_column(Sealed(), nullable=True)
    reported_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), nullable=False)
    # Who reported it: a user's login, or "cli" / "file:NAME" for the command line.
    reporter: Mapped[str] = mapped_column(String(100), nullable=False)
    dispatch_id: Mapped[int | None] = mapped_column(
        ForeignKey("dispatches.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), nullable=False, server_default=func.now())


class ConfidenceModel(Base):
    """One fit of the phone-confidence weights on reported outcomes, with its calibration."""

    __tablename__ = "confidence_models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), nullable=False, server_default=func.now())
    channel: Mapped[str] = mapped_column(String(10), nullable=False)
    # {"intercept": …, feature: weight, …} as contactfix.pipeline.confidence.Weights.
    weights: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    outcomes: Mapped[int] = mapped_column(Integer, nullable=False)  # labelled contacts it was fitted on
    held_out: Mapped[int] = mapped_column(Integer, nullable=False)  # labelled contacts it was scored on
    brier_prior: Mapped[float | None] = mapped_column(Float, nullable=True)
    brier_fitted: Mapped[float | None] = mapped_column(Float, nullable=True)
    # [{"low","high","contacts","predicted","observed"}…] on the held-out contacts.
    reliability: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False, default=list)
    # The model ranking uses: the newest active one. False when the fit was worse than the prior.
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=text("false"))
