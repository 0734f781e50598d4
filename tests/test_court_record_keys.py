"""Court record keys are keyed by a secret stored sealed: not computable from the clear fields, stable
across imports and key rotations, and the keys stored before them are keyed by migration 0011."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from contactfix.db import downgrade_database, make_engine, upgrade_database
from contactfix.intake import import_court_export
from contactfix.privacy.hash_secrets import PURPOSE_COURT_RECORD, hash_secret
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
    first = hash_secret(engine, PURPOSE_COURT_RECORD)
    assert len(first) == 32 and hash_secret(engine, PURPOSE_COURT_RECORD) == first
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
