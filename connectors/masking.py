"""Masking of phone numbers and ID numbers before they reach a log line or an exception message.

PIPL: connectors handle debtors' phones and ID hashes, and vendor libraries echo them back in their
errors. Everything a connector logs or raises goes through these helpers first. (:mod:`matchers` has
its own, richer masking; connectors may not import it.)
"""

from __future__ import annotations

import re

# Runs of 7+ digits (optionally with a leading "+" or a trailing ID check character "X") are long
# enough to be a phone or an ID number. Shorter runs (error codes, counts, times) stay readable.
_DIGIT_RUN = re.compile(r"\+?\d{7,}[Xx]?")
_CHINA_MOBILE = re.compile(r"^\+?86(1\d{10})$")


def mask_phone(phone: str) -> str:
    """Return ``phone`` with its middle digits replaced by ``*``; never returns the full number.

    Chinese mobiles in E.164 read ``+86 138****5678``; other numbers keep their first three and
    last four characters (fewer when the number is short).
    """
    text = phone.strip()
    china = _CHINA_MOBILE.match(text)
    if china:
        national = china.group(1)
        return f"+86 {national[:3]}****{national[-4:]}"
    return _mask_middle(text, keep_start=4 if text.startswith("+") else 3, keep_end=4)


def mask_id_number(id_number: str) -> str:
    """Return a resident ID with the birth date and sequence hidden: ``350103********1234``."""
    return _mask_middle(id_number.strip(), keep_start=6, keep_end=4)


def mask_text(text: str) -> str:
    """Return ``text`` with every phone- or ID-like digit run masked; other text is unchanged.

    Used on messages that come from vendors (their exception texts, provider error messages),
    which may quote the number they refused.
    """
    return _DIGIT_RUN.sub(lambda match: _mask_run(match.group(0)), text)


def _mask_run(run: str) -> str:
    digits = run.lstrip("+")
    if len(digits) in (15, 18) and digits[:-1].isdigit():
        return mask_id_number(run)
    return mask_phone(run)


def _mask_middle(text: str, *, keep_start: int, keep_end: int) -> str:
    # Short values would be nearly fully shown by the fixed keeps: show at most a quarter each side.
    if len(text) < keep_start + keep_end + 4:
        keep_start = min(keep_start, len(text) // 4)
        keep_end = min(keep_end, len(text) // 4)
    hidden = len(text) - keep_start - keep_end
    return text[:keep_start] + "*" * hidden + (text[-keep_end:] if keep_end else "")
