"""Storage: the constraints, defaults, timestamps and relationships of the schema, on both databases."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, InvalidRequestError, StatementError
from sqlalchemy.orm import Session, selectinload

from contactfix.db import (
    Contact,
    Debtor,
    NaiveDatetimeError,
    Organization,
    SourceRecord,
    Submission,
    SubmissionIssue,
    make_engine,
    session_factory,
    session_scope,
    upgrade_database,
)

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture
def session(db_url: str) -> Iterator[Session]:
    """A session on a freshly migrated database (by the migrations, not create_all)."""
    upgrade_database(db_url)
    engine = make_engine(db_url)
    factory = session_factory(engine)
    with factory() as session:
        yield session
    engine.dispose()


def _bank(session: Session, name: str = "福州银行") -> Organization:
    org = Organization(name=name, kind="bank")
    session.add(org)
    session.flush()
    return org


def _record(session: Session, key: str, **values: Any) -> SourceRecord:
    record = SourceRecord(source="bank", record_key=key, name_original="張三", name="张三", **values)
    session.add(record)
    session.flush()
    return record


def _submission(session: Session, org: Organization, sha: str = "a" * 64) -> Submission:
    sub = Submission(
        organization_id=org.id,
        kind="bank_batch",
        filename="batch.csv",
        content_sha256=sha,
        status="processing",
    )
    session.add(sub)
    session.flush()
    return sub


def _debtor(session: Session, org: Organization, record: SourceRecord, reference: str) -> Debtor:
    debtor = Debtor(
        organization_id=org.id,
        reference=reference,
        source_record_id=record.id,
        party_type="person",
        name_original="張三",
        name="张三",
    )
    session.add(debtor)
    session.flush()
    return debtor


def test_debtor_reference_is_unique_per_organization(session: Session) -> None:
    bank, other = _bank(session), _bank(session, "泉州银行")
    _debtor(session, bank, _record(session, "k1"), "LN-001")
    _debtor(session, other, _record(session, "k2"), "LN-001")  # same reference, other bank: fine
    with pytest.raises(IntegrityError):
        _debtor(session, bank, _record(session, "k3"), "LN-001")


def test_a_source_record_belongs_to_one_debtor(session: Session) -> None:
    bank = _bank(session)
    record = _record(session, "k1")
    _debtor(session, bank, record, "LN-001")
    with pytest.raises(IntegrityError):
        _debtor(session, bank, record, "LN-002")


def test_record_key_is_unique(session: Session) -> None:
    _record(session, "bank:1:LN-001")
    with pytest.raises(IntegrityError):
        _record(session, "bank:1:LN-001")


def test_contact_is_unique_per_record_channel_and_value(session: Session) -> None:
    first, second = _record(session, "k1"), _record(session, "k2")
    session.add(Contact(source_record_id=first.id, channel="phone", value="+8613800000001"))
    session.add(Contact(source_record_id=first.id, channel="email", value="+8613800000001"))
    session.add(Contact(source_record_id=second.id, channel="phone", value="+8613800000001"))
    session.flush()
    session.add(Contact(source_record_id=first.id, channel="phone", value="+8613800000001"))
    with pytest.raises(IntegrityError):
        session.flush()


def test_the_same_file_from_the_same_bank_is_one_submission(session: Session) -> None:
    bank = _bank(session)
    _submission(session, bank)
    with pytest.raises(IntegrityError):
        _submission(session, bank)


@pytest.mark.parametrize(
    ("table", "column", "good", "bad"),
    [
        ("organizations", "kind", "court", "insurer"),
        ("submissions", "status", "failed", "done"),
        ("submission_issues", "severity", "warning", "error"),
        ("source_records", "source", "carrier", "internet"),
        ("source_records", "id_type", "credit_code", "passport"),
        ("source_records", "gender", "F", "X"),
        ("debtors", "status", "reached", "found"),
        ("contacts", "channel", "email", "fax"),
        ("contacts", "status", "objected", "blocked"),
    ],
)
def test_check_constraints_refuse_unknown_values(
    session: Session, table: str, column: str, good: str, bad: str
) -> None:
    bank = _bank(session)
    record = _record(session, "k1")
    sub = _submission(session, bank)
    _debtor(session, bank, record, "LN-001")
    session.add(
        SubmissionIssue(submission_id=sub.id, row=3, field="id_number", reason="bad", severity="warning")
    )
    session.add(Contact(source_record_id=record.id, channel="phone", value="+8613800000001"))
    session.flush()

    update = sa.text(f"UPDATE {table} SET {column} = :value")
    session.execute(update, {"value": good})  # the allowed value passes: the failure below is the CHECK
    with pytest.raises(IntegrityError, match=f"ck_{table}_{column}"):
        session.execute(update, {"value": bad})


def test_role_is_open(session: Session) -> None:
    record = _record(session, "k1", role="guarantor", role_original="担保人")
    assert record.role == "guarantor"


def test_defaults(session: Session) -> None:
    bank = _bank(session)
    sub = _submission(session, bank)
    record = _record(session, "k1")
    debtor = _debtor(session, bank, record, "LN-001")
    contact = Contact(source_record_id=record.id, channel="phone", value="+8613800000001")
    session.add(contact)
    session.commit()
    # Server defaults as well: a row inserted without the ORM gets the same values.
    session.execute(
        sa.text(
            "INSERT INTO source_records (source, record_key, name_original, name)"
            " VALUES ('court', 'k2', 'x', 'x')"
        )
    )
    raw = session.execute(
        sa.text("SELECT party_type, created_at FROM source_records WHERE record_key = 'k2'")
    ).one()
    assert raw.party_type == "person" and raw.created_at is not None
    assert (sub.rows, sub.accepted, sub.rejected, sub.warnings) == (0, 0, 0, 0)
    assert (record.party_type, debtor.status, debtor.currency, contact.status) == (
        "person",
        "lost",
        "CNY",
        "unverified",
    )


def test_timestamps_are_timezone_aware_and_keep_the_instant(session: Session) -> None:
    bank = _bank(session)
    sub = _submission(session, bank)
    finished = dt.datetime(2024, 3, 1, 9, 30, tzinfo=SHANGHAI)
    sub.completed_at = finished
    session.commit()
    session.expire_all()
    stored = session.get(Submission, sub.id)
    assert stored is not None
    assert stored.completed_at == finished  # same instant, whatever offset comes back
    assert stored.created_at.tzinfo is not None
    assert abs(stored.created_at - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)


def test_naive_datetimes_are_refused(session: Session) -> None:
    sub = _submission(session, _bank(session))
    sub.completed_at = dt.datetime(2024, 3, 1, 9, 30)
    with pytest.raises(StatementError) as info:
        session.flush()
    assert isinstance(info.value.orig, NaiveDatetimeError)


def test_updated_at_moves_on_update(session: Session) -> None:
    record = _record(session, "k1")
    debtor = _debtor(session, _bank(session), record, "LN-001")
    long_ago = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    debtor.updated_at = record.updated_at = long_ago
    session.commit()
    debtor.status = "repaired"
    record.address = "福建省福州市鼓楼区"
    session.commit()
    session.expire_all()
    assert session.get_one(Debtor, debtor.id).updated_at > long_ago
    assert session.get_one(SourceRecord, record.id).updated_at > long_ago


def test_money_is_exact(session: Session) -> None:
    debtor = _debtor(session, _bank(session), _record(session, "k1"), "LN-001")
    debtor.amount_owed = Decimal("12345678901234.56")
    session.commit()
    session.expire_all()
    assert session.get_one(Debtor, debtor.id).amount_owed == Decimal("12345678901234.56")


def test_foreign_keys_are_enforced(session: Session) -> None:
    session.add(Contact(source_record_id=987654, channel="phone", value="+8613800000001"))
    with pytest.raises(IntegrityError):
        session.flush()


def test_deleting_a_submission_deletes_its_issues(session: Session) -> None:
    sub = _submission(session, _bank(session))
    sub.issues.append(SubmissionIssue(row=0, field="file", reason="encoding guessed", severity="warning"))
    session.commit()
    # Core DELETE: the database's ON DELETE CASCADE does the work, not the ORM.
    session.execute(sa.delete(Submission))
    assert session.scalar(sa.select(sa.func.count()).select_from(SubmissionIssue)) == 0


def test_relationships(session: Session) -> None:
    bank = _bank(session)
    sub = _submission(session, bank)
    record = _record(session, "k1")
    _debtor(session, bank, record, "LN-001")
    session.add(Contact(source_record_id=record.id, channel="phone", value="+8613800000001"))
    session.commit()
    session.expunge_all()

    assert [s.id for s in session.get_one(Organization, bank.id).submissions] == [sub.id]
    loaded = session.scalars(sa.select(SourceRecord).options(selectinload(SourceRecord.contacts))).one()
    assert [c.value for c in loaded.contacts] == ["+8613800000001"]
    debtor = session.scalars(sa.select(Debtor).options(selectinload(Debtor.source_record))).one()
    assert debtor.source_record.record_key == "k1"


def test_hot_relationships_refuse_one_query_per_row(session: Session) -> None:
    record = _record(session, "k1")
    _debtor(session, _bank(session), record, "LN-001")
    session.commit()
    session.expunge_all()
    with pytest.raises(InvalidRequestError, match="raise_on_sql"):
        _ = session.scalars(sa.select(SourceRecord)).one().contacts
    with pytest.raises(InvalidRequestError, match="raise_on_sql"):
        _ = session.scalars(sa.select(Debtor)).one().source_record


def test_session_scope_commits_or_rolls_back(db_url: str) -> None:
    upgrade_database(db_url)
    engine = make_engine(db_url)
    factory = session_factory(engine)
    with session_scope(factory) as session:
        session.add(Organization(name="kept", kind="court"))
    with pytest.raises(RuntimeError), session_scope(factory) as session:
        session.add(Organization(name="dropped", kind="court"))
        session.flush()
        raise RuntimeError("abort")
    with session_scope(factory) as session:
        assert session.scalars(sa.select(Organization.name)).all() == ["kept"]
    engine.dispose()
