"""The audit log keeps ID numbers and phone numbers out, and everything else in."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from contactfix.db import (
    AuditDetailError,
    AuditEntry,
    PersonalDataInAudit,
    audit_values,
    find_personal_data,
    make_engine,
    record_audit,
    record_audits,
    session_factory,
    upgrade_database,
)

ID_18 = "11010519491231002X"  # the example number of GB 11643
ID_15 = "350103900101123"
MOBILE = "13812345678"


@pytest.mark.parametrize(
    "text",
    [
        ID_18,
        ID_18.lower(),
        "350103199001011234",
        "证件号：110105 19491231 002X。",
        ID_15,
        MOBILE,
        "138-1234-5678",
        "138 1234 5678",
        "+8613812345678",
        "+86 138 1234 5678",
        "008613812345678",
        "call 13812345678 after 9",
    ],
)
def test_unmasked_ids_and_mobiles_are_found(text: str) -> None:
    assert find_personal_data(text) is not None


@pytest.mark.parametrize(
    "text",
    [
        "350103********1234",
        "11010519491231****",
        "138****5678",
        "+86 138****5678",
        "LN-2024-000123",
        "（2024）闽0103民初1234号",
        "12345678901234567890",  # a 20-digit contract number: longer than any ID
        "1234567890",  # 10 digits
        "12812345678",  # 11 digits, but no mainland mobile starts with 12
        "+8602087654321",  # a Guangzhou landline
        "",
    ],
)
def test_masked_and_ordinary_values_pass(text: str) -> None:
    assert find_personal_data(text) is None


@pytest.fixture
def session(db_url: str) -> Iterator[Session]:
    upgrade_database(db_url)
    engine = make_engine(db_url)
    with session_factory(engine)() as session:
        yield session
    engine.dispose()


def test_masked_values_are_recorded(session: Session) -> None:
    entry = record_audit(
        session,
        "mediator:17",
        "contact.reached",
        "contact",
        42,
        phone="138****5678",
        debtor={"id_number": "350103********1234", "amounts": [Decimal("100.10"), 3]},
        note=None,
    )
    session.commit()
    session.expire_all()
    stored = session.get_one(AuditEntry, entry.id)
    assert stored.detail == {
        "phone": "138****5678",
        "debtor": {"id_number": "350103********1234", "amounts": ["100.10", 3]},
        "note": None,
    }
    assert (stored.actor, stored.action, stored.subject_type, stored.subject_id) == (
        "mediator:17",
        "contact.reached",
        "contact",
        42,
    )
    assert stored.at.tzinfo is not None


def test_an_entry_without_detail_stores_an_empty_object(session: Session) -> None:
    entry = record_audit(session, "system", "reconcile.started", "run")
    session.commit()
    session.expire_all()
    assert session.get_one(AuditEntry, entry.id).detail == {}


@pytest.mark.parametrize(
    "detail",
    [
        {"id_number": ID_18},
        {"old": {"ids": ["350103********1234", ID_15]}},
        {"contacts": [{"value": f"+86{MOBILE}"}]},
        {"phone_as_int": int(MOBILE)},
        {"by_phone": {MOBILE: "reached"}},
        {"tuple": ("ok", ("deeper", f"id {ID_18} here"))},
    ],
)
def test_pii_anywhere_in_the_detail_is_refused(session: Session, detail: dict[str, Any]) -> None:
    with pytest.raises(PersonalDataInAudit) as info:
        record_audit(session, "intake", "debtor.updated", "debtor", 1, **detail)
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert MOBILE not in message and ID_18 not in message and ID_15 not in message
    assert not session.new
    session.commit()
    assert session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == 0


def test_pii_in_the_actor_is_refused(session: Session) -> None:
    with pytest.raises(PersonalDataInAudit):
        record_audit(session, f"mediator:{MOBILE}", "login", "mediator")


def test_values_json_cannot_hold_are_refused(session: Session) -> None:
    with pytest.raises(AuditDetailError, match=r"detail\['when'\]"):
        record_audit(session, "intake", "x", "y", when=object())


def test_many_entries_in_one_insert_are_stored_as_one_by_one_would_be(session: Session) -> None:
    entries = [
        audit_values("repair", "debtor.repaired", "debtor", n, confidence=0.5, phone="138****5678")
        for n in (7, 8)
    ]
    assert record_audits(session, entries) == 2
    assert record_audits(session, []) == 0
    session.commit()
    stored = session.scalars(sa.select(AuditEntry).order_by(AuditEntry.subject_id)).all()
    assert [(e.actor, e.action, e.subject_id, e.detail) for e in stored] == [
        ("repair", "debtor.repaired", n, {"confidence": 0.5, "phone": "138****5678"}) for n in (7, 8)
    ]
    assert all(e.at.tzinfo is not None for e in stored)


def test_many_entries_are_checked_before_any_is_written(session: Session) -> None:
    with pytest.raises(PersonalDataInAudit):
        record_audits(
            session,
            (audit_values("x", "y", "debtor", n, phone=p) for n, p in ((1, "138****5678"), (2, MOBILE))),
        )
    session.commit()
    assert session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == 0
