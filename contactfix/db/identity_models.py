"""Tables of resolution and repair: reconciliation runs, blocking keys, links, identities, rankings.

Resolve (:mod:`contactfix.pipeline.resolve`) links source records into identities and writes
``blocking_keys``, ``record_links``, ``identities``, ``identity_members`` and ``link_models``; repair
writes ``contact_rankings``. Every write is keyed by a unique constraint, so a run redone after a
crash upserts the same rows instead of adding new ones. Migration ``0002`` builds exactly this.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from contactfix.db.models import Base, Sealed, UtcDateTime, one_of

__all__ = [
    "BlockingKey",
    "ContactRanking",
    "Identity",
    "IdentityFlag",
    "IdentityMember",
    "LinkModel",
    "ReconcileRun",
    "RecordLink",
    "RunStatus",
]


class RunStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class IdentityFlag(StrEnum):
    """Why an identity must not be trusted blindly; shown with it, never acted on silently."""

    ID_NAME_CONFLICT = "id_name_conflict"  # a record with the same resident ID bears another name
    NO_LINKABLE_FIELD = "no_linkable_field"  # a record with a name only: nothing to link it by


def _json() -> JSON:
    # JSONB on PostgreSQL: comparable and indexable, unlike json.
    return JSON().with_variant(JSONB(), "postgresql")


def _empty_list() -> Any:
    return mapped_column(_json(), nullable=False, default=list, server_default=text("'[]'"))


class ReconcileRun(Base):
    """One reconciliation: when, full or incremental, how far it got, and what it changed."""

    __tablename__ = "reconcile_runs"
    __table_args__ = (one_of("status", RunStatus),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), nullable=False, server_default=func.now())
    finished_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    full: Mapped[bool] = mapped_column(Boolean, nullable=False)
    # The newest source_records.updated_at this run covered; the next run starts from it.
    watermark: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    counts: Mapped[dict[str, Any]] = mapped_column(
        _json(), nullable=False, default=dict, server_default=text("'{}'")
    )
    error: Mapped[str | None] = mapped_column(String(300), nullable=True)  # masked, like every message


class BlockingKey(Base):
    """One blocking key of one source record: records sharing (kind, key) are compared."""

    __tablename__ = "blocking_keys"
    __table_args__ = (
        PrimaryKeyConstraint("kind", "key", "source_record_id"),
        Index(None, "source_record_id"),
    )

    source_record_id: Mapped[int] = mapped_column(
        ForeignKey("source_records.id", ondelete="CASCADE"), nullable=False
    )
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    # A hash of the normalised values: the table holds no ID number or phone in clear.
    key: Mapped[str] = mapped_column(String(128), nullable=False)


class RecordLink(Base):
    """Two source records judged the same party, with the probability and its explanation."""

    __tablename__ = "record_links"
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
    probability: Mapped[float] = mapped_column(Float, nullable=False)
    # Comparison name → match weight in bits, plus "prior": what `contactfix show` explains.
    weights: Mapped[dict[str, float]] = mapped_column(_json(), nullable=False)
    run_id: Mapped[int] = mapped_column(ForeignKey("reconcile_runs.id"), nullable=False)


class Identity(Base):
    """One party (person or company) as resolution sees it: the records in ``identity_members``."""

    __tablename__ = "identities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), nullable=False, server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(
        UtcDateTime(), nullable=False, server_default=func.now(), onupdate=func.now()
    )
    flags: Mapped[list[str]] = _empty_list()  # IdentityFlag values


class IdentityMember(Base):
    """The identity of one source record (each record belongs to exactly one)."""

    __tablename__ = "identity_members"

    source_record_id: Mapped[int] = mapped_column(
        ForeignKey("source_records.id", ondelete="CASCADE"), primary_key=True
    )
    identity_id: Mapped[int] = mapped_column(ForeignKey("identities.id"), nullable=False, index=True)
    # The record's strongest link into its identity; 1.0 for a record alone.
    probability: Mapped[float] = mapped_column(Float, nullable=False)
    run_id: Mapped[int] = mapped_column(ForeignKey("reconcile_runs.id"), nullable=False)


class ContactRanking(Base):
    """One contact of one debtor as repair ranked it (written by :mod:`contactfix.pipeline.repair`)."""

    __tablename__ = "contact_rankings"
    __table_args__ = (UniqueConstraint("debtor_id", "channel", "value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    debtor_id: Mapped[int] = mapped_column(
        ForeignKey("debtors.id", ondelete="CASCADE"), nullable=False, index=True
    )
    channel: Mapped[str] = mapped_column(String(10), nullable=False)
    value: Mapped[str] = mapped_column(Sealed(), nullable=False)
    rank: Mapped[int] = mapped_column(Integer, nullable=False)
    confidence: Mapped[float] = mapped_column(Float, nullable=False)
    # [{record_id, source, reference, observed_on}, …]: where the contact was seen.
    sources: Mapped[list[dict[str, Any]]] = mapped_column(_json(), nullable=False)
    last_seen: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    flags: Mapped[list[str]] = _empty_list()
    run_id: Mapped[int] = mapped_column(ForeignKey("reconcile_runs.id"), nullable=False)


class LinkModel(Base):
    """The fitted match model of a full run, serialised so incremental runs score without refitting."""

    __tablename__ = "link_models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), nullable=False, server_default=func.now())
    run_id: Mapped[int] = mapped_column(ForeignKey("reconcile_runs.id"), nullable=False)
    params: Mapped[dict[str, Any]] = mapped_column(_json(), nullable=False)
