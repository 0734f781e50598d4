"""Fuzzing the file readers (hypothesis): any bytes in, rows or an IntakeError out.

Random bytes, random tables written as CSV (in UTF-8, GB18030, UTF-16, with any delimiter), XLSX and
JSON lines: reading never raises anything but :class:`IntakeError`, and a table that was written
correctly reads back cell for cell.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contactfix.errors import IntakeError
from contactfix.intake.headers import recognises_header
from contactfix.intake.linkfiles import read_link_table
from contactfix.intake.reader import RawRow, UnreadableRow, inspect_file, open_table
from matchers.errors import MatchersError

LIMIT = 10_000_000
HEADER = ["客户号", "姓名", "手机号", "地址"]
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Cell text: anything printable, quotes, commas and line breaks included; not the other delimiters
# (the sniffer may rightly take them for the delimiter), NUL (binary) or "=" (a formula in XLSX).
cell_text = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs", "Cc"), blacklist_characters="\t;|=\ufeff", whitelist_characters='\n",\r '
    ),
    max_size=30,
)
table_rows = st.lists(st.lists(cell_text, min_size=4, max_size=4), max_size=15)


def _read(path: Path) -> list[RawRow]:
    return list(open_table(inspect_file(path, LIMIT), recognises_header))


_FOLDER = tempfile.TemporaryDirectory(prefix="fuzz-readers-")  # one file, rewritten by each example


def _file(data: bytes, name: str = "in.csv") -> Path:
    path = Path(_FOLDER.name) / name
    path.write_bytes(data)
    return path


@FUZZ
@given(
    data=st.one_of(
        st.binary(max_size=400), st.binary(max_size=40).map(lambda b: "姓名,客户号\n".encode() + b)
    )
)
def test_any_bytes_are_rows_or_an_intake_error(data: bytes) -> None:
    try:
        rows = _read(_file(data))
    except IntakeError:
        return
    assert all(isinstance(cells, list) for _, cells in rows)


@FUZZ
@given(
    data=st.binary(max_size=300), prefix=st.sampled_from([b"PK\x03\x04", b"{", b'{"name": ', b"\xef\xbb\xbf"])
)
def test_bytes_that_look_like_a_workbook_or_json_are_rows_or_an_intake_error(
    data: bytes, prefix: bytes
) -> None:
    with contextlib.suppress(IntakeError):
        _read(_file(prefix + data))


def _non_blank(rows: list[list[str]]) -> list[list[str]]:
    return [row for row in rows if any(cell.strip() for cell in row)]


@FUZZ
@given(rows=table_rows, encoding=st.sampled_from(["utf-8", "utf-8-sig", "gb18030", "utf-16"]))
def test_a_csv_table_reads_back_cell_for_cell(rows: list[list[str]], encoding: str) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows([HEADER, *rows])
    read = _read(_file(buffer.getvalue().encode(encoding)))
    got = [cells for _, cells in read if any(str(c).strip() for c in cells if c is not None)]
    assert got == _non_blank(rows)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=table_rows)
def test_an_xlsx_table_reads_back_cell_for_cell(rows: list[list[str]]) -> None:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in [HEADER, *rows]:
        sheet.append([cell.replace("\r", "") or None for cell in row])
    path = _file(b"", "in.xlsx")
    workbook.save(path)
    got = [_trimmed([str(c or "") for c in cells]) for _, cells in _read(path)]
    expected = [_trimmed([cell.replace("\r", "") for cell in row]) for row in rows]
    assert [row for row in got if row] == [row for row in expected if row]


def _trimmed(row: list[str]) -> list[str]:
    """The row without its trailing empty cells (a sheet does not store them)."""
    while row and not row[-1]:
        row.pop()
    return row


json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | cell_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(cell_text, inner, max_size=3),
    max_leaves=8,
)


@FUZZ
@given(
    objects=st.lists(
        st.dictionaries(st.sampled_from([*HEADER, "x", "备注"]), json_value, max_size=5), max_size=8
    )
)
def test_json_lines_are_rows_or_an_intake_error(objects: list[dict[str, object]]) -> None:
    text = "".join(json.dumps(obj, ensure_ascii=False) + "\n" for obj in objects)
    if not text.strip():
        return
    try:
        rows = _read(_file(text.encode()))
    except IntakeError:
        return
    assert len(rows) == sum(1 for obj in objects if obj is not None)


@FUZZ
@given(data=st.binary(max_size=80), deep=st.integers(1, 5000), digits=st.integers(1, 6000))
def test_json_lines_with_deep_nesting_or_long_numbers_cost_one_row(
    data: bytes, deep: int, digits: int
) -> None:
    lines = [
        '{"姓名": "张三", "客户号": "A1"}',
        '{"姓名": "李四", "客户号": ' + "[" * deep + "]" * deep + "}",
        '{"姓名": "王五", "客户号": ' + "7" * digits + "}",
        '{"姓名": "赵六", "客户号": "A4"}',
    ]
    rows = _read(_file(("\n".join(lines) + "\n").encode()))
    assert [n for n, _ in rows] == [1, 2, 3, 4]
    assert sum(type(cells) is UnreadableRow for _, cells in rows) <= 1


@FUZZ
@given(rows=table_rows, extra=st.lists(cell_text, max_size=3))
def test_link_reads_any_table_or_says_why(rows: list[list[str]], extra: list[str]) -> None:
    buffer = io.StringIO()
    csv.writer(buffer).writerows([["id", "name", "phone", "address", *extra], *rows])
    warnings: list[str] = []
    try:
        table = read_link_table(_file(buffer.getvalue().encode()), warnings)
    except (IntakeError, MatchersError):
        return
    assert len(table) == len(_non_blank(rows))
