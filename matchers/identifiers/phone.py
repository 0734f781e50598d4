"""Phone numbers: parse, validate, describe (line type, place, original carrier) and mask.

The authority is Google's libphonenumber (the ``phonenumbers`` port). A full parse with validation,
geocoding and carrier lookup costs ~30 µs, so Chinese mobiles — most of the rows — take a fast path:
a strict pattern, then everything else cached per 7-digit prefix. That is exact, not an estimate:
for an 11-digit number starting 1[3-9] the CN validity patterns look at no more than the first five
digits, and the geocoder and carrier tables key Chinese mobiles by at most seven (a test asserts both).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import phonenumbers
from phonenumbers import PhoneNumber, PhoneNumberType, carrier, geocoder, is_number_type_geographical

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

# One translate pass: full-width to ASCII and the usual separators dropped.
_STRIP: dict[int, int | None] = dict(HALFWIDTH_TABLE)
_STRIP.update({ord(c): None for c in " \t\r\n\u00a0\u3000-.()/\u2010\u2011\u2012\u2013\u2014（）"})
_STRIP.update({0xFF0D: None, 0xFF0E: None, 0xFF08: None, 0xFF09: None})

_CN_MOBILE = re.compile(r"(?:\+86|0086|86)?(1[3-9][0-9]{9})")
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

    description_for_number and name_for_number each recompute the number type (~4 µs); this computes it
    once and calls their *_for_valid_number halves under the same conditions they apply.
    """
    if not phonenumbers.is_valid_number(number):
        raise _Rejected("not a valid phone number")
    kind = phonenumbers.number_type(number)
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


@lru_cache(maxsize=1 << 17)
def _cn_mobile_prefix(prefix7: str) -> Phone | str:
    """The full path's answer for one 7-digit prefix; line type, place and carrier hold for all 10,000."""
    try:
        return _describe(PhoneNumber(country_code=86, national_number=int(prefix7 + "0000")))
    except _Rejected as rejected:
        return str(rejected)


def parse_phone(raw: str, default_region: str = "CN") -> Phone:
    """Parse and validate a phone number; national numbers are read as ``default_region`` ones.

    Accepts +86 / 0086 / a bare 86 before an 11-digit mobile, spaces, dashes, dots, parentheses,
    full-width digits, area codes (0591-87654321, (010)12345678), E.164 numbers of any country, and an
    extension (转 / 分机 / ext / x / #, or a last dash group after a complete number), which is dropped.
    Raises InvalidPhone (message without the number) for letters, too few digits, or a number
    libphonenumber does not hold valid.
    """
    if default_region == "CN":
        mobile = _CN_MOBILE.fullmatch(raw.translate(_STRIP))
        if mobile is not None:
            national = mobile.group(1)
            template = _cn_mobile_prefix(national[:7])
            if isinstance(template, str):
                raise InvalidPhone(template)
            return Phone(
                "+86" + national, national, template.line_type, "CN", template.region, template.carrier
            )
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
