"""Character-level text normalisation shared by the identifier and name functions.

Both functions are total (never raise on any ``str``) and idempotent.
"""

from __future__ import annotations

from functools import cache, lru_cache
from importlib import resources
from typing import Protocol

__all__ = ["HALFWIDTH_TABLE", "is_simplified", "to_halfwidth", "to_simplified"]

# U+FF01..U+FF5E are the full-width forms of ASCII U+0021..U+007E, at a fixed offset.
HALFWIDTH_TABLE: dict[int, int] = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
HALFWIDTH_TABLE[0x3000] = 0x20  # ideographic space

# Short strings (names, company names) repeat heavily across records; long ones rarely do.
_CACHE_MAX_LEN = 64


def to_halfwidth(s: str) -> str:
    """Return ``s`` with full-width ASCII forms (U+FF01–FF5E) and U+3000 replaced by their ASCII forms.

    Every other character, CJK punctuation such as '【' and '、' included, is left as it is.
    """
    if s.isascii():
        return s
    return s.translate(HALFWIDTH_TABLE)


class _Converter(Protocol):
    def convert(self, text: str) -> str: ...


@cache
def _converter() -> _Converter:
    import opencc

    converter: _Converter = opencc.OpenCC("t2s")
    return converter


@cache
def _t2s_trigger_chars() -> frozenset[str] | None:
    """Characters whose presence may make t2s change a string; None when the dictionaries are unreadable.

    Taken from the text dictionaries of opencc-python-reimplemented: every key character that maps to
    something else, and every character of a phrase key whose conversion differs (e.g. 沈默 → 沉默,
    where neither character changes on its own). A string without any of them is returned as it is.
    """
    try:
        folder = resources.files("opencc").joinpath("dictionary")
        chars = folder.joinpath("TSCharacters.txt").read_text(encoding="utf-8")
        phrases = folder.joinpath("TSPhrases.txt").read_text(encoding="utf-8")
    except (OSError, ModuleNotFoundError):
        # The C++ opencc wheel ships compiled dictionaries only: convert everything, which is still correct.
        return None
    trigger: set[str] = set()
    for line in chars.splitlines():
        key, _, values = line.partition("\t")
        if key and values.split(" ", 1)[0] != key:
            trigger.add(key)
    for line in phrases.splitlines():
        key, _, values = line.partition("\t")
        if key and values.split(" ", 1)[0] != key:
            trigger.update(key)
    return frozenset(trigger)


@lru_cache(maxsize=65536)
def _convert_cached(s: str) -> str:
    return _converter().convert(s)


def is_simplified(s: str) -> bool:
    """True when ``s`` holds no character t2s may change, so that ``to_simplified(s) == s``.

    False means only that t2s might change it (always False when the dictionaries are unreadable).
    """
    trigger = _t2s_trigger_chars()
    return trigger is not None and trigger.isdisjoint(s)


def to_simplified(s: str) -> str:
    """Return ``s`` converted traditional → simplified Chinese with OpenCC's t2s; never the reverse.

    Simplified text, ASCII and every character outside the t2s dictionaries pass through unchanged.
    """
    if is_simplified(s):
        return s
    if len(s) <= _CACHE_MAX_LEN:
        return _convert_cached(s)
    return _converter().convert(s)
