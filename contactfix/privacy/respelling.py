"""A phone as written, kept without its digits: how the file spelt a number we also hold as E.164.

A contact keeps its value as the file wrote it (``contacts.value_original``: "138 0013 8000",
"(0591)8765-4321", "+86 138-0013-8000") beside the normalised value ("+8613800138000"). For a phone
that spelling is the value's own digits plus spaces, dashes and brackets, so sealing it is sealing the
same number a second time: another AES-GCM call at intake and some 70 bytes more in every worker
transfer, staging table and row. Instead the spelling is stored as a *respelling*: the text as written
with each digit of the number replaced by ``#`` ("r1.### #### ####"), which holds no digit of the
number; the digits come back from the sealed value when it is opened (:func:`spelt`). A trunk prefix
or country code written before the number ("0", "+86", "0086") has no counterpart among the value's
last digits and stays as written: it is the same for every number of a country.

Everything else is sealed as before: a spelling with a character outside spaces, dashes, dots, slashes
and brackets (a name, "转", an extension), with digits other than ASCII (full-width), with more than
:data:`_MAX_PREFIX_DIGITS` digits before the number, or whose digits are not the value's last digits.
A spelling equal to the value is stored as NULL ("as the value"); see :func:`stored_original`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["RESPELT_PREFIX", "is_respelling", "respelling", "spelt", "stored_original"]

RESPELT_PREFIX = "r1."
_MARK = "#"
# The separators of phone numbers as Chinese files write them (inside a regex character class).
_SEPARATORS = r" \t\u3000\-+().．/（）－—‐"
# A phone's spelling: ASCII digits and those separators.
_SHAPE = re.compile(f"[0-9{_SEPARATORS}]*")
_NOT_DIGIT = re.compile(r"[^0-9]+")
_MARKED = str.maketrans("0123456789", _MARK * 10)
# Digits written before the number itself: a trunk "0", "86", "+86", "0086", "0086 0" at most.
_MAX_PREFIX_DIGITS = 5
# Fewer digits than a local number (7) is not a phone's spelling: seal it.
_MIN_NUMBER_DIGITS = 7
_ALL_MARKED = [RESPELT_PREFIX + _MARK * n if n >= _MIN_NUMBER_DIGITS else None for n in range(20)]
_RESPELT = re.compile(re.escape(RESPELT_PREFIX) + f"[0-9{_MARK}{_SEPARATORS}]*")
_PREFIXES = [re.compile(f"(?:[^0-9]*[0-9]){{{n}}}") for n in range(_MAX_PREFIX_DIGITS + 1)]


def is_respelling(stored: str) -> bool:
    """Whether ``stored`` is a respelling (a spelling kept without its digits). Strict, for a value
    stored in clear before encryption that merely starts like one (a note "r1. …") must be sealed."""
    if not stored.startswith(RESPELT_PREFIX) or _RESPELT.fullmatch(stored) is None:
        return False
    kept = stored[len(RESPELT_PREFIX) :]
    return kept.count(_MARK) >= _MIN_NUMBER_DIGITS and len(_NOT_DIGIT.sub("", kept)) <= _MAX_PREFIX_DIGITS


def respelling(value: str, original: str) -> str | None:
    """``original`` (how a file wrote the phone ``value``) without the digits of ``value``, or None
    when it cannot be: then it must be sealed."""
    if original.isdigit() and original.isascii() and value.endswith(original):  # most banks: "138…"
        return _ALL_MARKED[len(original)] if len(original) < len(_ALL_MARKED) else None
    if _SHAPE.fullmatch(original) is None:
        return None
    written = _NOT_DIGIT.sub("", original)
    shared = _shared_tail(written, _NOT_DIGIT.sub("", value))
    before = len(written) - shared  # digits written before the number: left as written
    if shared < _MIN_NUMBER_DIGITS or before > _MAX_PREFIX_DIGITS:
        return None
    found = _PREFIXES[before].match(original)
    cut = found.end() if found is not None else 0
    return RESPELT_PREFIX + original[:cut] + original[cut:].translate(_MARKED)


def _shared_tail(one: str, other: str) -> int:
    shared = 0
    for a, b in zip(reversed(one), reversed(other), strict=False):
        if a != b:
            break
        shared += 1
    return shared


def spelt(value: str, stored: str) -> str:
    """The spelling a respelling ``stored`` keeps, given the phone's plain ``value``."""
    template = stored[len(RESPELT_PREFIX) :]
    digits = [ch for ch in value if ch.isdigit()]
    fill = iter(digits[len(digits) - template.count(_MARK) :])
    return "".join(next(fill) if ch == _MARK else ch for ch in template)


def stored_original(channel: str, value: str, original: str, seal: Callable[[str], str]) -> str | None:
    """What ``contacts.value_original`` stores for a contact written as ``original``: None when it is
    the value itself, a respelling for a phone's spelling, else the spelling sealed (``seal``)."""
    if original == value:
        return None
    if channel == "phone":
        kept = respelling(value, original)
        if kept is not None:
            return kept
    return seal(original)
