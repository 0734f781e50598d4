"""Files that hold ID numbers and phones are created readable by their owner only (0600): the SQLite
database and its -wal/-shm files, the issues CSV of a submission, the banks' exports, the outbox.

Each test sets a permissive umask (022, the usual one) so that a file created with the default mode
would be 0644 and fail.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from connectors.base import SmsMessage
from connectors.outbox import OutboxConnector
from contactfix.cli.commands_export import export_contacts
from contactfix.db.engine import make_engine
from contactfix.db.migrate import upgrade_database
from contactfix.db.models import Organization
from contactfix.intake.receipt import Issue, write_issues_csv


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def test_a_new_sqlite_database_and_its_wal_files_are_private(tmp_path: Path) -> None:
    path = tmp_path / "contactfix.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (x TEXT)"))
            connection.execute(text("INSERT INTO t VALUES ('+8613800000001')"))
        with engine.connect() as connection:  # WAL: the -wal and -shm files exist while one is open
            assert connection.execute(text("SELECT count(*) FROM t")).scalar_one() == 1
            files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
            assert {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}
    finally:
        engine.dispose()


def test_the_migrated_database_is_private_and_an_existing_one_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "walk.sqlite3"
    upgrade_database(f"sqlite:///{path}")
    assert mode(path) == 0o600
    shared = tmp_path / "shared.sqlite3"
    shared.touch(mode=0o640)
    make_engine(f"sqlite:///{shared}").dispose()
    assert mode(shared) == 0o640  # the operator's choice
    make_engine("sqlite://").dispose()  # in memory: no file to make


def test_the_issues_csv_is_private_even_when_it_replaces_a_readable_one(tmp_path: Path) -> None:
    target = tmp_path / "bank.csv.issues.csv"
    target.write_text("old", encoding="utf-8")
    target.chmod(0o644)
    written = write_issues_csv(target, [Issue(3, "phone", "invalid phone 138****0000", "warning")])
    assert written == 1 and mode(target) == 0o600
    assert "138****0000" in target.read_text(encoding="utf-8-sig")
    fresh = tmp_path / "court.csv.issues.csv"
    write_issues_csv(fresh, [])
    assert mode(fresh) == 0o600


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_exports_are_private_even_when_they_replace_a_readable_file(tmp_path: Path, suffix: str) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    upgrade_database(url)
    engine = make_engine(url)
    out = tmp_path / "exports" / f"repaired{suffix}"
    out.parent.mkdir()
    out.write_bytes(b"old")
    out.chmod(0o644)
    try:
        with Session(engine) as session:
            session.add(Organization(name="bank-a", kind="bank"))
            session.flush()
            assert export_contacts(session, out, org="bank-a") == 0
    finally:
        engine.dispose()
    assert mode(out) == 0o600 and out.stat().st_size > 3
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # no temporary file left


def test_the_outbox_is_private(tmp_path: Path) -> None:
    path = tmp_path / "outbox.jsonl"
    OutboxConnector(path).send(SmsMessage(to="+8613800000001", text="案件", idempotency_key="k-1"))
    assert mode(path) == 0o600
