"""The bank's receipt page shows intake's reasons in Chinese: every phrase intake writes is known."""

from __future__ import annotations

import datetime as dt
import re

from contactfix.intake.headers import map_headers
from contactfix.intake.reasons_zh import reason_zh
from contactfix.intake.rows import RowNormaliser
from contactfix.intake.textrows import UnreadableRow
from tests.intake_support import resident_id

TODAY = dt.date(2026, 12, 1)
BANK = [
    "客户号",
    "姓名",
    "证件类型",
    "证件号码",
    "手机号",
    "出生日期",
    "性别",
    "欠款金额",
    "币种",
    "失联日期",
    "电子邮箱",
]
COURT = ["案号", "当事人", "诉讼地位", "证件号码", "联系电话", "立案日期"]
GOOD_ID = resident_id()
# Words that may stay: names of things, units and examples a Chinese reader sees as they are.
ALLOWED = {"Excel", "JSON", "CNY", "USD"}


def _bank_rows() -> list[list[object]]:
    base: list[object] = ["B1", "张三", "身份证", GOOD_ID, "13800138000", "", "", "", "", "", ""]

    def row(**changes: object) -> list[object]:
        cells = list(base)
        for name, value in changes.items():
            cells[BANK.index(name)] = value
        return cells

    return [
        row(手机号="1380013800"),  # a digit short: kept as misspelt
        row(手机号="12345"),
        row(手机号="电话没有"),
        row(手机号="+1 999 123"),
        row(证件号码=GOOD_ID[:-1] + ("0" if GOOD_ID[-1] != "0" else "1")),
        row(证件号码="3.50103E+17"),
        row(证件号码="35010319900102000"),
        row(证件号码="12345"),
        row(证件类型="护照本"),
        row(出生日期="1991-05-05"),
        row(出生日期="明天"),
        row(出生日期="1850-01-01"),
        row(性别="女"),
        row(性别="未知性别"),
        row(欠款金额="很多"),
        row(欠款金额="-5"),
        row(欠款金额="1e1000000"),
        row(币种="ZZZ"),
        row(失联日期="2030-01-01"),
        row(失联日期="不记得"),
        row(电子邮箱="不是邮箱"),
        row(姓名=""),
        row(客户号=""),
        row(客户号="B9", 证件号码="", 手机号=""),
        [*base, "多余"],
        row(姓名="张" * 600),
    ]


def _court_rows() -> list[list[object]]:
    return [
        ["(2024)不是案号", "李四", "被告", GOOD_ID, "13900139000", "2024-01-01"],
        ["(1800)闽0103民初0号", "李四", "被告", GOOD_ID, "13900139000", "2024-01-01"],
        ["(2024)闽0103民初12号", "李四", "某某人", GOOD_ID, "13900139000", "2030-01-01"],
    ]


def _reasons() -> list[str]:
    bank = RowNormaliser("bank", map_headers(BANK, "bank"), 1, TODAY, 500)
    court = RowNormaliser("court", map_headers(COURT, "court"), 1, TODAY, 500, record_key_secret=b"s" * 32)
    found = [i.reason for n, cells in enumerate(_bank_rows()) for i in bank.normalise(n + 2, cells).issues]
    found += [i.reason for n, cells in enumerate(_court_rows()) for i in court.normalise(n + 2, cells).issues]
    for unreadable in ("a field longer than 131,072 characters", "JSON nested too deeply to read"):
        found += [i.reason for i in bank.normalise(99, UnreadableRow(unreadable)).issues]
    return found


def test_every_reason_intake_writes_reads_in_chinese() -> None:
    reasons = _reasons()
    assert len(reasons) >= 25, reasons  # the rows above do raise that many
    left = {
        reason: zh
        for reason in reasons
        if (zh := reason_zh(reason)) and set(re.findall(r"[A-Za-z]{3,}", zh)) - ALLOWED
    }
    assert not left, left


def test_numbers_and_masked_values_are_carried_over() -> None:
    assert reason_zh("rejected: no name") == "拒收：缺少姓名"
    assert (
        reason_zh("invalid phone 138****0000: not a valid phone number; dropped")
        == "电话号码无效 138****0000：不是有效的电话号码，已舍弃"
    )
    assert (
        reason_zh("12 cells but 10 headers: extra cells ignored")
        == "有 12 个单元格但只有 10 个表头：多余的单元格已忽略"
    )
    assert reason_zh("something new") == "something new"  # unknown: as written, never hidden
