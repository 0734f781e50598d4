"""A receipt's reasons in Chinese, for the bank's pages.

Intake writes its reasons in English (the CLI, the issues CSV and the API keep them so: scripts read
them). A bank analyst reads the receipt page in Chinese, so the page shows each reason phrase by
phrase through the table below: every phrase intake and the identifier parsers write, with the
numbers in it carried over. A phrase the table does not know stays as written, so nothing is hidden
(a test lists every phrase intake can write and checks that none is left in English).
"""

from __future__ import annotations

import re

__all__ = ["reason_zh"]

# (pattern, replacement), longest phrases first where one contains another.
_PHRASES: tuple[tuple[str, str], ...] = (
    (r"^rejected: ", "拒收："),
    # The row as a whole.
    (r"a name without an ID number, phone or birth date", "只有姓名，没有证件号码、电话或出生日期"),
    (r"no reference \(the bank's key for the debtor\)", "缺少客户号（银行识别债务人的编号）"),
    (r"no name$", "缺少姓名"),
    (
        r"(\d+) cells but (\d+) headers: extra cells ignored",
        r"有 \1 个单元格但只有 \2 个表头：多余的单元格已忽略",
    ),
    (r"a line longer than ([\d,]+) characters", r"一行超过 \1 个字符"),
    (r"a field longer than ([\d,]+) characters", r"一个字段超过 \1 个字符"),
    (r"JSON nested too deeply to read", "JSON 嵌套过深，无法读取"),
    (r"longer than (\d+) characters \((\d+)\)", r"超过 \1 个字符（\2）"),
    # Identifiers.
    (r"invalid unified social credit code ", "统一社会信用代码无效 "),
    (r"invalid ID number ", "证件号码无效 "),
    (r"invalid phone ", "电话号码无效 "),
    (
        r"stored as a number by Excel, digits beyond the 15th are lost \(e\.g\. 3\.50103E\+17\): "
        r"format the column as text and export again",
        "被 Excel 存成了数字，第 15 位以后的数字已丢失（如 3.50103E+17）：请把该列设为文本后重新导出",
    ),
    (
        r" \(ends in 000: Excel may have cut the digits beyond the 15th\)",
        "（末三位为 000：Excel 可能截去了第 15 位以后的数字）",
    ),
    (
        r"kept as a misspelt number the debtor was lost on, never dialled",
        "作为失联时登记的错号保留，不会拨打",
    ),
    (r"check digit does not match", "校验码不符"),
    (r"check character does not match", "校验位不符"),
    (r"expected 15 or 18 characters, got (\d+)", r"应为 15 或 18 位，实为 \1 位"),
    (r"expected 18 characters in a masked ID, got (\d+)", r"脱敏证件号应为 18 位，实为 \1 位"),
    (r"expected 18 characters, got (\d+)", r"应为 18 位，实为 \1 位"),
    (r"expected 15 digits, got (\d+) characters", r"应为 15 位数字，实为 \1 位"),
    (r"expected digits with an optional final X", "应为数字，末位可为 X"),
    (
        r"a masked ID must be digits, one run of '\*' and an optional final X",
        "脱敏证件号应为数字、一段 * 号，末位可为 X",
    ),
    (r"a masked ID shows no characters", "脱敏证件号没有显示任何字符"),
    (r"birth date is not a valid date", "出生日期无效"),
    (r"birth date is in the future", "出生日期在未来"),
    (r"birth date is before 1900", "出生日期早于 1900 年"),
    (r"contains a character outside the credit code charset", "含有信用代码字符集以外的字符"),
    (r"contains a character not allowed at its position", "含有该位置不允许的字符"),
    (r"unknown registration authority code", "登记管理部门代码未知"),
    (r"contains characters other than digits", "含有数字以外的字符"),
    (r"too few digits for a phone number", "位数太少，不是电话号码"),
    (r"cannot be parsed as a phone number", "无法识别为电话号码"),
    (r"not a valid phone number", "不是有效的电话号码"),
    (r"unknown ID type, ignored", "证件类型未知，已忽略"),
    (
        r"contradicts the birth date in the ID number; the ID's is kept",
        "与证件号码中的出生日期不符，以证件号码为准",
    ),
    (r"contradicts the gender in the ID number; the ID's is kept", "与证件号码中的性别不符，以证件号码为准"),
    (r"not an e-mail address", "不是电子邮箱地址"),
    # Cases and roles.
    (r"case number does not parse \((.*)\); kept as written", r"案号无法解析（\1）；按原文保留"),
    (
        r"expected （year）court code, case type and sequence, as in ",
        "应为（年份）法院代字、案件类型和序号，如 ",
    ),
    (r"year is out of range", "年份超出范围"),
    (r"sequence number must be positive", "序号必须为正数"),
    (r"unknown role, kept as written", "诉讼地位未知，按原文保留"),
    # Dates, amounts, currencies, genders.
    (r"after the submission date", "晚于提交日期"),
    (r"the submission date (\S+) stands", r"以提交日期 \1 为准"),
    (r"date outside (\d+)–(\d+)", r"日期不在 \1–\2 年之间"),
    # The example's digits may come masked (error_text masks every long digit run).
    (r"not a date \(expected e\.g\. [\d*-]+\)", "不是日期（应如 1990-01-02）"),
    (r"not an amount \(expected e\.g\. 12,345\.60 or 1\.2万\)", "不是金额（应如 12,345.60 或 1.2万）"),
    (r"not an amount", "不是金额"),
    (r"negative amount", "金额为负"),
    (r"amount too large", "金额过大"),
    (r"unknown currency", "币种未知"),
    (r", ([A-Z]{3}) assumed", r"，按 \1 处理"),
    (r"not a gender \(expected 男/女, M/F or 1/2\)", "不是性别（应为 男/女、M/F 或 1/2）"),
    (r"^empty", "为空"),
    # How a phrase ends.
    (r"[;,] dropped$", "，已舍弃"),
    (r"; ", "；"),
    (r": ", "："),
)
_COMPILED = tuple((re.compile(pattern), replacement) for pattern, replacement in _PHRASES)


def reason_zh(reason: str) -> str:
    """``reason`` (as intake wrote it) in Chinese, phrase by phrase; unknown phrases as written."""
    for pattern, replacement in _COMPILED:
        reason = pattern.sub(replacement, reason)
    return reason
