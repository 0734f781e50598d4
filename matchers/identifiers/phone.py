"""Phone numbers: parse, validate, describe (line type, place, original carrier) and mask.

The authority is Google's libphonenumber (the ``phonenumbers`` port). Its full parse with validation,
geocoding and carrier lookup costs ~30 µs, so the two shapes most rows hold take shorter paths to the
same answer:

* an 11-digit Chinese mobile (1[3-9]…, maybe after +86/0086/86): the CN patterns decide validity and
  line type on the first five digits, so those are cached per 5-digit block (at most 7,000 of them);
  place and carrier are read straight from phonenumbers' prefix-keyed geocoding and carrier tables.
* a Chinese number written with its trunk 0 (0591-87654321): the number is built without the
  text parser and described as above; only an accepted number is answered here, anything this path
  rejects goes through the full path, which also tries the forms it knows (a dash extension).

Tests compare both paths with phonenumbers' own API and assert the data shapes they rely on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Literal

import phonenumbers
from phonenumbers import PhoneNumber, PhoneNumberType, carrier, geocoder, is_number_type_geographical
from phonenumbers.carrierdata import CARRIER_DATA
from phonenumbers.geodata import GEOCODE_DATA

from matchers.errors import InvalidPhone
from matchers.text import HALFWIDTH_TABLE

__all__ = ["LineType", "Phone", "is_phone", "mask_phone", "parse_phone"]

LineType = Literal["mobile", "fixed_line", "fixed_line_or_mobile", "voip", "toll_free", "other"]

_LINE_TYPES: dict[int, LineType] = {
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE: "fixed_line",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed_line_or_mobile",
    PhoneNumberType.VOIP: "voip",
    PhoneNumberType.TOLL_FREE: "toll_free",
}
_LANG = "zh"
# The types for which libphonenumber's name_for_number looks up a carrier at all.
_MOBILE_KINDS = frozenset(
    {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE, PhoneNumberType.PAGER}
)
_CN = 86
# The types geocoded for +86 (is_number_type_geographical(kind, 86)), looked up once.
_CN_GEOGRAPHICAL = frozenset(
    kind for kind in PhoneNumberType.values() if is_number_type_geographical(kind, _CN)
)
_INVALID = "not a valid phone number"

# One translate pass: full-width to ASCII and the usual separators dropped.
_STRIP: dict[int, int | None] = dict(HALFWIDTH_TABLE)
_STRIP.update({ord(c): None for c in " \t\r\n\u00a0\u3000-.()/\u2010\u2011\u2012\u2013\u2014（）"})
_STRIP.update({0xFF0D: None, 0xFF0E: None, 0xFF08: None, 0xFF09: None})

_CN_MOBILE = re.compile(r"(?:\+86|0086|86)?(1[3-9][0-9]{9})")
# A national number after the trunk 0: area code and subscriber, 9 to 11 digits (CN fixed lines).
_CN_TRUNK = re.compile(r"0([1-9][0-9]{8,10})")
_EXTENSION = re.compile(r"\s*(?:转|分机号?|ext\.?|extension|[x#,;~])\s*[0-9]{1,6}\s*$", re.IGNORECASE)
_DASH_EXTENSION = re.compile(r"^(.*[0-9])\s*-\s*[0-9]{1,6}\s*$")
_DIALABLE = re.compile(r"\+?[0-9]+")
_MIN_DIGITS = 5


@dataclass(frozen=True, slots=True)
class Phone:
    """A valid phone number. ``carrier`` is the original one: ported numbers keep their prefix."""

    e164: str
    national: str
    line_type: LineType
    region_code: str
    region: str | None
    carrier: str | None

    def __repr__(self) -> str:
        # Masked so that logging or printing a parsed phone never writes the number (PIPL).
        hidden = mask_phone(self.e164)
        return (
            f"Phone(e164={hidden!r}, national={hidden.partition(' ')[2]!r}, line_type={self.line_type!r}, "
            f"region_code={self.region_code!r}, region={self.region!r}, carrier={self.carrier!r})"
        )


class _Rejected(Exception):
    """Raised and caught inside this module only, to keep InvalidPhone raising in one place."""


def _describe(number: phonenumbers.PhoneNumber) -> Phone:
    """Validity, type, place and carrier, as libphonenumber's checking functions give them.

    is_valid_number is number_type != UNKNOWN (both test the same region's patterns), and
    description_for_number and name_for_number each recompute the type: this computes it once and
    calls their *_for_valid_number halves under the same conditions they apply.
    """
    kind = phonenumbers.number_type(number)
    if kind == PhoneNumberType.UNKNOWN:
        raise _Rejected(_INVALID)
    if number.country_code == _CN and not number.italian_leading_zero:
        return _cn_phone(str(number.national_number), kind)
    place = ""
    if is_number_type_geographical(kind, number.country_code or 0):
        place = geocoder.description_for_valid_number(number, _LANG)
        # A country name alone adds nothing to region_code: only a finer place is worth keeping.
        if place == geocoder.country_name_for_number(number, _LANG):
            place = ""
    operator = carrier.name_for_valid_number(number, _LANG) if kind in _MOBILE_KINDS else ""
    return Phone(
        e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        national=phonenumbers.national_significant_number(number),
        line_type=_LINE_TYPES.get(kind, "other"),
        region_code=phonenumbers.region_code_for_number(number) or "",
        region=place or None,
        carrier=operator or None,
    )


@cache
def _cn_names(table: str) -> tuple[dict[str, str], tuple[int, ...]]:
    """The "zh" names of the keys of a prefix table (geo or carrier) that can prefix a +86 number, and
    those keys' lengths, longest first.

    A key that prefixes "86…" is "8" or starts with "86"; keys without a "zh" name are left out, as
    phonenumbers' lookup passes over them. Looking the lengths up longest first here therefore finds
    what its walk over every prefix of the whole table finds, with one probe per length instead of
    two, in a table of the +86 keys alone.
    """
    data = GEOCODE_DATA if table == "geo" else CARRIER_DATA
    names = {
        key: langs[_LANG]
        for key, langs in data.items()
        if (key == "8" or key.startswith("86")) and _LANG in langs
    }
    return names, tuple(sorted({len(key) for key in names}, reverse=True))


def _cn_prefix_name(table: str, digits: str) -> str:
    """phonenumbers' _prefix_description_for_number for "zh" (which never falls back to English):
    the name under the longest key prefixing ``digits``, else ''."""
    names, lengths = _cn_names(table)
    for length in lengths:
        name = names.get(digits[:length])
        if name is not None:
            return name
    return ""


@cache
def _cn_country_name() -> str:
    return geocoder.country_name_for_number(PhoneNumber(country_code=_CN, national_number=10), _LANG)


def _cn_phone(national: str, kind: int) -> Phone:
    """A valid +86 number of type ``kind`` described as _describe's library calls would describe it.

    For +86 the geocoder has no mobile token and a single region, so description_for_valid_number is
    the prefix table's name, falling back to the country name (which _describe drops).
    """
    digits = "86" + national
    place = ""
    if kind in _CN_GEOGRAPHICAL:
        place = _cn_prefix_name("geo", digits)
        if place == _cn_country_name():
            place = ""
    operator = _cn_prefix_name("carrier", digits) if kind in _MOBILE_KINDS else ""
    return Phone(
        "+" + digits, national, _LINE_TYPES.get(kind, "other"), "CN", place or None, operator or None
    )


def _parse_dialable(digits: str, default_region: str) -> Phone:
    if not _DIALABLE.fullmatch(digits):
        raise _Rejected("contains characters other than digits")
    if sum(c.isdigit() for c in digits) < _MIN_DIGITS:
        raise _Rejected("too few digits for a phone number")
    try:
        number = phonenumbers.parse(digits, default_region)
    except phonenumbers.NumberParseException:
        raise _Rejected("cannot be parsed as a phone number") from None
    return _describe(number)


@lru_cache(maxsize=65536)
def _full_parse(text: str, default_region: str) -> Phone | str:
    """The reference path through phonenumbers: a Phone, or the reason the text was rejected."""
    text = text.translate(HALFWIDTH_TABLE).strip()
    text = _EXTENSION.sub("", text)
    try:
        return _parse_dialable(text.translate(_STRIP), default_region)
    except _Rejected as rejected:
        # 0591-87654321-8001: Chinese forms often append the extension after one more dash.
        shorter = _DASH_EXTENSION.fullmatch(text)
        if shorter is None or shorter.group(1).count("-") < 1:
            return str(rejected)
        try:
            return _parse_dialable(shorter.group(1).translate(_STRIP), default_region)
        except _Rejected:
            return str(rejected)


@cache
def _cn_mobile_kind(block: str) -> int:
    """The number type of every 11-digit number starting with the 5-digit ``block`` (UNKNOWN: invalid).

    Bounded by its key: _CN_MOBILE admits at most 7,000 blocks (1[3-9] and three digits).
    """
    return phonenumbers.number_type(PhoneNumber(country_code=_CN, national_number=int(block + "000000")))


def _cn_trunk_number(national: str) -> Phone | None:
    """0 + ``national`` (which does not start with 0), as phonenumbers.parse(…, "CN") reads it, or None
    when invalid, for the full path to answer. parse strips that 0, CN's national prefix, whenever
    what follows has a possible length for CN, as every valid number has."""
    kind = phonenumbers.number_type(PhoneNumber(country_code=_CN, national_number=int(national)))
    return None if kind == PhoneNumberType.UNKNOWN else _cn_phone(national, kind)


def parse_phone(raw: str, default_region: str = "CN") -> Phone:
    """Parse and validate a phone number; national numbers are read as ``default_region`` ones.

    Accepts +86 / 0086 / a bare 86 before an 11-digit mobile, spaces, dashes, dots, parentheses,
    full-width digits, area codes (0591-87654321, (010)12345678), E.164 numbers of any country, and an
    extension (转 / 分机 / ext / x / #, or a last dash group after a complete number), which is dropped.
    Raises InvalidPhone (message without the number) for letters, too few digits, or a number
    libphonenumber does not hold valid.
    """
    if default_region == "CN":
        digits = raw.translate(_STRIP)
        mobile = _CN_MOBILE.fullmatch(digits)
        if mobile is not None:
            national = mobile.group(1)
            kind = _cn_mobile_kind(national[:5])
            if kind == PhoneNumberType.UNKNOWN:
                raise InvalidPhone(_INVALID)
            return _cn_phone(national, kind)
        trunk = _CN_TRUNK.fullmatch(digits)
        if trunk is not None:
            phone = _cn_trunk_number(trunk.group(1))
            if phone is not None:
                return phone
    result = _full_parse(raw, default_region)
    if isinstance(result, str):
        raise InvalidPhone(result)
    return result


def is_phone(raw: str, default_region: str = "CN") -> bool:
    """True if :func:`parse_phone` accepts ``raw``."""
    try:
        parse_phone(raw, default_region)
    except InvalidPhone:
        return False
    return True


def _mask_digits(value: str) -> str:
    n = len(value)
    keep = 2 if n >= 8 else 1 if n >= 4 else 0
    return value[:keep] + "*" * (n - 2 * keep) + (value[-keep:] if keep else "")


def mask_phone(value: str, default_region: str = "CN") -> str:
    """Return ``value`` safe to log or show, e.g. '+86 138****5678': country code, first 3, last 4.

    A national number shorter than 10 digits keeps at most its first and last 2; a value that is not
    a valid number keeps at most its first 2 and last 2 characters. Never raises.
    """
    try:
        phone = parse_phone(value, default_region)
    except InvalidPhone:
        return _mask_digits(value.translate(_STRIP))
    national = phone.national
    country = phone.e164[: len(phone.e164) - len(national)]
    if len(national) >= 10:
        return f"{country} {national[:3]}{'*' * (len(national) - 7)}{national[-4:]}"
    return f"{country} {_mask_digits(national)}"
