"""People's word on a pair of records: the same party or not (the review queue of the web pages).

A :class:`LinkReview` overrides the model for its pair in every later run: "same" links the pair
with probability 1, "not same" never links it (:mod:`contactfix.pipeline.reviews`). Migration
``0008`` builds exactly this.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from contactfix.db.models import Base, UtcDateTime

__all__ = ["LinkReview"]


class LinkReview(Base):
    """One decision on the pair ``record_a_id < record_b_id``; deciding again replaces it."""

    __tablename__ = "link_reviews"
    __table_args__ = (
        UniqueConstraint("record_a_id", "record_b_id"),
        CheckConstraint("record_a_id < record_b_id", name="ordered"),
        Index(None, "record_b_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_a_id: Mapped[int] = mapped_column(
        ForeignKey("source_records.id", ondelete="CASCADE"), nullable=False
    )
    record_b_id: Mapped[int] = mapped_column(
        ForeignKey("source_records.id", ondelete="CASCADE"), nullable=False
    )
    same: Mapped[bool] = mapped_column(Boolean, nullable=False)
    probability: Mapped[float | None] = mapped_column(Float, nullable=True)  # the model's, when decided
    reviewer: Mapped[str] = mapped_column(String(100), nullable=False)
    decided_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), nullable=False, server_default=func.now())
