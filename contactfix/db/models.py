"""The database schema as typed SQLAlchemy 2 models.

Table and column names are a contract: intake writes bulk upserts against them, and the Alembic
migrations in ``contactfix/migrations`` build exactly this schema (a test compares the two).

Conventions:

* String enums are ``String`` columns guarded by a named CHECK constraint; the allowed values are the
  ``StrEnum`` classes below, so code can write ``Debtor.status == DebtorStatus.LOST``.
* Every constraint and index is named by :data:`NAMING_CONVENTION`; SQLite's batch migrations need
  names to find a constraint again.
* Timestamps are timezone-aware. On SQLite, which has no time zones, :class:`UtcDateTime` stores UTC
  and hands back aware datetimes, so both databases behave the same to the caller.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator, TypeEngine

from contactfix.errors import ContactfixError
from contactfix.privacy.sealing import field_cipher

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class NaiveDatetimeError(ContactfixError, ValueError):
    """A datetime without a time zone was about to be stored; its meaning would be a guess."""


class UtcDateTime(TypeDecorator[dt.datetime]):
    """``DateTime(timezone=True)`` that stores UTC and always returns timezone-aware values.

    PostgreSQL's timestamptz already does this; SQLite would drop the offset silently, so values are
    converted to UTC before they are written and marked as UTC when read. Naive datetimes are refused
    because ``datetime.now()`` on a server in Asia/Shanghai would otherwise be stored 8 hours off.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise NaiveDatetimeError("refusing to store a datetime without a time zone; use now(UTC)")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        # SQLite's CURRENT_TIMESTAMP and our own writes are UTC wall time without an offset.
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


class Sealed(TypeDecorator[str]):
    """Text encrypted at rest (ID numbers, phones, addresses): sealed when written, opened when read.

    Deterministic (see :mod:`contactfix.privacy.sealing`), so ``column == value``, ``IN``, unique
    constraints, ``ON CONFLICT`` and joins between sealed columns behave as on the plain values.
    ``LIKE``, ordering and string functions do not: they see ciphertext.

    A sealed value is longer than its plaintext (4/3 of its UTF-8 bytes plus 52 characters), so
    PostgreSQL stores it as VARCHAR without a length (TEXT by another name); the lengths that matter
    are checked on the plaintext by intake.
    SQLite keeps the column's old declared ``VARCHAR(n)`` (``sqlite_length``): it does not enforce
    lengths, and changing a declared type there means rebuilding the table, whose drop would cascade
    to every referencing row.

    Raw SQL (``text()``, ``COPY``, staging tables) bypasses this type: such paths seal and open with
    :func:`contactfix.privacy.sealing.field_cipher` themselves.
    """

    impl = String
    cache_ok = True

    def __init__(self, sqlite_length: int = 500) -> None:
        super().__init__()
        self.sqlite_length = sqlite_length

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(self.sqlite_length))
        return dialect.type_descriptor(String())  # VARCHAR without a length: PostgreSQL's TEXT

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else field_cipher().seal(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else field_cipher().open(value)


# --- allowed values of the string enums -----------------------------------------------------------


class OrganizationKind(StrEnum):
    BANK = "bank"
    MEDIATION_CENTER = "mediation_center"
    COURT = "court"


class SubmissionKind(StrEnum):
    BANK_BATCH = "bank_batch"
    COURT_EXPORT = "court_export"


class SubmissionStatus(StrEnum):
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


class IssueSeverity(StrEnum):
    WARNING = "warning"
    REJECTED = "rejected"


class RecordSource(StrEnum):
    BANK = "bank"
    COURT = "court"
    CARRIER = "carrier"
    MEDIATOR = "mediator"


class PartyType(StrEnum):
    PERSON = "person"
    COMPANY = "company"


class IdType(StrEnum):
    RESIDENT_ID = "resident_id"
    RESIDENT_ID_MASKED = "resident_id_masked"
    RESIDENCE_PERMIT = "residence_permit"
    CREDIT_CODE = "credit_code"
    OTHER = "other"


class Gender(StrEnum):
    MALE = "M"
    FEMALE = "F"


class DebtorStatus(StrEnum):
    LOST = "lost"
    REPAIRED = "repaired"
    REACHED = "reached"
    CLOSED = "closed"


class ContactChannel(StrEnum):
    PHONE = "phone"
    ADDRESS = "address"
    EMAIL = "email"


class ContactStatus(StrEnum):
    UNVERIFIED = "unverified"
    REACHED = "reached"
    WRONG_NUMBER = "wrong_number"
    NO_ANSWER = "no_answer"
    OBJECTED = "objected"


# contacts.line_type values beside libphonenumber's types: numbers a bank's batch gives that are not
# the debtor's own. Neither links records (contactfix.pipeline.records) nor repairs anyone.
THIRD_PARTY_LINE = "third_party"  # an emergency contact's number (紧急联系人电话): someone else's
MISTYPED_LINE = "mistyped"  # a mobile misspelt with a digit too few or too many: never dialled
NOT_THE_PERSONS = (THIRD_PARTY_LINE, MISTYPED_LINE)


def one_of(column: str, values: type[StrEnum]) -> CheckConstraint:
    """A CHECK constraint named after ``column`` that admits only ``values`` (NULL passes, as in SQL)."""
    allowed = ", ".join(f"'{member.value}'" for member in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=column)


# --- the tables ------------------------------------------------------------------------------------


class Base(DeclarativeBase):
    """Declarative base of every contactfix table; its metadata carries the naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _created_at() -> Mapped[dt.datetime]:
    return mapped_column(UtcDateTime(), nullable=False, server_default=func.now())


def _updated_at() -> Mapped[dt.datetime]:
    # onupdate fires for ORM and Core UPDATEs; an INSERT .. ON CONFLICT DO UPDATE must set it itself.
    return mapped_column(UtcDateTime(), nullable=False, server_default=func.now(), onupdate=func.now())


class Organization(Base):
    """A bank, mediation center or court that sends or receives records."""

    __tablename__ = "organizations"
    __table_args__ = (one_of("kind", OrganizationKind),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False, unique=True)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    created_at: Mapped[dt.datetime] = _created_at()

    submissions: Mapped[list[Submission]] = relationship(back_populates="organization")


class Submission(Base):
    """One file taken in: a bank batch or a court export, with its receipt counts."""

    __tablename__ = "submissions"
    __table_args__ = (
        # The same file from the same organization is a re-upload, not a new batch.
        UniqueConstraint("organization_id", "kind", "content_sha256"),
        one_of("kind", SubmissionKind),
        one_of("status", SubmissionStatus),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    filename: Mapped[str] = mapped_column(String(500), nullable=False)
    content_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    rows: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default=text("0"))
    accepted: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default=text("0"))
    rejected: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default=text("0"))
    warnings: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default=text("0"))
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    created_at: Mapped[dt.datetime] = _created_at()
    completed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)

    organization: Mapped[Organization] = relationship(back_populates="submissions")
    issues: Mapped[list[SubmissionIssue]] = relationship(
        back_populates="submission", cascade="all, delete-orphan", passive_deletes=True
    )


class SubmissionIssue(Base):
    """A warning or rejection of one row of a submission (row 0: the file itself)."""

    __tablename__ = "submission_issues"
    __table_args__ = (one_of("severity", IssueSeverity),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), nullable=False, index=True
    )
    row: Mapped[int] = mapped_column(Integer, nullable=False)
    field: Mapped[str] = mapped_column(String(64), nullable=False)
    reason: Mapped[str] = mapped_column(String(300), nullable=False)  # already masked by intake
    severity: Mapped[str] = mapped_column(String(10), nullable=False)

    submission: Mapped[Submission] = relationship(back_populates="issues")


class SourceRecord(Base):
    """A party record exactly as one source gave it, normalised; the unit the matchers compare."""

    __tablename__ = "source_records"
    __table_args__ = (
        one_of("source", RecordSource),
        one_of("party_type", PartyType),
        one_of("id_type", IdType),
        one_of("gender", Gender),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(20), nullable=False)
    # Computed by intake so that importing the same record again updates it.
    record_key: Mapped[str] = mapped_column(String(128), nullable=False, unique=True)
    # Provenance: which organization and which submission last wrote the record. Not foreign keys
    # (organizations and submissions are never deleted): checking them cost intake a third of the
    # database's time a row. Not indexed: no query looks records up by them, nor by the ID, name,
    # county or case columns; matching looks them up through its own blocking_keys.
    organization_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    submission_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reference: Mapped[str | None] = mapped_column(String(100), nullable=True)
    case_year: Mapped[int | None] = mapped_column(Integer, nullable=True)
    court_code: Mapped[str | None] = mapped_column(String(20), nullable=True)
    case_type: Mapped[str | None] = mapped_column(String(20), nullable=True)
    case_sequence: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Open on purpose: courts name roles in many ways; role_original keeps their word.
    role: Mapped[str | None] = mapped_column(String(20), nullable=True)
    role_original: Mapped[str | None] = mapped_column(String(50), nullable=True)
    observed_on: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    party_type: Mapped[str] = mapped_column(
        String(10), nullable=False, default=PartyType.PERSON.value, server_default=PartyType.PERSON.value
    )
    name_original: Mapped[str] = mapped_column(String(200), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    id_type: Mapped[str | None] = mapped_column(String(30), nullable=True)
    id_number: Mapped[str | None] = mapped_column(Sealed(64), nullable=True)
    id_prefix: Mapped[str | None] = mapped_column(String(18), nullable=True)
    id_suffix: Mapped[str | None] = mapped_column(String(18), nullable=True)
    birth_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    gender: Mapped[str | None] = mapped_column(String(1), nullable=True)
    county_code: Mapped[str | None] = mapped_column(String(6), nullable=True)
    address: Mapped[str | None] = mapped_column(Sealed(), nullable=True)
    created_at: Mapped[dt.datetime] = _created_at()
    # Indexed: the nightly reconcile reads what changed since its last run.
    updated_at: Mapped[dt.datetime] = mapped_column(
        UtcDateTime(), nullable=False, server_default=func.now(), onupdate=func.now(), index=True
    )

    # A batch may hold hundreds of thousands of records: load contacts with selectinload(), never
    # one query per record.
    contacts: Mapped[list[Contact]] = relationship(
        back_populates="source_record", lazy="raise_on_sql", passive_deletes=True
    )


class Debtor(Base):
    """A lost debtor a bank submitted: its case data, and the bank's own source record of the person."""

    __tablename__ = "debtors"
    __table_args__ = (
        UniqueConstraint("organization_id", "reference"),
        one_of("party_type", PartyType),
        one_of("id_type", IdType),
        one_of("gender", Gender),
        one_of("status", DebtorStatus),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The bank (with reference, the debtor's key) and the latest submission that touched the debtor:
    # provenance, not foreign keys, as on source_records.
    organization_id: Mapped[int] = mapped_column(Integer, nullable=False)
    reference: Mapped[str] = mapped_column(String(100), nullable=False)
    source_record_id: Mapped[int] = mapped_column(
        ForeignKey("source_records.id"), nullable=False, unique=True
    )
    submission_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    party_type: Mapped[str] = mapped_column(String(10), nullable=False)
    name_original: Mapped[str] = mapped_column(String(200), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    id_type: Mapped[str | None] = mapped_column(String(30), nullable=True)
    id_number: Mapped[str | None] = mapped_column(Sealed(64), nullable=True)
    birth_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    gender: Mapped[str | None] = mapped_column(String(1), nullable=True)
    contract_number: Mapped[str | None] = mapped_column(String(100), nullable=True)
    product: Mapped[str | None] = mapped_column(String(100), nullable=True)
    amount_owed: Mapped[Decimal | None] = mapped_column(Numeric(16, 2), nullable=True)
    currency: Mapped[str] = mapped_column(String(3), nullable=False, default="CNY", server_default="CNY")
    status: Mapped[str] = mapped_column(
        String(20),
        nullable=False,
        default=DebtorStatus.LOST.value,
        server_default=DebtorStatus.LOST.value,
        index=True,
    )
    created_at: Mapped[dt.datetime] = _created_at()
    updated_at: Mapped[dt.datetime] = _updated_at()

    # Listing debtors must not fetch their records one by one: use joinedload()/selectinload().
    source_record: Mapped[SourceRecord] = relationship(lazy="raise_on_sql")


class Contact(Base):
    """A phone, address or e-mail found in one source record, with what mediators learned of it."""

    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint("source_record_id", "channel", "value"),
        one_of("channel", ContactChannel),
        one_of("status", ContactStatus),
        # Who else has this number? Shared-phone detection looks contacts up by value.
        Index(None, "channel", "value"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_record_id: Mapped[int] = mapped_column(
        ForeignKey("source_records.id", ondelete="CASCADE"), nullable=False
    )
    channel: Mapped[str] = mapped_column(String(10), nullable=False)
    value: Mapped[str] = mapped_column(Sealed(), nullable=False)  # E.164 for phones
    value_original: Mapped[str | None] = mapped_column(Sealed(), nullable=True)
    line_type: Mapped[str | None] = mapped_column(String(30), nullable=True)
    region: Mapped[str | None] = mapped_column(String(100), nullable=True)
    carrier: Mapped[str | None] = mapped_column(String(50), nullable=True)
    first_seen: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    last_seen: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    status: Mapped[str] = mapped_column(
        String(20),
        nullable=False,
        default=ContactStatus.UNVERIFIED.value,
        server_default=ContactStatus.UNVERIFIED.value,
    )
    created_at: Mapped[dt.datetime] = _created_at()
    updated_at: Mapped[dt.datetime] = _updated_at()

    source_record: Mapped[SourceRecord] = relationship(back_populates="contacts")


class AuditEntry(Base):
    """One line of the audit log: who did what to which subject. Never holds unmasked PII."""

    __tablename__ = "audit_log"
    __table_args__ = (Index(None, "subject_type", "subject_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), nullable=False, server_default=func.now())
    actor: Mapped[str] = mapped_column(String(100), nullable=False)
    # The organisation the actor acted for (API callers); NULL for the CLI and the pipeline.
    organization_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    action: Mapped[str] = mapped_column(String(50), nullable=False)
    subject_type: Mapped[str] = mapped_column(String(50), nullable=False)
    subject_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # JSONB on PostgreSQL: comparable and indexable, unlike json.
    detail: Mapped[dict[str, Any]] = mapped_column(
        JSON().with_variant(JSONB(), "postgresql"), nullable=False, default=dict, server_default=text("'{}'")
    )


class HashSecret(Base):
    """A secret that keys a hash which must outlive a change of data key (a court record's key: the
    same party of the same case, imported again after a rotation, must find its record). Random,
    made once, stored sealed: a stolen database without the data key cannot open it, and a rotation
    re-seals it like any sealed value, so what it keys stays the same."""

    __tablename__ = "hash_secrets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # rotation walks tables by id
    purpose: Mapped[str] = mapped_column(String(50), nullable=False, unique=True)
    value: Mapped[str] = mapped_column(Sealed(200), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), nullable=False, server_default=func.now())


# The resolution and repair tables live in their own module; importing it here puts them in
# Base.metadata for the migrations' comparison and for create_all. (At the end: it imports Base.)
from contactfix.db import identity_models as identity_models  # noqa: E402  isort: skip
from contactfix.db import dispatch_models as dispatch_models  # noqa: E402  isort: skip
from contactfix.db import outcome_models as outcome_models  # noqa: E402  isort: skip
from contactfix.db import carrier_models as carrier_models  # noqa: E402  isort: skip
from contactfix.db import access_models as access_models  # noqa: E402  isort: skip
from contactfix.db import review_models as review_models  # noqa: E402  isort: skip
