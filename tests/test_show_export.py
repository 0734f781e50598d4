"""`contactfix show` and `contactfix export contacts` on a repaired world (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import datetime as dt
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from openpyxl import load_workbook
from repair_support import AS_OF, World
from rich.cells import cell_len
from sqlalchemy import update
from sqlalchemy.orm import Session

from contactfix.cli.commands_export import COLUMNS, ExportError, export_contacts
from contactfix.cli.commands_show import AmbiguousReference, debtor_view, find_debtor
from contactfix.db.engine import make_engine, session_factory
from contactfix.db.migrate import upgrade_database
from contactfix.db.models import Contact, Organization
from contactfix.errors import NotFound
from contactfix.pipeline.repair import repair_contacts

CONTACTFIX = Path(sys.executable).with_name("contactfix")
LOST, NEW, WRONG, SWITCHBOARD = "+8613800000001", "+8613900000002", "+8613700000003", "+8659167000000"
CASE = "（2026）闽0103民初12号"
ADDRESS = "福建省福州市鼓楼区五四路1号"


def build(session: Session) -> World:
    """CF001: repaired by a court phone, one number reported wrong; CF002: only a shared phone; CF003:
    nothing at all. Three other people share the switchboard."""
    world = World(session)
    run = world.run()
    repaired = world.debtor("CF001", "张伟", LOST)
    case = world.record("court", "張偉", reference=CASE, observed_on=dt.date(2026, 5, 1), phones=[NEW, WRONG],
                        addresses=[ADDRESS])  # fmt: skip
    case.id_prefix, case.id_suffix = "350103", "1234"
    session.execute(update(Contact).where(Contact.value == WRONG).values(status="wrong_number"))
    world.identity(run, (world.bank_records[repaired.id], 1.0), (case, 0.9993))
    world.link(run, world.bank_records[repaired.id], case, 0.9993,
               {"id_number": 9.5, "name": 6.2, "birth_date": 4.1, "phone": -1.3, "prior": -13.0})  # fmt: skip
    shared = world.debtor("CF002", "李娜", None)
    for i, name in enumerate(["李娜", "王芳", "刘洋"]):
        other = world.record(
            "court", name, reference=f"S{i}", observed_on=dt.date(2026, 4, 1), phones=[SWITCHBOARD]
        )
        if i == 0:
            world.identity(run, (world.bank_records[shared.id], 1.0), (other, 0.99))
    world.debtor("CF003", "陈静", None)
    repair_contacts(session, run, as_of=AS_OF)
    session.commit()
    return world


@pytest.fixture
def db(db_url: str) -> Iterator[tuple[str, Session]]:
    upgrade_database(db_url)
    engine = make_engine(db_url)
    with session_factory(engine)() as session:
        build(session)
        yield db_url, session
    engine.dispose()


def test_show_explains_links_and_masks_ids_and_phones(db: tuple[str, Session]) -> None:
    _, session = db
    view = debtor_view(session, "CF001", "bank-a")
    assert (view.status, view.organization, view.id_masked) == ("repaired", "bank-a", "350103********1234")
    own, court = view.records
    assert own.own and own.explanation == "the debtor's own record"
    assert court.reference == CASE and court.id_masked == "350103********1234" and court.membership == 0.9993
    assert court.explanation == (
        "linked to the debtor's record, p=0.9993: id_number +9.5, name +6.2, birth_date +4.1, phone -1.3, "
        "prior -13.0 (bits)"
    )
    phones = [(c.rank, c.shown, c.flags) for c in view.contacts if c.channel == "phone"]
    assert phones == [
        (1, "+86 139****0002", ["repairs"]),  # the contact repair chose
        (2, "+86 138****0001", ["bank_had", "known_failed"]),
        (3, "+86 137****0003", ["wrong_number"]),
    ]
    assert view.contacts[0].sources == f"court {CASE} 2026-05-01"
    assert debtor_view(session, "CF003", "bank-a").identity_id is None


def test_show_is_of_one_bank_when_a_reference_is_shared(db: tuple[str, Session]) -> None:
    _, session = db
    other = session.query(Organization).filter_by(name="bank-b").one()
    world = World.__new__(World)
    world.session, world.bank, world.bank_records = session, other, {}
    world.debtor("CF001", "赵敏", None)
    session.commit()
    with pytest.raises(AmbiguousReference, match="bank-a, bank-b"):
        find_debtor(session, "CF001")
    assert debtor_view(session, "CF001", "bank-b").name == "赵敏"
    assert debtor_view(session, "CF001", "bank-a").name == "张伟"
    with pytest.raises(NotFound, match="CF999"):
        debtor_view(session, "CF999", "bank-a")
    with pytest.raises(NotFound, match="CF002"):
        debtor_view(session, "CF002", "bank-b")


def read_csv(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel reads Chinese from UTF-8 only with the BOM
    return list(csv.reader(raw.decode("utf-8-sig").splitlines()))


def test_export_csv_and_xlsx_best_first_without_unusable_contacts(
    db: tuple[str, Session], tmp_path: Path
) -> None:
    _, session = db
    out = tmp_path / "results.csv"
    assert export_contacts(session, out, org="bank-a") == 4
    header, *rows = read_csv(out)
    assert tuple(header) == COLUMNS
    assert [row[:5] for row in rows] == [
        ["CF001", "repaired", "1", "phone", NEW],  # not the number the bank lost: it knows that one
        ["CF001", "repaired", "1", "address", ADDRESS],
        ["CF002", "lost", "", "", ""],  # its only phone is shared by three people: not exported
        ["CF003", "lost", "", "", ""],
    ]
    assert (
        float(rows[0][5]) >= 0.6 and rows[0][6] == f"court {CASE} 2026-05-01" and rows[0][7] == "2026-05-01"
    )
    xlsx = tmp_path / "results.xlsx"
    assert export_contacts(session, xlsx, org="bank-a", status="repaired") == 2
    sheet = load_workbook(xlsx, read_only=True).active
    assert sheet is not None
    values = list(sheet.iter_rows(values_only=True))
    assert values[0] == COLUMNS and [v[:5] for v in values[1:]] == [
        (*r[:2], int(r[2]), *r[3:5]) for r in rows[:2]
    ]
    assert export_contacts(session, tmp_path / "none.csv", org="bank-b") == 0


def test_export_refuses_what_it_cannot_write(db: tuple[str, Session], tmp_path: Path) -> None:
    _, session = db
    folder = tmp_path / "exports"
    with pytest.raises(ExportError, match=r"\.csv or \.xlsx"):
        export_contacts(session, folder / "results.txt", org="bank-a")
    with pytest.raises(ExportError, match="unknown status"):
        export_contacts(session, folder / "results.csv", org="bank-a", status="found")
    with pytest.raises(NotFound, match="no organisation"):
        export_contacts(session, folder / "results.csv", org="bank-z")
    assert not folder.exists() or not list(folder.iterdir())  # no file, not even a partial one


def test_the_commands_end_to_end(db: tuple[str, Session], tmp_path: Path) -> None:
    url, _ = db
    env = {**os.environ, "CONTACTFIX_DATABASE_URL": url, "COLUMNS": "250"}
    shown = subprocess.run(
        [str(CONTACTFIX), "show", "CF001", "--org", "bank-a"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    assert "350103********1234" in shown.stdout and "+86 139****0002" in shown.stdout and CASE in shown.stdout
    assert not re.search(r"\d{11}", shown.stdout), "an unmasked phone or ID was printed"
    narrow = subprocess.run(
        [str(CONTACTFIX), "show", "CF001", "--org", "bank-a"], capture_output=True, text=True, check=False,
        env={**env, "COLUMNS": "80"},
    )  # fmt: skip
    assert narrow.returncode == 0, narrow.stderr
    assert max(cell_len(line) for line in narrow.stdout.splitlines()) <= 80 and "…" not in narrow.stdout
    for whole in ("350103********1234", "+86 139****0002", CASE):  # an address may fold
        assert whole in narrow.stdout, whole
    missing = subprocess.run(
        [str(CONTACTFIX), "show", "CF404", "--org", "bank-a"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert missing.returncode == 2 and "CF404" in missing.stderr
    out = tmp_path / "repaired.csv"
    exported = subprocess.run(
        [str(CONTACTFIX), "export", "contacts", "--out", str(out), "--status", "repaired", "--org", "bank-a"],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    assert "2 rows written" in exported.stderr and len(read_csv(out)) == 3
