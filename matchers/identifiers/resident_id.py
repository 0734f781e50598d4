"""Chinese resident identity numbers (GB 11643-1999), including 15-digit, masked and HK/MO/TW permits.

An 18-character number is: 6-digit county code, 8-digit birth date, 3-digit sequence (its last digit
odd for men), check character. The check character decides validity; the county code does not, since
codes are retired and renumbered over time.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import cache
from operator import mul
from typing import Literal

from matchers.errors import InvalidIdNumber
from matchers.refdata import areas, cities, hk_mo_tw, provinces
from matchers.text import HALFWIDTH_TABLE

__all__ = [
    "ResidentId",
    "convert_15_to_18",
    "county_name",
    "id_check_digit",
    "is_resident_id",
    "mask_id",
    "parse_resident_id",
]

Region = Literal["mainland", "hk", "mo", "tw"]
Gender = Literal["M", "F"]

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
# Summing the code points directly skips 17 int() calls; subtract what the '0's contributed.
_ASCII_ZERO_SUM = ord("0") * sum(_WEIGHTS)
_CHECK_CHARS = "10X98765432"
_REGIONS: dict[str, Region] = {"81": "hk", "82": "mo", "83": "tw"}
_PERMIT_PREFIXES = {"81": "香港", "82": "澳门", "83": "台湾"}
# Prefecture entries that are placeholders, not places: 北京市市辖区东城区 reads 北京市东城区.
_CITY_PLACEHOLDERS = frozenset({"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"})

# One translate pass: full-width to ASCII, separators dropped, mask symbols unified to '*'.
_CANON: dict[int, int | None] = dict(HALFWIDTH_TABLE)
_CANON.update(
    {ord(c): None for c in " \t\r\n\u00a0\u2002\u2003\u2009\u3000-\u2010\u2011\u2012\u2013\u2014\u2015"}
)
_CANON.update({0xFF0D: None, 0xFF0A: ord("*"), 0x00D7: ord("*")})

_FULL_18 = re.compile(r"[0-9]{17}[0-9X]")
_FULL_15 = re.compile(r"[0-9]{15}")
# A real number holds at most one X, and only at the end: two or more in a row can only be a mask.
_X_RUN = re.compile(r"X{2,}")
_MASKED = re.compile(r"([0-9]*)(\*+)([0-9]*X?)")
_MASKABLE_18 = re.compile(r"[0-9*]{17}[0-9X*]")
_MASKABLE_15 = re.compile(r"[0-9*]{15}")


@dataclass(frozen=True, slots=True)
class ResidentId:
    """A parsed resident ID; for a masked one only what is visible is filled in."""

    number: str | None
    prefix: str
    suffix: str
    masked: bool
    converted_from_15: bool
    birth_date: dt.date | None
    gender: Gender | None
    county_code: str | None
    county_known: bool
    region: Region

    def __repr__(self) -> str:
        # Masked so that logging or printing a parsed ID never writes the number (PIPL). County, birth
        # date and suffix together spell the whole number, so the birth date shows its year only.
        shown = mask_id(self.number) if self.number is not None else None
        born = None if self.birth_date is None else f"{self.birth_date.year}-**-**"
        return (
            f"ResidentId(number={shown!r}, prefix={self.prefix[:6]!r}, suffix={self.suffix[-4:]!r}, "
            f"masked={self.masked}, converted_from_15={self.converted_from_15}, birth_date={born!r}, "
            f"gender={self.gender!r}, county_code={self.county_code!r}, "
            f"county_known={self.county_known}, region={self.region!r})"
        )


def _canonical(raw: str) -> str:
    return raw.translate(_CANON).upper()


def id_check_digit(first17: str) -> str:
    """Return the GB 11643 check character ('0'–'9' or 'X') for the first 17 digits of an ID.

    Raises InvalidIdNumber unless ``first17`` is exactly 17 ASCII digits.
    """
    if len(first17) != 17 or not (first17.isascii() and first17.isdigit()):
        raise InvalidIdNumber("expected 17 digits to compute a check digit")
    return _CHECK_CHARS[(sum(map(mul, first17.encode("ascii"), _WEIGHTS)) - _ASCII_ZERO_SUM) % 11]


def convert_15_to_18(id15: str) -> str:
    """Return the 18-character form of a 15-digit (pre-1999) ID: '19' inserted after the county code.

    Separators and full-width digits are accepted. Raises InvalidIdNumber unless 15 digits remain;
    the birth date is not checked here (:func:`parse_resident_id` does).
    """
    s = _canonical(id15)
    if not _FULL_15.fullmatch(s):
        raise InvalidIdNumber(f"expected 15 digits, got {len(s)} characters")
    first17 = s[:6] + "19" + s[6:]
    return first17 + id_check_digit(first17)


class _Today:
    """date.today() costs ~0.6 µs; a cached day that only moves forward answers most checks."""

    day = dt.date.today()

    @classmethod
    def is_future(cls, value: dt.date) -> bool:
        if value <= cls.day:
            return False
        cls.day = dt.date.today()
        return value > cls.day


def _birth_date(year: int, month: int, day: int) -> dt.date:
    try:
        born = dt.date(year, month, day)
    except ValueError:
        raise InvalidIdNumber("birth date is not a valid date") from None
    if year < 1900:
        raise InvalidIdNumber("birth date is before 1900")
    if _Today.is_future(born):
        raise InvalidIdNumber("birth date is in the future")
    return born


def _region(code: str) -> Region:
    return _REGIONS.get(code[:2], "mainland")


def _county_known(code: str) -> bool:
    return code in areas() or code in _permit_names()


def _parse_full(s: str, converted: bool) -> ResidentId:
    born = _birth_date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
    if _CHECK_CHARS[(sum(map(mul, s[:17].encode("ascii"), _WEIGHTS)) - _ASCII_ZERO_SUM) % 11] != s[17]:
        raise InvalidIdNumber("check digit does not match")
    county = s[:6]
    return ResidentId(
        number=s,
        prefix=county,
        suffix=s[14:],
        masked=False,
        converted_from_15=converted,
        birth_date=born,
        gender="M" if int(s[16]) % 2 else "F",
        county_code=county,
        county_known=_county_known(county),
        region=_region(county),
    )


def _visible(frame: str, start: int, end: int) -> int | None:
    part = frame[start:end]
    return None if "*" in part else int(part)


def _check_partial_date(frame: str) -> dt.date | None:
    """Validate whatever part of the birth date (frame positions 6–13) is visible; the date if all is."""
    year, month, day = _visible(frame, 6, 10), _visible(frame, 10, 12), _visible(frame, 12, 14)
    if year is not None and month is not None and day is not None:
        return _birth_date(year, month, day)
    if month is not None and not 1 <= month <= 12:
        raise InvalidIdNumber("birth date is not a valid date")
    if day is not None:
        # 2000 is a leap year: without the year, Feb 29 is possible and Feb 30 is not.
        _birth_date(2000, month or 1, day)
    if year is not None:
        # The first of the visible month (or January) is the earliest date the ID could show.
        _birth_date(year, month or 1, 1)
    return None


def _parse_masked(s: str) -> ResidentId:
    s = _X_RUN.sub(lambda m: "*" * len(m.group()), s)
    if len(s) != 18:
        raise InvalidIdNumber(f"expected 18 characters in a masked ID, got {len(s)}")
    match = _MASKED.fullmatch(s)
    if match is None:
        raise InvalidIdNumber("a masked ID must be digits, one run of '*' and an optional final X")
    prefix, suffix = match.group(1), match.group(3)
    if not prefix and not suffix:
        raise InvalidIdNumber("a masked ID shows no characters")
    born = _check_partial_date(s)
    gender: Gender | None = None if s[16] == "*" else ("M" if int(s[16]) % 2 else "F")
    county = prefix[:6] if len(prefix) >= 6 else None
    return ResidentId(
        number=None,
        prefix=prefix,
        suffix=suffix,
        masked=True,
        converted_from_15=False,
        birth_date=born,
        gender=gender,
        county_code=county,
        county_known=county is not None and _county_known(county),
        region=_region(prefix) if len(prefix) >= 2 else "mainland",
    )


def parse_resident_id(raw: str) -> ResidentId:
    """Parse a resident ID (18-digit, 15-digit or masked) and return what it tells.

    Accepts lower-case x, full-width characters, spaces and dashes anywhere, and masks written with
    '*', '＊', '×' or a run of two or more 'X' (the masked value must keep its 18 positions). A full ID
    must have a real birth date (1900 to today) and a matching check digit; a masked one must have
    plausible visible parts. Raises InvalidIdNumber, whose message never contains the number.
    """
    if _FULL_18.fullmatch(raw):
        # The usual row is already canonical: skip the translate pass.
        return _parse_full(raw, converted=False)
    s = _canonical(raw)
    if _FULL_18.fullmatch(s):
        return _parse_full(s, converted=False)
    if _FULL_15.fullmatch(s):
        return _parse_full(convert_15_to_18(s), converted=True)
    if "*" in s or "XX" in s:
        return _parse_masked(s)
    if len(s) not in (15, 18):
        raise InvalidIdNumber(f"expected 15 or 18 characters, got {len(s)}")
    raise InvalidIdNumber("expected digits with an optional final X")


def is_resident_id(raw: str) -> bool:
    """True if ``raw`` parses as a complete (not masked) resident ID with a valid check digit."""
    try:
        return not parse_resident_id(raw).masked
    except InvalidIdNumber:
        return False


def _mask_generic(value: str) -> str:
    # Keep fewer characters of short values so that at least about half stays hidden.
    n = len(value)
    keep = 2 if n >= 8 else 1 if n >= 4 else 0
    if keep == 0:
        return "*" * n
    return value[:keep] + "*" * (n - 2 * keep) + value[-keep:]


def mask_id(value: str) -> str:
    """Return ``value`` safe to log or show: an ID keeps its first 6 and last 4 ('350103********1234').

    Anything that is not shaped like an 18- or 15-character ID keeps at most its first 2 and last 2
    characters. Never raises.
    """
    s = _canonical(value)
    if _MASKABLE_18.fullmatch(s) or _MASKABLE_15.fullmatch(s):
        return s[:6] + "*" * (len(s) - 10) + s[-4:]
    return _mask_generic(value.strip())


@cache
def _permit_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for name in hk_mo_tw():
        for code2, marker in _PERMIT_PREFIXES.items():
            if marker in name:
                names[code2 + "0000"] = name
    return names


@cache
def _county_names() -> dict[str, str]:
    names = dict(_permit_names())
    province_names, city_names = provinces(), cities()
    for code, area in areas().items():
        city = city_names.get(area.city_code, "")
        if city in _CITY_PLACEHOLDERS or city == area.name:
            city = ""
        names[code] = province_names.get(area.province_code, "") + city + area.name
    return names


def county_name(code: str) -> str | None:
    """Full name of a 6-digit county code, e.g. '350103' → '福建省福州市台江区', '110101' → '北京市东城区'.

    Placeholder prefectures (市辖区, 县, 省直辖县级行政区划) are left out; 810000/820000/830000 name
    Hong Kong, Macau and Taiwan. None for a code not in the shipped reference data.
    """
    return _county_names().get(code.strip())
