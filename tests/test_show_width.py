"""`contactfix show` on an 80-column terminal: every line fits, and nothing people copy is cut or split.

The view here is built by hand with the longest values the screen must carry: a 6-digit case sequence,
a bank's branch name, a company debtor, two flags, five sources, an address without spaces.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table

from contactfix.cli.commands_show import DebtorView, LinkedRecord, RankedRow, print_view
from contactfix.cli.tables import compact_table, fit_columns

CASE = "（2025）京0105民初123456号"
LOAN = "LN2024000123456789"
BANK = "中国工商银行股份有限公司福州鼓楼支行"
COMPANY = "福州市鼓楼区某某贸易有限责任公司"
CODE = "91350100M000100Y43"
MASKED_ID = "350103********1234"
PHONE = "+86 139****0002"
ADDRESS = "福建省福州市鼓楼区五四路1号福建省福州市鼓楼区五四路1号"
SOURCES = "; ".join([*(f"court {CASE} 2025-0{i}-01" for i in range(1, 5)), f"bank {LOAN} 2026-01-01"])


def long_view() -> DebtorView:
    records = [
        LinkedRecord(1234567, "bank", BANK, LOAN, None, dt.date(2026, 1, 1), COMPANY, CODE, 1.0, True,
                     "the debtor's own record"),
        LinkedRecord(7654321, "court", "court-export", CASE, "第三人", dt.date(2025, 1, 1), "欧阳小明",
                     MASKED_ID, 0.9993, False, "linked to the debtor's record, p=0.9993: id_number +9.5"),
    ]  # fmt: skip
    contacts = [
        RankedRow("phone", 1, PHONE, 0.9702, ["shared", "wrong_number"], dt.date(2025, 4, 1), SOURCES),
        RankedRow("phone", 2, "+86 138****0001", 0.0, ["bank_had"], None, f"bank {LOAN} 2026-01-01"),
        RankedRow("address", 1, ADDRESS, 0.5, [], None, SOURCES),
    ]  # fmt: skip
    return DebtorView(LOAN, BANK, "repaired", COMPANY, CODE, Decimal("1234567.89"), "CNY", 42, ["large"],
                      records, contacts)  # fmt: skip


def rendered(view: DebtorView, width: int) -> list[str]:
    console = Console(width=width, record=True, color_system=None, file=open("/dev/null", "w"))  # noqa: SIM115
    print_view(console, view)
    console.file.close()
    return console.export_text().splitlines()


@pytest.mark.parametrize("width", [80, 120])
def test_every_line_fits_and_nothing_is_cut(width: int) -> None:
    lines = rendered(long_view(), width)
    assert all(cell_len(line) <= width for line in lines), max(lines, key=cell_len)
    text = "\n".join(lines)
    assert "…" not in text
    # Each case number, reference, code, masked ID and phone is whole on one line.
    assert sum(line.count(CASE) for line in lines) == 1 + 4 + 4  # the record, then four sources twice
    assert sum(line.count(LOAN) for line in lines) >= 4
    for value in (CODE, MASKED_ID, PHONE, "+86 138****0001", "0.9993", "0.9702", "7654321", "wrong_number"):
        assert value in text, value


def test_an_80_column_screen_keeps_the_ranked_phones_on_the_left() -> None:
    lines = rendered(long_view(), 80)
    [row] = [line for line in lines if PHONE in line]
    assert row.split() == ["1", "+86", "139****0002", "0.9702", "shared", "court"]


def test_fit_columns_narrows_the_wrapping_column_down_to_its_longest_word_only() -> None:
    table = compact_table("t")
    table.add_column("a", no_wrap=True)
    table.add_column("b")
    table.add_row("x" * 30, f"{CASE} " * 4)
    assert fit_columns(Console(width=60), table) == 60  # 31 + 1 + 28: padding and the divider count
    assert table.columns[0].width == 30 and table.columns[1].width == cell_len(CASE) + 1
    table.columns[1].width = None
    assert fit_columns(Console(width=50), table) == 59  # too narrow even for one case number: wider
    assert table.columns[0].width == 30 and table.columns[1].width == cell_len(CASE)


def test_fit_columns_leaves_a_table_that_fits_as_it_is() -> None:
    table = Table("a", "b")
    table.add_row("short", "also short")
    fit_columns(Console(width=80), table)
    assert [c.width for c in table.columns] == [5, 10]
