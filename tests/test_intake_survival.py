"""Inputs that once crashed intake or lost a whole batch: each now costs one row at most (issue 14).

An amount of 1e1000000, a JSON line with a 5,000-digit integer or 3,000 nested arrays, and a CSV
field over the reader's limit each used to end in a traceback or reject the file; now the row keeps
its other fields or is rejected on its own, and every other row is taken in.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from intake_support import UNMASKED, resident_id, write_csv

from contactfix.db.engine import make_engine
from contactfix.db.migrate import upgrade_database
from contactfix.errors import IntakeError
from contactfix.intake.headers import canonical_field, map_headers, recognises_header
from contactfix.intake.reader import UnreadableRow, inspect_file, open_table
from contactfix.intake.rows import RowNormaliser
from contactfix.intake.service import submit_bank_batch
from contactfix.intake.values import BadValue, parse_amount

LIMIT = 10_000_000
HEADER = ["客户号", "姓名", "身份证号", "手机号", "住址", "欠款金额(元)"]
TODAY = dt.date(2024, 5, 6)


def _good_rows(count: int, start: int = 0) -> list[list[str]]:
    return [[f"R{i}", f"客户{i}", "", f"1380013{i:04d}", "福州", "100"] for i in range(start, start + count)]


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[sa.Engine]:
    upgrade_database(sqlite_url)
    engine = make_engine(sqlite_url)
    yield engine
    engine.dispose()


def _count(engine: sa.Engine, sql: str) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sa.text(sql)).scalar_one())


@pytest.mark.parametrize(
    "text",
    [
        "1e1000000",
        "1E+999999999",
        "-1e1000000",
        "1e1000000万",
        "9e999999亿",
        "1e-1000000",
        "sNaN",
        "Infinity",
    ],
)
def test_an_absurd_amount_is_a_bad_value_not_an_arithmetic_error(text: str) -> None:
    try:
        value, _ = parse_amount(text)
    except BadValue as exc:
        assert text not in str(exc)
    else:
        assert value == 0  # 1e-1000000 rounds to 0.00


def test_an_amount_of_1e1000000_drops_the_amount_and_keeps_the_row(
    sqlite_engine: sa.Engine, tmp_path: Path
) -> None:
    rows = [*_good_rows(4), ["R9", "张三", resident_id(), "", "", "1e1000000"], *_good_rows(5, 4)]
    receipt = submit_bank_batch(sqlite_engine, write_csv(tmp_path / "b.csv", [HEADER, *rows]), "bank")
    assert (receipt.rows, receipt.accepted, receipt.rejected) == (10, 10, 0)
    assert [(i.row, i.field, i.severity) for i in receipt.warnings] == [(6, "amount", "warning")]


def test_a_json_line_with_a_5000_digit_integer_keeps_the_other_rows(
    sqlite_engine: sa.Engine, tmp_path: Path
) -> None:
    lines = [{"客户号": f"J{i}", "姓名": f"客户{i}", "手机号": f"1390013{i:04d}"} for i in range(9)]
    big = '{"客户号": "J9", "姓名": "李四", "手机号": "13900139999", "欠款金额": ' + "9" * 5000 + "}"
    text = (
        "\n".join(
            [
                *(json.dumps(o, ensure_ascii=False) for o in lines[:4]),
                big,
                *(json.dumps(o, ensure_ascii=False) for o in lines[4:]),
            ]
        )
        + "\n"
    )
    path = tmp_path / "b.jsonl"
    path.write_text(text, encoding="utf-8")
    receipt = submit_bank_batch(sqlite_engine, path, "bank")
    assert (receipt.rows, receipt.accepted, receipt.rejected) == (10, 10, 0)
    assert [(i.row, i.field) for i in receipt.warnings] == [(5, "amount")]


def test_a_json_line_of_3000_nested_arrays_is_rejected_alone(
    sqlite_engine: sa.Engine, tmp_path: Path
) -> None:
    lines = [
        json.dumps({"客户号": f"J{i}", "姓名": f"客户{i}", "手机号": f"1390013{i:04d}"}) for i in range(9)
    ]
    deep = '{"客户号": "J9", "姓名": "李四", "手机号": ' + "[" * 3000 + "]" * 3000 + "}"
    path = tmp_path / "b.jsonl"
    path.write_text("\n".join([*lines[:4], deep, *lines[4:]]) + "\n", encoding="utf-8")
    receipt = submit_bank_batch(sqlite_engine, path, "bank")
    assert (receipt.rows, receipt.accepted, receipt.rejected) == (10, 9, 1)
    [issue] = receipt.warnings
    assert (issue.row, issue.severity) == (5, "rejected") and "nested" in issue.reason


def test_a_csv_field_over_the_limit_rejects_its_row_only(sqlite_engine: sa.Engine, tmp_path: Path) -> None:
    long_row = ["R9", "张三", "", "13800138000", "福" * 131_073, "100"]
    rows = [*_good_rows(4), long_row, *_good_rows(5, 4)]
    receipt = submit_bank_batch(sqlite_engine, write_csv(tmp_path / "b.csv", [HEADER, *rows]), "bank")
    assert (receipt.rows, receipt.accepted, receipt.rejected) == (10, 9, 1)
    [issue] = receipt.warnings
    assert (issue.row, issue.severity) == (6, "rejected") and "131,072" in issue.reason
    assert _count(sqlite_engine, "SELECT count(*) FROM debtors") == 9


def test_a_quoted_field_over_the_limit_across_lines_rejects_its_row_only(tmp_path: Path) -> None:
    multi = "R9,张三,," + '"' + ("福州\n" * 50_000) + '",100\n'
    good = "".join(f"R{i},客户{i},,1380013{i:04d},福州,100\n" for i in range(5))
    path = tmp_path / "b.csv"
    path.write_text(",".join(HEADER) + "\n" + good + multi + good, encoding="utf-8")
    table = open_table(inspect_file(path, LIMIT), recognises_header)
    rows = list(table)
    assert [n for n, _ in rows] == list(range(2, 13))
    assert isinstance(rows[5][1], UnreadableRow) and rows[6][1][:2] == ["R0", "客户0"]


def test_a_physical_line_of_megabytes_is_rejected_in_bounded_memory(tmp_path: Path) -> None:
    good = "".join(f"R{i},客户{i},,1380013{i:04d},福州,100\n" for i in range(3))
    path = tmp_path / "b.csv"
    path.write_text(
        ",".join(HEADER) + "\n" + good + ",".join(["x" * 100_000] * 40) + "\n" + good, encoding="utf-8"
    )
    rows = list(open_table(inspect_file(path, LIMIT), recognises_header))
    assert [type(cells) is UnreadableRow for _, cells in rows] == [False] * 3 + [True] + [False] * 3


def test_an_unbalanced_quote_that_runs_to_the_end_still_names_its_row(tmp_path: Path) -> None:
    text = '客户号,姓名\nr1,张三\nr2,"李四\n' + "r3,王五\n" * 30_000
    path = tmp_path / "b.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(IntakeError, match=r"row 3: .*unbalanced quote"):
        list(open_table(inspect_file(path, LIMIT), recognises_header))


def test_an_unreadable_row_is_a_rejection_without_the_value() -> None:
    normaliser = RowNormaliser("bank", map_headers(HEADER, "bank"), 1, TODAY, 500)
    result = normaliser.normalise(7, UnreadableRow("a field longer than 131,072 characters"))
    assert result.record is None
    assert [(i.row, i.field, i.severity) for i in result.issues] == [(7, "row", "rejected")]


def test_reasons_never_quote_python_error_text_with_the_value(
    sqlite_engine: sa.Engine, tmp_path: Path
) -> None:
    phone = "13800138000"
    rows = [
        ["R1", "张三", f"{phone}{phone}", f"{phone}x{phone}", "", f"{phone}元元"],
        ["R2", "李四", "", phone, "", f"1e{phone}"],
    ]
    receipt = submit_bank_batch(sqlite_engine, write_csv(tmp_path / "b.csv", [HEADER, *rows]), "bank")
    assert receipt.warnings and not UNMASKED.search(receipt.to_json())


def test_lost_on_headers_are_known_to_bank_batches_only() -> None:
    assert canonical_field("失联日期", "bank") == "lost_on"
    assert canonical_field("最后联系日期", "bank") == "lost_on"
    assert canonical_field("lost_on", "bank") == "lost_on"
    assert canonical_field("失联日期", "court") is None


def _patched_xlsx(path: Path, old: bytes, new: bytes) -> Path:
    """A workbook of HEADER and two rows, its first sheet's XML with ``old`` replaced by ``new``."""
    import zipfile

    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in [
        HEADER,
        ["A1", "张三", "", "13800138000", "", 100],
        ["A2", "李四", "", "13900139000", "", 123456789],
    ]:
        sheet.append(row)
    plain = path.with_suffix(".plain.xlsx")
    workbook.save(plain)
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(path, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(old, new)
            target.writestr(item, data)
    return path


@pytest.mark.parametrize(
    ("old", "new"),
    [(b"<v>123456789</v>", b"<v>" + b"9" * 5000 + b"</v>"), (b"</sheetData>", b"")],
    ids=["5000-digit number", "truncated XML"],
)
def test_an_xlsx_cell_openpyxl_cannot_read_is_an_intake_error_naming_the_row(
    tmp_path: Path, old: bytes, new: bytes
) -> None:
    path = _patched_xlsx(tmp_path / "b.xlsx", old, new)
    with pytest.raises(IntakeError, match=r"cannot be read past row \d"):
        list(open_table(inspect_file(path, LIMIT), recognises_header))
