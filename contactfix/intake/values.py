"""Cell values as banks and courts write them: dates, amounts, genders, currencies, phone lists.

Each parser returns the value or raises :class:`BadValue` with a reason fit for a receipt (no PII:
callers pass dates, amounts and genders here, never ID numbers or phones in a reason).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, DecimalException

from contactfix.intake.reader import Cell

__all__ = [
    "BadValue",
    "cell_text",
    "excel_mangled",
    "parse_amount",
    "parse_currency",
    "parse_date",
    "parse_gender",
    "split_multi",
]

_EXCEL_EPOCH = dt.date(1899, 12, 30)  # Excel's day 0 (its 1900 leap-year bug folded in)
_DATE = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
)
_COMPACT_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")
_SCIENTIFIC = re.compile(r"[0-9](?:\.[0-9]+)?[eE]\+?[0-9]+")
_MULTI_SPLIT = re.compile(r"[,;/、，；|\n\r]+")
_PLAIN_AMOUNT = re.compile(r"[0-9][0-9,]*(?:\.[0-9]+)?")
_AMOUNT_NOISE = re.compile(r"[\s,，¥￥元]|rmb|cny|人民币", re.IGNORECASE)
_MONEY_MAX = Decimal("99999999999999.99")  # Numeric(16, 2)
_MALE = frozenset({"男", "m", "male", "1", "男性"})
_FEMALE = frozenset({"女", "f", "female", "2", "女性"})
_UNKNOWN = frozenset(
    {"", "未知", "不详", "-", "unknown", "u", "0", "9"}
)  # GB/T 2261.1: 0 unknown, 9 unstated
_CURRENCIES = {
    "cny": "CNY", "rmb": "CNY", "人民币": "CNY", "元": "CNY", "¥": "CNY", "￥": "CNY",
    "usd": "USD", "美元": "USD", "$": "USD", "us$": "USD",
    "hkd": "HKD", "港币": "HKD", "港元": "HKD", "hk$": "HKD",
    "eur": "EUR", "欧元": "EUR", "€": "EUR",
    "mop": "MOP", "澳门元": "MOP", "twd": "TWD", "新台币": "TWD",
    "jpy": "JPY", "日元": "JPY", "gbp": "GBP", "英镑": "GBP",
}  # fmt: skip


class BadValue(ValueError):
    """A cell that cannot be read as its field; ``str(exc)`` is the reason shown to the submitter."""


def cell_text(cell: Cell) -> str:
    """The cell as text: stripped; integral floats without ``.0``; dates in ISO form; None → ''."""
    if cell is None:
        return ""
    if isinstance(cell, str):
        return cell.strip()
    if isinstance(cell, bool):
        return "1" if cell else "0"
    if isinstance(cell, float) and cell.is_integer() and abs(cell) < 1e15:
        return str(int(cell))
    if isinstance(cell, dt.datetime) and cell.time() == dt.time():
        return cell.date().isoformat()
    if isinstance(cell, dt.date | dt.time):
        return cell.isoformat()
    return str(cell)


def excel_mangled(cell: Cell) -> bool:
    """True when an identifier went through Excel as a number: a float, or text like ``3.50103E+17``."""
    if isinstance(cell, float):
        return True
    return isinstance(cell, str) and _SCIENTIFIC.fullmatch(cell.strip()) is not None


def parse_date(cell: Cell, *, earliest: dt.date, latest: dt.date) -> dt.date:
    """A date from 1990-01-02, 1990/1/2, 19900102, 1990年1月2日, an Excel date or day serial.

    Raises :class:`BadValue` for anything else or a date outside ``earliest``..``latest``.
    """
    if isinstance(cell, dt.datetime):
        value = cell.date()
    elif isinstance(cell, dt.date):
        value = cell
    else:
        value = _date_from_text(cell_text(cell))
    if not earliest <= value <= latest:
        raise BadValue(f"date outside {earliest.year}–{latest.year}")
    return value


def _date_from_text(text: str) -> dt.date:
    if not text:
        raise BadValue("empty")
    text = text.translate(_FULLWIDTH_DIGITS)
    match = _DATE.fullmatch(text) or _COMPACT_DATE.fullmatch(text)
    try:
        if match is not None:
            return dt.date(int(match[1]), int(match[2]), int(match[3]))
        serial = float(text)
    except ValueError:
        raise BadValue("not a date (expected e.g. 1990-01-02)") from None
    # An Excel day number (CSV exported from a sheet whose date column lost its format).
    if not (1 <= serial < 2958466 and serial.is_integer()):
        raise BadValue("not a date (expected e.g. 1990-01-02)")
    return _EXCEL_EPOCH + dt.timedelta(days=int(serial))


_FULLWIDTH_DIGITS = {code: code - 0xFEE0 for code in range(0xFF10, 0xFF1A)} | {
    0xFF0D: ord("-"),
    0xFF0F: ord("/"),
}


def parse_amount(cell: Cell) -> tuple[Decimal, str | None]:
    """(amount, currency if the text names one) from 12,345.60 / ¥12,345.60 / 1.2万 / 3亿 / $100.

    Raises :class:`BadValue` for text that is not an amount, a negative one, or one too large to store.
    """
    currency: str | None = None
    if isinstance(cell, int | float) and not isinstance(cell, bool):
        value = Decimal(repr(cell)) if isinstance(cell, float) else Decimal(cell)
    elif isinstance(cell, str) and _PLAIN_AMOUNT.fullmatch(cell):
        value = Decimal(cell.replace(",", ""))  # 12,345.60: the general path below would do just this
    else:
        text = cell_text(cell).translate(_FULLWIDTH_DIGITS).replace("．", ".")
        for symbol in ("HK$", "US$", "$", "€"):
            if symbol in text:
                currency, text = _CURRENCIES[symbol.lower()], text.replace(symbol, "")
        if any(mark in text for mark in ("¥", "￥", "元", "人民币", "RMB", "CNY")):
            currency = "CNY"
        text = _AMOUNT_NOISE.sub("", text)
        scale = Decimal(1)
        if text.endswith("万"):
            scale, text = Decimal(10_000), text[:-1]
        elif text.endswith("亿"):
            scale, text = Decimal(100_000_000), text[:-1]
        try:
            # Overflow (1e1000000 × 万), InvalidOperation (sNaN, text): all mean "not an amount" here
            value = Decimal(text) * scale
        except DecimalException:
            raise BadValue("not an amount (expected e.g. 12,345.60 or 1.2万)") from None
    if not value.is_finite():
        raise BadValue("not an amount")
    if value < 0:
        raise BadValue("negative amount")
    if value > _MONEY_MAX:
        raise BadValue("amount too large")
    return value.quantize(Decimal("0.01")), currency


def parse_currency(cell: Cell) -> str:
    """An ISO 4217 code from CNY / 人民币 / 美元 / HKD …; raises :class:`BadValue` otherwise."""
    text = cell_text(cell)
    code = _CURRENCIES.get(text.casefold())
    if code is not None:
        return code
    if len(text) == 3 and text.isascii() and text.isalpha():
        return text.upper()
    raise BadValue("unknown currency")


def parse_gender(cell: Cell) -> str | None:
    """'M', 'F', or None for 未知/blank, from 男/女/M/F/1/2/male/female; :class:`BadValue` otherwise."""
    text = cell_text(cell).casefold()
    if text in _MALE:
        return "M"
    if text in _FEMALE:
        return "F"
    if text in _UNKNOWN:
        return None
    raise BadValue("not a gender (expected 男/女, M/F or 1/2)")


def split_multi(text: str) -> list[str]:
    """The parts of a cell holding several values: split at , ; / 、 | and line breaks."""
    return [part.strip() for part in _MULTI_SPLIT.split(text) if part.strip()]
