"""Court case numbers (案号) as the Supreme People's Court has styled them since 2016.

（2024）闽0103民初1234号 is: the year the case was filed, the court's code (province abbreviation and
up to four digits, 最高法 for the Supreme People's Court, 兵 for the Xinjiang Production and
Construction Corps' courts,
军 for the military courts), the case type (民初, 执, 执恢 …), the sequence number, and optionally
之一/之二 for a related decision.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from matchers.errors import InvalidCaseNumber
from matchers.text import to_halfwidth

__all__ = ["PROVINCE_ABBREVIATIONS", "CaseNumber", "is_case_number", "parse_case_number"]

# Court codes follow the Supreme People's Court's 案号 rules, which differ from the common province
# abbreviations in two places: Inner Mongolia is 内 (not 蒙) and Guizhou is 黔 (not 贵).
PROVINCE_ABBREVIATIONS = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋内陕吉闽黔粤青藏川宁琼"
_FIRST_YEAR = 1949

_OPEN = "(（〔[【［〈"
_CLOSE = ")）〕]】］〉"
_CASE = re.compile(
    rf"[{re.escape(_OPEN)}]?(?P<year>[0-9]{{4}})[{re.escape(_CLOSE)}]?"
    rf"(?P<court>最高法|[{PROVINCE_ABBREVIATIONS}兵军][0-9]{{0,4}})"
    r"(?P<type>[\u4e00-\u9fff]{1,8}?)"
    r"(?:字)?(?:第)?(?P<sequence>[0-9]+)号?"
    r"(?P<suffix>之[一二三四五六七八九十]+)?"
)
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class CaseNumber:
    """A parsed case number; ``canonical`` is its standard spelling, e.g. '（2024）闽0103民初1234号'."""

    year: int
    court_code: str
    case_type: str
    sequence: int
    canonical: str
    suffix: str = ""


def parse_case_number(raw: str) -> CaseNumber:
    """Parse a court case number and return its parts and canonical spelling.

    Accepts （）()〔〕[]【】 (or none) around the year, full-width digits, spaces anywhere, an optional
    trailing 号 and a 之一/之二… suffix (kept in ``suffix`` and in ``canonical``). The pre-2016 words 字 and
    第 before the sequence are dropped. Raises InvalidCaseNumber if the shape, the court code or the
    year (1949 to next year) is wrong.
    """
    text = _SPACES.sub("", to_halfwidth(raw))
    match = _CASE.fullmatch(text)
    if match is None:
        raise InvalidCaseNumber(
            "expected （year）court code, case type and sequence, as in （2024）闽0103民初1234号"
        )
    year = int(match["year"])
    if not _FIRST_YEAR <= year <= dt.date.today().year + 1:
        raise InvalidCaseNumber("year is out of range")
    sequence = int(match["sequence"])
    if sequence == 0:
        raise InvalidCaseNumber("sequence number must be positive")
    court, case_type, suffix = match["court"], match["type"], match["suffix"] or ""
    canonical = f"（{year}）{court}{case_type}{sequence}号{suffix}"
    return CaseNumber(year, court, case_type, sequence, canonical, suffix)


def is_case_number(raw: str) -> bool:
    """True if :func:`parse_case_number` accepts ``raw``."""
    try:
        parse_case_number(raw)
    except InvalidCaseNumber:
        return False
    return True
