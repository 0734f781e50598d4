"""``lost_on`` (失联日期, 最后联系日期): the day a bank lost the debtor dates its record and contacts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from intake_support import resident_id, write_csv

from contactfix.db.engine import make_engine
from contactfix.db.migrate import upgrade_database
from contactfix.intake.headers import map_headers
from contactfix.intake.reader import Cell
from contactfix.intake.rows import RowNormaliser
from contactfix.intake.service import submit_bank_batch
from contactfix.privacy.sealing import open_value

SUBMITTED = dt.date(2024, 5, 6)
HEADER = ["客户号", "姓名", "身份证号", "手机号", "失联日期"]


def _observed(lost_on: Cell) -> tuple[dt.date | None, list[tuple[str, str]]]:
    normaliser = RowNormaliser("bank", map_headers(HEADER, "bank"), 1, SUBMITTED, 500)
    result = normaliser.normalise(2, ["B1", "张三", resident_id(), "13800138000", lost_on])
    assert result.record is not None
    return result.record.observed_on, [(i.field, i.reason) for i in result.issues]


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("2023-11-30", dt.date(2023, 11, 30)),
        ("2023年11月30日", dt.date(2023, 11, 30)),
        (dt.datetime(2022, 1, 2, 9, 30), dt.date(2022, 1, 2)),
        ("20240506", SUBMITTED),  # the submission day itself is not in the future
        (None, SUBMITTED),
        ("", SUBMITTED),
    ],
)
def test_a_valid_lost_on_dates_the_bank_record(cell: Cell, expected: dt.date) -> None:
    assert _observed(cell) == (expected, [])


@pytest.mark.parametrize(
    ("cell", "words"),
    [("2024-05-07", "after the submission date"), ("下个月", "not a date"), ("1900-01-01", "outside")],
)
def test_a_bad_or_future_lost_on_is_a_warning_and_the_submission_date_stands(cell: str, words: str) -> None:
    observed, issues = _observed(cell)
    assert observed == SUBMITTED
    [(field, reason)] = issues
    assert field == "lost_on" and words in reason and "2024-05-06 stands" in reason


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    upgrade_database(db_url)
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def test_lost_on_is_stored_as_the_records_date_and_its_contacts_first_seen(
    engine: sa.Engine, tmp_path: Path
) -> None:
    header = ["reference", "name", "id_number", "phone", "最后联系日期"]
    rows = [
        ["B1", "张三", resident_id(), "13800138000", "2023-03-01"],
        ["B2", "李四", resident_id(sequence="124"), "13900139000", "2999-01-01"],
        ["B3", "王五", resident_id(sequence="126"), "13700137000", ""],
    ]
    receipt = submit_bank_batch(engine, write_csv(tmp_path / "b.csv", [header, *rows]), "bank")
    assert (receipt.accepted, [(i.row, i.field) for i in receipt.warnings]) == (3, [(3, "lost_on")])
    with engine.connect() as connection:
        stored = connection.execute(
            sa.text(
                "SELECT s.reference, s.observed_on, c.first_seen, c.last_seen FROM source_records s "
                "JOIN contacts c ON c.source_record_id = s.id ORDER BY s.reference"
            )
        ).all()
    day = dt.datetime.now(dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=8))).date()
    assert [(r[0], str(r[1]), str(r[2]), str(r[3])) for r in stored] == [
        ("B1", "2023-03-01", "2023-03-01", "2023-03-01"),
        ("B2", str(day), str(day), str(day)),
        ("B3", str(day), str(day), str(day)),
    ]


def test_the_banks_emergency_contact_number_is_kept_as_someone_elses() -> None:
    header = ["客户号", "姓名", "身份证号", "手机号", "紧急联系人电话", "配偶电话"]
    normaliser = RowNormaliser("bank", map_headers(header, "bank"), 1, SUBMITTED, 500)
    cells: list[Cell] = ["B1", "张三", resident_id(), "13800138000", "139 0013 9000", "13800138000"]
    result = normaliser.normalise(2, cells)
    assert result.record is not None and result.issues == []
    phones = {(c.value, c.line_type) for c in result.record.contacts if c.channel == "phone"}
    # The debtor's own number stays theirs even where the bank also wrote it as the spouse's.
    assert phones == {("+8613800138000", "mobile"), ("+8613900139000", "third_party")}
    court = RowNormaliser(
        "court", map_headers(["姓名", "身份证号", "紧急联系人电话"], "court"), 1, SUBMITTED, 500,
        record_key_secret=b"s" * 32,
    )  # fmt: skip
    only = court.normalise(2, ["张三", resident_id(), "13900139000"])
    assert only.record is not None and not any(c.line_type == "third_party" for c in only.record.contacts)


def test_a_banks_misspelt_and_emergency_numbers_are_kept_but_never_link_records(tmp_path: Path) -> None:
    from contactfix.pipeline.records import _contacts

    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    upgrade_database(url)
    engine = make_engine(url)
    header = ["客户号", "姓名", "身份证号", "手机号", "紧急联系人电话"]
    row = ["B1", "张三", resident_id(), "1380013800、13900139000", "13700137000"]
    path = write_csv(tmp_path / "bank.csv", [header, row])
    submit_bank_batch(engine, path, "示例银行")
    with engine.connect() as connection:
        stored = [
            (open_value(value), line_type)
            for value, line_type in connection.execute(
                sa.text("SELECT value, line_type FROM contacts ORDER BY id")
            )
        ]
        [linking] = _contacts(connection, None, None).values()
    assert sorted(stored) == [
        ("+8613700137000", "third_party"), ("+861380013800", "mistyped"), ("+8613900139000", "mobile")
    ]  # fmt: skip
    assert linking == [("phone", "+8613900139000")]
    engine.dispose()
