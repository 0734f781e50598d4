"""The reader: formats and encodings detected from the bytes, not-a-table files refused clearly."""

from __future__ import annotations

import codecs
import datetime as dt
import json
import zipfile
from pathlib import Path

import pytest

from contactfix.errors import IntakeError
from contactfix.intake.headers import recognises_header
from contactfix.intake.reader import FileFacts, inspect_file, open_table

LIMIT = 10_000_000


def _rows(facts: FileFacts) -> tuple[list[str], list[tuple[int, list[object]]]]:
    table = open_table(facts, recognises_header)
    rows = list(table)
    return table.headers, rows


def _write(tmp_path: Path, data: bytes, name: str = "batch.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


CSV_TEXT = "客户号,姓名,身份证号,手机号\nB1,张三,110101199003074578,13800138000\nB2,李四,,13900139000\n"


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("gb18030", "gb18030"), ("utf-16", "utf-16")],
)
def test_encodings_are_detected_from_the_bytes(tmp_path: Path, encoding: str, expected: str) -> None:
    path = _write(tmp_path, CSV_TEXT.encode(encoding), "batch.xlsx")  # the extension is ignored
    facts = inspect_file(path, LIMIT)
    assert (facts.format, facts.encoding, facts.delimiter) == ("csv", expected, ",")
    headers, rows = _rows(facts)
    assert headers == ["客户号", "姓名", "身份证号", "手机号"]
    assert rows[0] == (2, ["B1", "张三", "110101199003074578", "13800138000"])
    assert rows[1][0] == 3


def test_bom_is_not_part_of_the_first_header(tmp_path: Path) -> None:
    facts = inspect_file(_write(tmp_path, ("reference,name\nr1,张三\n").encode("utf-8-sig")), LIMIT)
    assert _rows(facts)[0] == ["reference", "name"]


def test_utf8_sample_cut_inside_a_character_is_still_utf8(tmp_path: Path) -> None:
    # The 64 KiB sample ends in the middle of a 3-byte character: it must not look like bad UTF-8.
    line = "r,张三\n"
    body = "reference,name\n" + "x," + "张" * 30000 + "\n" + line * 10
    data = body.encode("utf-8")
    assert len(data) > 65536 and (
        data[:65536].decode("utf-8", errors="ignore") != data[:65536].decode("utf-8", "replace")
    )
    facts = inspect_file(_write(tmp_path, data), LIMIT)
    assert facts.encoding == "utf-8"


def test_gb18030_is_found_even_when_the_first_megabytes_are_ascii(tmp_path: Path) -> None:
    body = "reference,name\n" + "r1,Zhang San\n" * 200_000 + "r2,王五\n"
    facts = inspect_file(_write(tmp_path, body.encode("gb18030")), LIMIT)
    assert facts.encoding == "gb18030"
    _, rows = _rows(facts)
    assert rows[-1][1] == ["r2", "王五"]


def test_latin1_that_is_neither_utf8_nor_gb18030_names_the_offset(tmp_path: Path) -> None:
    data = "reference,name\nr1,José,\n".encode("latin-1")
    with pytest.raises(IntakeError) as caught:
        inspect_file(_write(tmp_path, data), LIMIT)
    message = str(caught.value)
    assert "neither UTF-8" in message and "0xe9" in message and f"offset {data.index(0xE9)}" in message


@pytest.mark.parametrize(
    ("data", "what"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "PNG image"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "PDF document"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "JPEG image"),
        (b"<!DOCTYPE html><html><body><table><tr><td>a</td></tr></table>", "HTML page"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "legacy Office file"),
        (b"\x01\x02\x03\x00\x00\x05binary", "binary data"),
    ],
)
def test_files_that_are_not_tables_are_refused_with_the_cause(tmp_path: Path, data: bytes, what: str) -> None:
    with pytest.raises(IntakeError, match=what):
        inspect_file(_write(tmp_path, data), LIMIT)


def test_a_zip_that_is_not_a_workbook_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "batch.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("word/document.xml", "<w/>")
    with pytest.raises(IntakeError, match="not an XLSX workbook"):
        inspect_file(path, LIMIT)


def test_prose_without_a_delimiter_is_not_a_table(tmp_path: Path) -> None:
    prose = "这是一份说明文件。请联系客户经理 13800138000 获取数据\n第二行说明文字\n"
    with pytest.raises(IntakeError, match="not a table") as caught:
        inspect_file(_write(tmp_path, prose.encode()), LIMIT)
    assert "13800138000" not in str(caught.value)


def test_empty_and_oversized_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(IntakeError, match="empty"):
        inspect_file(_write(tmp_path, b""), LIMIT)
    with pytest.raises(IntakeError, match="blank"):
        inspect_file(_write(tmp_path, b"\n\n  \n", "blank.csv"), LIMIT)
    with pytest.raises(IntakeError, match="larger than the limit"):
        inspect_file(_write(tmp_path, CSV_TEXT.encode(), "big.csv"), 10)


@pytest.mark.parametrize("delimiter", [",", "\t", ";", "|"])
def test_delimiter_is_sniffed(tmp_path: Path, delimiter: str) -> None:
    text = "\n".join(
        delimiter.join(row) for row in [["id", "name", "address"], ["1", "张三", "福州, 台江区"]]
    )
    if delimiter == ",":
        text = 'id,name,address\n1,张三,"福州, 台江区"'
    facts = inspect_file(_write(tmp_path, text.encode()), LIMIT)
    assert facts.delimiter == delimiter
    assert _rows(facts)[1][0][1] == ["1", "张三", "福州, 台江区"]


def test_row_numbers_count_blank_lines_and_title_rows(tmp_path: Path) -> None:
    text = "XX银行失联客户清单\n\n客户号,姓名\nB1,张三\n\nB2,李四\n"
    facts = inspect_file(_write(tmp_path, text.encode()), LIMIT)
    table = open_table(facts, recognises_header)
    assert (table.header_row, table.headers) == (3, ["客户号", "姓名"])
    assert [(n, r) for n, r in table if r] == [(4, ["B1", "张三"]), (6, ["B2", "李四"])]


def test_unbalanced_quote_is_an_intake_error_naming_the_row(tmp_path: Path) -> None:
    text = 'reference,name\nr1,"张三\n' + "r2,李四\n" * 20000
    facts = inspect_file(_write(tmp_path, text.encode()), LIMIT)
    with pytest.raises(IntakeError, match=r"row 2: .*unbalanced quote"):
        _rows(facts)


def test_json_lines_grow_their_header(tmp_path: Path) -> None:
    lines = [
        {"reference": "r1", "name": "张三"},
        {},
        {"name": "李四", "phone": ["13800138000", "13900139000"]},
    ]
    text = "\n".join(json.dumps(obj, ensure_ascii=False) if obj else "" for obj in lines) + "\n"
    facts = inspect_file(_write(tmp_path, text.encode()), LIMIT)
    assert facts.format == "jsonl"
    table = open_table(facts, recognises_header)
    rows = list(table)
    assert table.headers == ["reference", "name", "phone"]
    assert rows == [(1, ["r1", "张三"]), (3, [None, "李四", "13800138000;13900139000"])]


def test_json_lines_with_a_broken_line_name_it(tmp_path: Path) -> None:
    facts = inspect_file(_write(tmp_path, b'{"name": "a"}\n{"name": \n'), LIMIT)
    with pytest.raises(IntakeError, match="line 2: not valid JSON"):
        list(open_table(facts, recognises_header))


def test_xlsx_first_sheet_with_a_header_typed_cells(tmp_path: Path) -> None:
    import openpyxl

    workbook = openpyxl.Workbook()
    notes = workbook.active
    assert notes is not None
    notes.title = "说明"
    notes.append(["本表为失联客户名单"])
    sheet = workbook.create_sheet("名单")
    sheet.append(["XX银行"])
    sheet.append(["客户号", "姓名", "身份证号", "出生日期", "欠款金额(元)"])
    sheet.append(["B1", "张三", 3.50103199001021e17, dt.datetime(1990, 1, 2), 12345.6])
    path = tmp_path / "batch.bin"
    workbook.save(path)
    facts = inspect_file(path, LIMIT)
    assert facts.format == "xlsx" and facts.encoding is None
    table = open_table(facts, recognises_header)
    assert table.header_row == 2
    assert list(table) == [(3, ["B1", "张三", 3.50103199001021e17, dt.datetime(1990, 1, 2), 12345.6])]


def test_damaged_xlsx_is_an_intake_error(tmp_path: Path) -> None:
    path = tmp_path / "batch.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("xl/workbook.xml", "<not really a workbook")
    facts = inspect_file(path, LIMIT)
    with pytest.raises(IntakeError, match="XLSX"):
        list(open_table(facts, recognises_header))


def test_sha256_is_of_the_bytes(tmp_path: Path) -> None:
    import hashlib

    data = CSV_TEXT.encode("gb18030")
    facts = inspect_file(_write(tmp_path, data), LIMIT)
    assert facts.sha256 == hashlib.sha256(data).hexdigest()
    assert codecs.BOM_UTF8 not in data


def test_a_phone_number_in_the_file_name_is_masked_in_errors(tmp_path: Path) -> None:
    with pytest.raises(IntakeError) as caught:
        inspect_file(_write(tmp_path, b"", "张三13800138000.csv"), LIMIT)
    assert "13800138000" not in str(caught.value) and "138" in str(caught.value)
