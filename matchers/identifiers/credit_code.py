"""Unified social credit codes (统一社会信用代码, GB 32100-2015) of companies and other organisations.

18 characters: registration authority (1), organisation type (1), the registering office's 6-digit
division code, the 9-character organisation code (主体标识码), and a check character.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from matchers.errors import InvalidCreditCode
from matchers.text import HALFWIDTH_TABLE

__all__ = ["CreditCode", "credit_check_char", "is_credit_code", "parse_credit_code"]

_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I, O, Z, S, V: they read like 1, 0, 2, 5, U
_VALUES = {c: i for i, c in enumerate(_CHARSET)}
_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

_AUTHORITIES = {
    "1": "机构编制",
    "2": "外交",
    "3": "司法行政",
    "4": "文化",
    "5": "民政",
    "6": "旅游",
    "7": "宗教",
    "8": "工会",
    "9": "市场监管(工商)",
    "A": "中央军委改革和编制办公室",
    "N": "农业",
    "Y": "其他",
}
# Organisation types are defined per authority; only the common ones are named here.
_ORG_TYPES = {
    ("1", "1"): "机关",
    ("1", "2"): "事业单位",
    ("1", "3"): "中央编办直接管理机构编制的群众团体",
    ("1", "9"): "其他",
    ("5", "1"): "社会团体",
    ("5", "2"): "民办非企业单位",
    ("5", "3"): "基金会",
    ("5", "9"): "其他",
    ("9", "1"): "企业",
    ("9", "2"): "个体工商户",
    ("9", "3"): "农民专业合作社",
    ("N", "1"): "组级集体经济组织",
    ("N", "2"): "村级集体经济组织",
    ("N", "3"): "乡镇级集体经济组织",
    ("N", "9"): "其他",
    ("Y", "1"): "其他",
}

_CANON: dict[int, int | None] = dict(HALFWIDTH_TABLE)
_CANON.update({ord(c): None for c in " \t\r\n\u00a0\u3000-"})
_CANON[0xFF0D] = None
_SHAPE = re.compile(r"[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}")


@dataclass(frozen=True, slots=True)
class CreditCode:
    """A valid unified social credit code and its parts (all as the characters appear in the code)."""

    code: str
    authority: str
    org_type: str
    division_code: str
    org_code: str

    @property
    def authority_name(self) -> str:
        """The registration authority, e.g. '市场监管(工商)' for '9'."""
        return _AUTHORITIES[self.authority]

    @property
    def org_type_name(self) -> str | None:
        """The organisation type, e.g. '企业' for '91…'; None where only the authority defines it."""
        return _ORG_TYPES.get((self.authority, self.org_type))


def credit_check_char(first17: str) -> str:
    """Return the GB 32100 check character for the first 17 characters of a credit code.

    Raises InvalidCreditCode unless ``first17`` is 17 characters of the code's charset.
    """
    if len(first17) != 17:
        raise InvalidCreditCode(f"expected 17 characters to compute a check character, got {len(first17)}")
    try:
        total = sum(_VALUES[c] * w for c, w in zip(first17, _WEIGHTS, strict=True))
    except KeyError:
        raise InvalidCreditCode("contains a character outside the credit code charset") from None
    return _CHARSET[-total % 31]


def parse_credit_code(raw: str) -> CreditCode:
    """Parse a unified social credit code; lower case, full-width characters, spaces and dashes accepted.

    Raises InvalidCreditCode for a wrong length, a character outside 0-9/A-Y without I O Z S V, a
    non-numeric division code, an unknown registration authority, or a wrong check character.
    """
    code = raw.translate(_CANON).upper()
    if len(code) != 18:
        raise InvalidCreditCode(f"expected 18 characters, got {len(code)}")
    if not _SHAPE.fullmatch(code):
        raise InvalidCreditCode("contains a character not allowed at its position")
    if code[0] not in _AUTHORITIES:
        raise InvalidCreditCode("unknown registration authority code")
    if credit_check_char(code[:17]) != code[17]:
        raise InvalidCreditCode("check character does not match")
    return CreditCode(code, code[0], code[1], code[2:8], code[8:17])


def is_credit_code(raw: str) -> bool:
    """True if :func:`parse_credit_code` accepts ``raw``."""
    try:
        parse_credit_code(raw)
    except InvalidCreditCode:
        return False
    return True
