"""Court record keys and dispatch keys are keyed by secrets stored sealed: not computable from the clear
fields, the same across imports and key rotations (nothing duplicated, nothing sent twice), and the
keys stored before them are keyed by migration 0011."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path

import pytest
import sqlalchemy as sa
from dispatch_support import add_mediators
from sqlalchemy.orm import Session

from contactfix.db import downgrade_database, make_engine, upgrade_database
from contactfix.db.dispatch_models import Dispatch
from contactfix.db.models import Debtor
from contactfix.dispatch.planning import PlannedContact, plan_dispatches
from contactfix.intake import import_court_export, submit_bank_batch
from contactfix.privacy import DataKey, keyring_for, using_keyring
from contactfix.privacy.hash_secrets import PURPOSE_COURT_RECORD, hash_secret
from contactfix.privacy.keyring import write_key_file
from contactfix.privacy.rotation import rotate_keys
from tests.intake_support import resident_id

HEADER = "案号,当事人,诉讼地位,证件号码,联系电话\n"
ROWS = [
    f"(2024)闽0103民初{n}号,张{n},被告,{resident_id(sequence=f'{n:03d}')},1380013{n:04d}\n"
    for n in range(1, 4)
]


def _keys(engine: sa.Engine) -> dict[str, str]:
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT name, record_key FROM source_records ORDER BY id"))
        return {name: key for name, key in rows}


def test_one_secret_per_database_made_once(db_url: str) -> None:
    upgrade_database(db_url)
    engine = make_engine(db_url)
    with engine.begin() as connection:
        first = hash_secret(connection, PURPOSE_COURT_RECORD)
    with engine.begin() as connection:
        assert len(first) == 32 and hash_secret(connection, PURPOSE_COURT_RECORD) == first
    with engine.connect() as connection:
        stored = connection.execute(sa.text("SELECT value FROM hash_secrets")).scalar_one()
    assert stored.startswith("e1.")  # sealed under the data key
    engine.dispose()


def test_stored_plain_keys_are_keyed_by_the_migration_and_a_new_import_finds_its_records(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    upgrade_database(db_url)
    engine = make_engine(db_url)
    path = tmp_path / "court.csv"
    path.write_text(HEADER + "".join(ROWS), encoding="utf-8")
    # What the code before 0011 stored: the plain digest of the fields.
    with monkeypatch.context() as patched:
        patched.setattr("contactfix.intake.rows.court_key_of_digest", lambda digest, secret: digest)
        import_court_export(engine, path)
    plain = _keys(engine)
    downgrade_database(db_url, "0010")

    upgrade_database(db_url)

    keyed = _keys(engine)
    assert keyed.keys() == plain.keys() and not set(keyed.values()) & set(plain.values())
    path.write_text(HEADER + "".join(ROWS[:2]) + ROWS[2].replace("1380013", "1390013"), encoding="utf-8")
    import_court_export(engine, path)
    assert _keys(engine) == keyed  # updated in place, none added
    engine.dispose()


def _dispatch_keys(engine: sa.Engine) -> dict[int, str]:
    with Session(engine) as session:
        rows = session.execute(sa.select(Dispatch.debtor_id, Dispatch.idempotency_key))
        return {debtor: key for debtor, key in rows}


def _plan_again(engine: sa.Engine) -> int:
    with Session(engine) as session, session.begin():
        rows = session.execute(sa.select(Dispatch.debtor_id, Dispatch.contact_value)).all()
        repaired = {debtor: PlannedContact("phone", value, 0.9) for debtor, value in rows}
        return plan_dispatches(session, repaired, None).planned


def _bank_with_dispatches(engine: sa.Engine, tmp_path: Path) -> None:
    bank = tmp_path / "bank.csv"
    bank.write_text(
        "客户编号,姓名,身份证号,手机号\n"
        + "".join(f"B{n},李{n},{resident_id(sequence=f'{n:03d}')},1370013{n:04d}\n" for n in range(1, 4)),
        encoding="utf-8",
    )
    submit_bank_batch(engine, bank, "某银行")
    add_mediators(engine, 1, "08:00-20:00")
    with Session(engine) as session, session.begin():
        debtors = session.execute(sa.select(Debtor.id, Debtor.reference)).all()
        repaired = {d: PlannedContact("phone", f"+86138{n:08d}", 0.9) for n, (d, _) in enumerate(debtors)}
        assert plan_dispatches(session, repaired, None).planned == 3


def test_after_a_key_rotation_nothing_is_planned_twice_and_a_court_file_finds_its_records(
    tmp_path: Path, sqlite_url: str
) -> None:
    path = tmp_path / "data.key"
    write_key_file(path, DataKey(secrets.token_bytes(32)), [], None)
    ring = keyring_for("sqlite://", data_key_file=str(path))
    with using_keyring(ring):
        upgrade_database(sqlite_url)
        engine = make_engine(sqlite_url)
        court = tmp_path / "court.csv"
        court.write_text(HEADER + "".join(ROWS), encoding="utf-8")
        import_court_export(engine, court)
        _bank_with_dispatches(engine, tmp_path)
        records, keys = _keys(engine), _dispatch_keys(engine)

        assert rotate_keys(engine, ring).promoted

        assert _plan_again(engine) == 0 and _dispatch_keys(engine) == keys
        court.write_text(HEADER + "".join(ROWS).replace("1380013", "1390013"), encoding="utf-8")
        import_court_export(engine, court)
        assert _keys(engine) == records
        engine.dispose()


def test_the_migration_computes_stored_dispatch_keys_as_planning_does(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    upgrade_database(db_url)
    engine = make_engine(db_url)
    # Before 0011 the key was under a key derived from the data key: any other key stands for it.
    with monkeypatch.context() as patched:
        old = hmac.new(b"old" * 11, digestmod=hashlib.sha256)
        patched.setattr("contactfix.dispatch.planning.dispatch_hasher", lambda connection: _Fixed(old))
        _bank_with_dispatches(engine, tmp_path)
    before = _dispatch_keys(engine)
    downgrade_database(db_url, "0010")

    upgrade_database(db_url)

    after = _dispatch_keys(engine)
    assert after.keys() == before.keys() and not set(after.values()) & set(before.values())
    assert _plan_again(engine) == 0 and _dispatch_keys(engine) == after
    engine.dispose()


class _Fixed:
    """A KeyedHash stand-in under a fixed key."""

    def __init__(self, mac: hmac.HMAC) -> None:
        self.mac = mac

    def hexdigest(self, text: str, chars: int = 64) -> str:
        mac = self.mac.copy()
        mac.update(text.encode("utf-8"))
        return mac.hexdigest()[:chars]
