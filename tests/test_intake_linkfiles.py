"""The files ``contactfix link`` reads: headers as intake knows them, both reading paths alike."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from contactfix.errors import IntakeError
from contactfix.intake import linkfiles
from contactfix.intake.linkfiles import MAX_VALUE_LENGTH, link_column, read_link_table
from matchers.columns import strings
from matchers.normalize import RawTable


@pytest.mark.parametrize(
    ("header", "column"),
    [
        ("id", "id"), ("ID", "id"), ("客户号", "id"),
        ("Given Name", "given_name"), ("family_name", "family_name"),
        ("姓名", "name"), ("身份证号码", "id_number"), ("手机号", "phone"), ("户籍地址", "address"),
        ("出生日期", "birth_date"), ("性别", "gender"), ("邮编", "postcode"), ("城市", "city"),
        ("省份", "region"), ("电子邮箱", "email"), ("案号", None), ("欠款金额(元)", None), ("备注", None),
    ],
)  # fmt: skip
def test_headers_are_read_as_intake_reads_them(header: str, column: str | None) -> None:
    assert link_column(header) == column


ROWS = [
    ["客户号", "编号", "姓名", "身份证号码", "手机号", "户籍地址", "欠款金额(元)"],
    ["C1", "x1", "王伟", "350103199001021234", "13912345678", "福建省福州市", "100"],
    ["C2", "x2", "李娜", "", "13912345679", "福" * (MAX_VALUE_LENGTH + 1), "200"],
    ["", "", "", "", "", "", ""],
    ["C3", "x3", "张三", "", "", "", ""],
]


def _as_dict(table: RawTable) -> dict[str, list[str | None]]:
    return {"id": list(table.ids)} | {name: strings(column) for name, column in table.columns.items()}


def test_the_arrow_path_and_the_general_path_read_the_same_table(tmp_path: Path) -> None:
    path = tmp_path / "bank.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(ROWS)
    general: list[str] = []
    by_arrow: list[str] = []
    arrow_table = linkfiles._read_with_arrow(path, "bank.csv", by_arrow)
    assert arrow_table is not None
    table = read_link_table(path, general)
    assert _as_dict(arrow_table) == _as_dict(table)
    assert _as_dict(table) == {
        "id": ["C1", "C2", "C3"],
        "name": ["王伟", "李娜", "张三"],
        "id_number": ["350103199001021234", None, None],
        "phone": ["13912345678", "13912345679", None],
        "address": ["福建省福州市", None, None],
    }
    assert (
        general
        == by_arrow
        == [
            f"bank.csv: 1 value(s) in column 'address' longer than {MAX_VALUE_LENGTH:,} characters;"
            " left blank"
        ]
    )


def test_xlsx_and_json_lines_are_read_too(tmp_path: Path) -> None:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in ROWS:
        sheet.append([cell or None for cell in row])
    workbook.save(tmp_path / "bank.xlsx")
    lines = [{h: v for h, v in zip(ROWS[0], row, strict=True) if v} for row in ROWS[1:]]
    (tmp_path / "bank.jsonl").write_text(
        "\n".join(json.dumps(line, ensure_ascii=False) for line in lines), encoding="utf-8"
    )
    for name in ("bank.xlsx", "bank.jsonl"):
        table = read_link_table(tmp_path / name, [])
        assert list(table.ids) == ["C1", "C2", "C3"], name
        assert strings(table.columns["phone"]) == ["13912345678", "13912345679", None], name


def test_a_column_spelled_id_wins_over_an_alias_of_it(tmp_path: Path) -> None:
    path = tmp_path / "two.csv"
    path.write_text("客户号,id,name\nA,1,王伟\nB,2,李娜\n", encoding="utf-8")
    assert list(read_link_table(path, []).ids) == ["1", "2"]


def test_a_file_without_an_id_column_says_so_with_its_headers_masked(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("王伟,13912345678\n李娜,13912345679\n", encoding="utf-8")
    with pytest.raises(IntakeError, match=r"no 'id' column .*'139\*{6}78'"):
        read_link_table(path, [])
