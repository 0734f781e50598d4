"""Adapters from the identifier functions to the normaliser: one distinct value in, comparable keys out.

The identifier package (resident IDs, phones, names) and OpenCC are imported on first use only, so that
Latin-script data and the command line's start-up do not pay for them. Values that are not Chinese
identifiers fall back to plain forms: an ``id_number`` that is not a resident ID is compared as a plain
identifier, a phone that does not validate as its digits (a typo is still evidence).
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from collections.abc import Sequence
from functools import cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from matchers.pinyin import has_cjk
from matchers.text import to_halfwidth, to_simplified

__all__ = [
    "address_without_prefixes",
    "company_name",
    "fold",
    "identifier_part_lists",
    "identifier_parts",
    "is_company",
    "person_name",
    "phone_key",
    "phone_keys",
    "place_key",
    "simplified_key",
    "split_name",
    "to_halfwidth",
    "to_simplified",
]

_RESIDENT_ID_SHAPE = re.compile(r"[0-9*]{14}[0-9X*]|[0-9*]{17}[0-9X*]|.*\*.*|.*XX.*")
_NOT_ALNUM = re.compile(r"[^0-9A-Z*]+")
_NOT_WORD = re.compile(r"[\W_]+")
_NOT_DIGIT = re.compile(r"[^0-9]+")
_PLAIN_SHORT_NAME = re.compile("[\u3400-\u4dbf\u4e00-\u9fff]{2,3}")
_PLACE_SUFFIXES = (
    "特别行政区",
    "维吾尔自治区",
    "壮族自治区",
    "回族自治区",
    "自治区",
    "自治州",
    "省",
    "市",
    "地区",
    "盟",
)

IdParts = tuple[str | None, str | None, str | None, str | None, str | None]


def identifier_parts(raw: str) -> IdParts:
    """(id, prefix*suffix, birth yyyymmdd, gender m/f, county) of an ``id_number`` value.

    A resident ID (18-digit, 15-digit converted to 18, or masked) gives all five where visible; a masked
    one has no full ``id``. Anything else is a plain identifier: upper-case letters and digits only.
    """
    text = _NOT_ALNUM.sub("", to_halfwidth(raw).upper().replace("×", "*").replace("＊", "*"))
    if not text:
        return None, None, None, None, None
    if _RESIDENT_ID_SHAPE.fullmatch(text):
        from matchers.errors import InvalidIdNumber
        from matchers.identifiers.resident_id import parse_resident_id

        try:
            rid = parse_resident_id(text)
        except InvalidIdNumber:
            return (None if "*" in text else text), None, None, None, None
        born = rid.birth_date.strftime("%Y%m%d") if rid.birth_date is not None else None
        gender = {"M": "m", "F": "f"}.get(rid.gender or "")
        prefix_suffix = (
            f"{rid.prefix[:6]}*{rid.suffix[-4:]}" if len(rid.prefix) >= 6 and len(rid.suffix) >= 4 else None
        )
        return rid.number, prefix_suffix, born, gender, rid.county_code
    return text, None, None, None, None


_CN_MOBILE = re.compile(r"(?:86|0086)?(1[3-9][0-9]{9})")
_PLAIN_MOBILE = re.compile(r"1[3-9][0-9]{9}")


@cache
def _country_codes() -> frozenset[str]:
    import phonenumbers

    return frozenset(str(code) for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE)


def _without_country_code(digits: str) -> str:
    codes = _country_codes()
    for size in (1, 2, 3):
        if digits[:size] in codes:
            return digits[size:]
    return digits


_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_ID_CHECK = np.array([ord(c) for c in "10X98765432"], dtype=np.uint32)
_ID_CHUNK = 200_000


def _valid_dates(
    year: NDArray[np.int64], month: NDArray[np.int64], day: NDArray[np.int64]
) -> NDArray[np.bool_]:
    """Real calendar dates from 1900-01-01 to today (as the resident ID rules demand)."""
    ok = (year >= 1900) & (month >= 1) & (month <= 12) & (day >= 1)
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    days = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])[np.clip(month, 0, 12)]
    ok &= day <= days + ((month == 2) & leap)
    today = dt.date.today()
    stamp = year * 10000 + month * 100 + day
    return ok & (stamp <= today.year * 10000 + today.month * 100 + today.day)


def _canonical_ids(texts: list[str]) -> NDArray[np.bool_]:
    """Which of these 18-character strings are valid resident IDs (digits, check digit, birth date)."""
    chars = np.array(texts, dtype="U18").view(np.uint32).reshape(-1, 18)
    digits = chars.astype(np.int64) - 48
    is_digit = (digits >= 0) & (digits <= 9)
    shaped = is_digit[:, :17].all(axis=1) & (is_digit[:, 17] | (chars[:, 17] == ord("X")))
    number = np.where(is_digit, digits, 0)
    check = _ID_CHECK[(number[:, :17] @ _ID_WEIGHTS) % 11]
    year = number[:, 6:10] @ np.array([1000, 100, 10, 1])
    month, day = number[:, 10] * 10 + number[:, 11], number[:, 12] * 10 + number[:, 13]
    valid: NDArray[np.bool_] = shaped & (check == chars[:, 17]) & _valid_dates(year, month, day)
    return valid


def identifier_part_lists(values: Sequence[str]) -> list[NDArray[np.object_]]:
    """:func:`identifier_parts` of many distinct values, as five arrays (id, prefix*suffix, birth, gender,
    county). Canonical 18-character resident IDs — nearly all of a real column — are checked with numpy,
    200,000 at a time (check digit, birth date); only the others go through :func:`identifier_parts`.
    """
    out = [np.full(len(values), None, dtype=object) for _ in range(5)]
    slow: list[int] = []
    for start in range(0, len(values), _ID_CHUNK):
        rows = [r for r in range(start, min(start + _ID_CHUNK, len(values))) if len(values[r]) == 18]
        valid = _canonical_ids([values[r] for r in rows]) if rows else np.zeros(0, dtype=bool)
        good = [r for r, ok in zip(rows, valid.tolist(), strict=True) if ok]
        texts = [values[r] for r in good]
        # Birth dates and counties repeat a lot: intern them instead of holding millions of copies.
        out[0][good] = texts
        out[1][good] = [f"{t[:6]}*{t[14:]}" for t in texts]
        out[2][good] = [sys.intern(t[6:14]) for t in texts]
        out[3][good] = ["m" if t[16] in "13579" else "f" for t in texts]
        out[4][good] = [sys.intern(t[:6]) for t in texts]
        done = set(good)
        slow.extend(r for r in range(start, min(start + _ID_CHUNK, len(values))) if r not in done)
    for row in slow:
        for part, value in zip(out, identifier_parts(values[row]), strict=True):
            part[row] = value
    return out


def phone_keys(values: Sequence[str]) -> list[str | None]:
    """:func:`phone_key` of many values; plain 11-digit Chinese mobiles (most of them) are their own key."""
    return [v if len(v) == 11 and _PLAIN_MOBILE.fullmatch(v) else phone_key(v) for v in values]


def phone_key(raw: str) -> str | None:
    """The national significant number of a phone, however it was written, for comparison.

    Chinese mobiles (with or without +86 / 0086 / 86) give their 11 digits; an international number
    ('+', '00', or 11+ digits not starting with 0) loses its country code; a national one its trunk
    zeros (0591-87654321 → 59187654321, as libphonenumber has it). Nothing is validated: a mistyped
    number is still evidence, and validating every foreign number would cost ~100 µs a value.
    """
    text = to_halfwidth(raw).strip()
    digits = _NOT_DIGIT.sub("", text)
    if not digits:
        return None
    mobile = _CN_MOBILE.fullmatch(digits)
    if mobile is not None:
        return mobile.group(1)
    if text.startswith("+"):
        digits = _without_country_code(digits)
    elif digits.startswith("00"):
        digits = _without_country_code(digits[2:])
    elif len(digits) >= 11 and not digits.startswith("0"):
        digits = _without_country_code(digits)
    return digits.lstrip("0") or digits


@cache
def _t2s_characters() -> dict[int, str]:
    """OpenCC's traditional → simplified character table (first choice), as a ``str.translate`` table."""
    from importlib import resources

    try:
        text = (
            resources.files("opencc").joinpath("dictionary", "TSCharacters.txt").read_text(encoding="utf-8")
        )
    except (OSError, ModuleNotFoundError):
        return {}
    table: dict[int, str] = {}
    for line in text.splitlines():
        key, _, values = line.partition("\t")
        first = values.split(" ", 1)[0]
        if len(key) == 1 and first and first != key:
            table[ord(key)] = first
    return table


@cache
def _fold_table() -> dict[int, str | int]:
    """One ``str.translate`` table: full-width → ASCII, traditional → simplified, ASCII upper → lower."""
    from matchers.text import HALFWIDTH_TABLE

    table: dict[int, str | int] = dict(HALFWIDTH_TABLE)
    table.update(_t2s_characters())
    for code in range(ord("A"), ord("Z") + 1):
        table[code] = code + 32
    for full, ascii_code in HALFWIDTH_TABLE.items():
        if ord("A") <= ascii_code <= ord("Z"):
            table[full] = ascii_code + 32
    return table


def fold(text: str) -> str:
    """Half-width, simplified (character by character) and lower-case in one pass: a match key's base."""
    return text.translate(_fold_table())


def simplified_key(text: str) -> str:
    """``text`` with every traditional character replaced by its simplified form, one character at a time.

    For match keys (addresses, places), not display: the same rule on both sides is all that matters,
    and it costs a ``str.translate`` instead of OpenCC's phrase matching (~100x slower). Falls back to
    :func:`matchers.text.to_simplified` when OpenCC's text dictionaries are not installed.
    """
    table = _t2s_characters()
    return text.translate(table) if table else to_simplified(text)


@cache
def _names_module() -> Any:
    from matchers.identifiers import names

    return names


def person_name(raw: str) -> str | None:
    """Match key of a Chinese person's name: char-by-char simplified, annotations (已故, 曾用名…) removed."""
    # Most names are two or three simplified characters and nothing else: their key is themselves.
    if _PLAIN_SHORT_NAME.fullmatch(raw) and _t2s_characters().keys().isdisjoint(map(ord, raw)):
        return raw
    key: str = _names_module().normalize_person_name(raw).normalized
    return key or None


def is_company(text: str) -> bool:
    """True when a (Chinese) name reads as a company or organisation rather than a person."""
    # A plain name of two or three characters is a person's (the identifier rules agree); skipping the
    # full heuristic for them saves ~30 µs a name.
    if _PLAIN_SHORT_NAME.fullmatch(text):
        return False
    return bool(_names_module().is_company_name(text))


def company_name(raw: str) -> str | None:
    """Match key of a company name (legal-form spellings unified, remarks removed)."""
    key: str = _names_module().normalize_company_name(raw)
    return key or None


def split_name(name: str) -> tuple[str | None, str | None]:
    """(family, given) of a normalised Chinese full name: compound surnames (欧阳, 司马) first."""
    family, given = _names_module().split_chinese_name(name)
    return family or None, given or None


@cache
def _place_prefixes() -> dict[str, tuple[str, ...]]:
    """Province and prefecture names, full (福建省) and short (福建), by first character, longest first."""
    from matchers.refdata import cities, provinces

    names: set[str] = set()
    for full in [*provinces().values(), *cities().values()]:
        if full in ("市辖区", "县") or "直辖" in full:
            continue
        names.add(full)
        for suffix in _PLACE_SUFFIXES:
            if full.endswith(suffix) and len(full) - len(suffix) >= 2:
                names.add(full[: -len(suffix)])
                break
    by_first: dict[str, list[str]] = {}
    for name in sorted(names, key=len, reverse=True):
        by_first.setdefault(name[0], []).append(name)
    return {first: tuple(group) for first, group in by_first.items()}


def address_without_prefixes(text: str) -> str:
    """A simplified Chinese address without spaces or punctuation and without leading province/city names."""
    text = _NOT_WORD.sub("", text)
    prefixes = _place_prefixes()
    # Two passes at most: a province then a city (福建省福州市…); 北京市 is both.
    for _ in range(2):
        for prefix in prefixes.get(text[:1], ()):
            if len(text) > len(prefix) and text.startswith(prefix):
                text = text[len(prefix) :]
                text = text[1:] if text[:1] in ("省", "市") else text
                break
        else:
            break
    return text


def place_key(text: str) -> str:
    """A city or region name without its administrative suffix (福州市 → 福州), for exact comparison."""
    text = _NOT_WORD.sub("", text)
    if has_cjk(text):
        for suffix in _PLACE_SUFFIXES:
            if text.endswith(suffix) and len(text) - len(suffix) >= 2:
                return text[: -len(suffix)]
    return text
