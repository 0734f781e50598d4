"""Read each field of one row: its cells by field, identifiers, birth date, gender and contacts.

Every reader drops a bad value with a warning on the row and never puts an unmasked ID or phone
number in a reason.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from contactfix.db.models import MISTYPED_LINE, THIRD_PARTY_LINE, Contact, Debtor, SourceRecord
from contactfix.intake.reader import Cell
from contactfix.intake.receipt import Issue, error_text
from contactfix.intake.values import BadValue, cell_text, excel_mangled, parse_date, parse_gender, split_multi
from matchers.errors import InvalidCreditCode, InvalidIdNumber, InvalidPhone
from matchers.identifiers import Phone, mask_id, mask_phone, parse_credit_code, parse_phone, parse_resident_id
from matchers.text import to_halfwidth

__all__ = [
    "ContactValue",
    "Identity",
    "RowCells",
    "read_addresses",
    "read_birth_date",
    "read_emails",
    "read_gender",
    "read_identity",
    "read_phones",
]

_RESIDENT_SHAPE = re.compile(r"[0-9]{14,19}[0-9X]?|[0-9X*]{15,18}")
_OTHER_ID = re.compile(r"[0-9A-Z()（）]{5,30}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_SPACES = re.compile(r"\s+")
_SHORT = 16  # no field may be limited below this (intake_max_field_length >= 16)
_MIN_PHONE_DIGITS = 7  # a local number without its area code
_BIRTH_RANGE = (dt.date(1900, 1, 1), dt.date(2100, 1, 1))
_ID_TYPE_HINTS = {
    "身份证": "resident_id", "居民身份证": "resident_id", "二代身份证": "resident_id",
    "港澳台居民居住证": "residence_permit", "居住证": "residence_permit",
    "统一社会信用代码": "credit_code", "营业执照": "credit_code", "信用代码": "credit_code",
    "护照": "other", "港澳通行证": "other", "台胞证": "other", "军官证": "other", "其他": "other",
    "resident_id": "resident_id", "credit_code": "credit_code", "passport": "other", "other": "other",
}  # fmt: skip


def _length(column: object) -> int:
    return int(getattr(getattr(column, "type", None), "length", None) or 10_000)


# Where a field ends up limits its length as much as max_field_length does.
_COLUMN_LENGTH = {
    "reference": _length(SourceRecord.__table__.c.reference),
    "case_number": _length(SourceRecord.__table__.c.reference),
    "name": _length(SourceRecord.__table__.c.name),
    "id_number": _length(SourceRecord.__table__.c.id_number),
    "address": _length(SourceRecord.__table__.c.address),
    "role": _length(SourceRecord.__table__.c.role_original),
    "contract_number": _length(Debtor.__table__.c.contract_number),
    "product": _length(Debtor.__table__.c.product),
    "email": _length(Contact.__table__.c.value),
    "phone": _length(Contact.__table__.c.value),
    "third_party_phone": _length(Contact.__table__.c.value),
}
# The line type that marks a phone the bank holds for someone else (its emergency-contact columns).
THIRD_PARTY = THIRD_PARTY_LINE
# The line type of a mobile a bank's batch mistyped (a digit dropped or doubled: 10 or 12 digits). It
# is kept, never dialled, for what it says: the bank lost the debtor on the number it misspells, so a
# court filing that carries the well-typed number is no news (contactfix.pipeline.ranking, slips).
MISTYPED = MISTYPED_LINE
# A Chinese mobile with one digit too few or too many, after an optional +86 / 0086 / 86: what a typist
# does to an 11-digit number. Valid mobiles are all 11 digits, so such a value misspells one.
_MISTYPED_MOBILE = re.compile(r"(?:\+86|0086|86)?(1[3-9][0-9]{8}|1[3-9][0-9]{10})")
_NOT_DIGITS = re.compile(r"[\s\-.()（）]")


@dataclass(slots=True)
class ContactValue:
    """A phone (``value`` in E.164), address or e-mail found in a row, and how the row wrote it."""

    channel: str
    value: str
    value_original: str
    line_type: str | None = None
    region: str | None = None
    carrier: str | None = None


@dataclass(slots=True)
class Identity:
    """What the ID number cell told: its kind, the number or its visible parts, birth date, gender."""

    id_type: str
    number: str | None = None
    prefix: str | None = None
    suffix: str | None = None
    birth_date: dt.date | None = None
    gender: str | None = None
    county_code: str | None = None


class RowCells:
    """One row being read: its cells by field, and the issues found so far."""

    __slots__ = ("cells", "columns", "issues", "limit", "number")

    def __init__(self, number: int, cells: Sequence[Cell], columns: dict[str, list[int]], limit: int) -> None:
        self.number, self.cells, self.columns, self.limit = number, cells, columns, limit
        self.issues: list[Issue] = []

    def warn(self, field_name: str, reason: str) -> None:
        self.issues.append(Issue(self.number, field_name, reason))

    def all(self, field_name: str) -> list[Cell]:
        """Every non-blank cell of the field's columns, in column order."""
        found: list[Cell] = []
        cells = self.cells
        for at in self.columns.get(field_name, ()):
            if at < len(cells):
                cell = cells[at]
                if cell is not None and (type(cell) is not str or cell.strip()):
                    found.append(cell)
        return found

    def cell(self, field_name: str) -> Cell:
        """The first non-blank cell of the field, or None."""
        cells = self.cells
        for at in self.columns.get(field_name, ()):
            if at < len(cells):
                cell = cells[at]
                if cell is not None and (type(cell) is not str or cell.strip()):
                    return cell
        return None

    def fits(self, field_name: str, text: str) -> bool:
        """False (with a warning) when ``text`` is longer than the field may be."""
        if len(text) <= _SHORT:  # nearly every field: no limit lookup needed
            return True
        limit = min(self.limit, _COLUMN_LENGTH.get(field_name, self.limit))
        if len(text) <= limit:
            return True
        self.warn(field_name, f"longer than {limit} characters ({len(text)}), dropped")
        return False

    def text(self, field_name: str) -> str | None:
        """The field as stripped text, or None when blank or too long."""
        cell = self.cell(field_name)
        if cell is None:
            return None
        text = cell.strip() if type(cell) is str else cell_text(cell)  # a CSV cell: skip the type tests
        return text if text and self.fits(field_name, text) else None


def _id_type_hint(row: RowCells) -> str | None:
    text = row.text("id_type")
    if text is None:
        return None
    hint = _ID_TYPE_HINTS.get(_SPACES.sub("", text).casefold())
    if hint is None:
        row.warn("id_type", "unknown ID type, ignored")
    return hint


def read_identity(row: RowCells) -> Identity | None:
    hint = _id_type_hint(row)
    cell = row.cell("id_number")
    if cell is None:
        return None
    if excel_mangled(cell):
        row.warn(
            "id_number",
            "stored as a number by Excel, digits beyond the 15th are lost (e.g. 3.50103E+17): "
            "format the column as text and export again; dropped",
        )
        return None
    text = cell_text(cell)
    if not row.fits("id_number", text):
        return None
    if text.isascii() and text.isalnum():  # the usual cell: nothing to take out or widen
        canon = text.upper()
    else:
        canon = _SPACES.sub("", to_halfwidth(text)).upper().replace("-", "")
    if hint == "other":
        return Identity("other", canon)
    if hint == "credit_code" or (hint is None and len(canon) == 18 and not _RESIDENT_SHAPE.fullmatch(canon)):
        return _credit_code(row, text, canon)
    try:
        parsed = parse_resident_id(text)
    except InvalidIdNumber as exc:
        if hint is None and len(canon) == 18 and _valid_credit_code(canon):  # an all-digit credit code
            return Identity("credit_code", canon)
        return _other_identity(row, text, canon, hint, exc)
    identity = Identity(
        "resident_id_masked" if parsed.masked else "resident_id",
        parsed.number,
        parsed.prefix,
        parsed.suffix,
        parsed.birth_date,
        parsed.gender,
        parsed.county_code,
    )
    if not parsed.masked and parsed.region != "mainland":
        identity.id_type = "residence_permit"
    return identity


def _valid_credit_code(canon: str) -> bool:
    try:
        parse_credit_code(canon)
    except InvalidCreditCode:
        return False
    return True


def _credit_code(row: RowCells, text: str, canon: str) -> Identity | None:
    try:
        return Identity("credit_code", parse_credit_code(canon).code)
    except InvalidCreditCode as exc:
        row.warn(
            "id_number", f"invalid unified social credit code {mask_id(text)}: {error_text(exc)}; dropped"
        )
        return None


def _other_identity(
    row: RowCells, text: str, canon: str, hint: str | None, exc: Exception
) -> Identity | None:
    """A value that is not a resident ID: a bad one (warning) or another kind of identifier."""
    if hint is None and not _RESIDENT_SHAPE.fullmatch(canon) and _OTHER_ID.fullmatch(canon):
        return Identity("other", canon)
    reason = f"invalid ID number {mask_id(text)}: {error_text(exc)}"
    if len(canon) == 18 and canon.isdigit() and canon.endswith("000"):
        reason += " (ends in 000: Excel may have cut the digits beyond the 15th)"
    row.warn("id_number", reason + "; dropped")
    return None


def read_birth_date(row: RowCells, identity: Identity | None, today: dt.date) -> dt.date | None:
    from_id = identity.birth_date if identity is not None else None
    cell = row.cell("birth_date")
    given: dt.date | None = None
    if cell is not None:
        try:
            given = parse_date(cell, earliest=_BIRTH_RANGE[0], latest=today)
        except BadValue as exc:
            row.warn("birth_date", f"{error_text(exc)}, dropped")
    if from_id is not None and given is not None and given != from_id:
        row.warn("birth_date", "contradicts the birth date in the ID number; the ID's is kept")
    return from_id or given


def read_gender(row: RowCells, identity: Identity | None) -> str | None:
    from_id = identity.gender if identity is not None else None
    cell = row.cell("gender")
    given: str | None = None
    if cell is not None:
        try:
            given = parse_gender(cell)
        except BadValue as exc:
            row.warn("gender", f"{error_text(exc)}, dropped")
    if from_id is not None and given is not None and given != from_id:
        row.warn("gender", "contradicts the gender in the ID number; the ID's is kept")
    return from_id or given


def read_phones(
    row: RowCells, field_name: str = "phone", *, keep_mistyped: bool = False
) -> list[ContactValue]:
    """The phones of the row's ``field_name`` columns; those of ``third_party_phone`` (someone else's
    number the bank holds for the debtor) carry the line type :data:`THIRD_PARTY`.

    ``keep_mistyped`` (a bank's own phone columns): an invalid value that misspells a mobile (10 or 12
    digits) is kept with the line type :data:`MISTYPED`, as ``+86`` and its digits; never dialled.
    """
    found: dict[str, ContactValue] = {}
    for cell in row.all(field_name):
        text = cell_text(cell)
        if not row.fits(field_name, text):
            continue
        for part in split_multi(text):
            for raw, phone in _phones_in(row, part, keep_mistyped=keep_mistyped):
                if isinstance(phone, str):
                    found.setdefault(phone, ContactValue("phone", phone, raw, MISTYPED))
                    continue
                line_type = THIRD_PARTY if field_name == "third_party_phone" else phone.line_type
                found.setdefault(
                    phone.e164,
                    ContactValue("phone", phone.e164, raw, line_type, phone.region, phone.carrier),
                )
    return list(found.values())


def _phones_in(row: RowCells, part: str, *, keep_mistyped: bool) -> list[tuple[str, Phone | str]]:
    """The phones in one part of a cell: the whole part, else its whitespace-separated pieces; a
    mistyped mobile (with ``keep_mistyped``) as the string ``+86…`` of its digits.

    The part is split only when every piece is long enough to be a number on its own, so that an
    invalid "138 0013 800" is one warning, not three.
    """
    try:
        return [(part, parse_phone(part))]
    except InvalidPhone as exc:
        pieces = part.split()
        if len(pieces) == 1 or any(sum(ch.isdigit() for ch in piece) < _MIN_PHONE_DIGITS for piece in pieces):
            return _invalid(row, part, exc, keep_mistyped)
    found: list[tuple[str, Phone | str]] = []
    for piece in pieces:
        try:
            found.append((piece, parse_phone(piece)))
        except InvalidPhone as exc:
            found += _invalid(row, piece, exc, keep_mistyped)
    return found


def _invalid(
    row: RowCells, raw: str, exc: InvalidPhone, keep_mistyped: bool
) -> list[tuple[str, Phone | str]]:
    """An invalid phone: a warning, and the mistyped mobile kept when asked."""
    mistyped = _MISTYPED_MOBILE.fullmatch(_NOT_DIGITS.sub("", to_halfwidth(raw))) if keep_mistyped else None
    if mistyped is None:
        row.warn("phone", f"invalid phone {mask_phone(raw)}: {error_text(exc)}; dropped")
        return []
    row.warn(
        "phone",
        f"invalid phone {mask_phone(raw)}: {error_text(exc)}; kept as a misspelt number the debtor was"
        " lost on, never dialled",
    )
    return [(raw, "+86" + mistyped.group(1))]


def read_addresses(row: RowCells) -> list[ContactValue]:
    found: dict[str, ContactValue] = {}
    for cell in row.all("address"):
        raw = cell_text(cell)
        if row.fits("address", raw):
            value = _SPACES.sub(" ", to_halfwidth(raw)).strip()
            found.setdefault(value, ContactValue("address", value, raw))
    return list(found.values())


def read_emails(row: RowCells) -> list[ContactValue]:
    found: dict[str, ContactValue] = {}
    for cell in row.all("email"):
        for raw in split_multi(cell_text(cell)):
            value = to_halfwidth(raw).strip().lower()
            if not _EMAIL.fullmatch(value):
                row.warn("email", "not an e-mail address, dropped")
            elif row.fits("email", value):
                found.setdefault(value, ContactValue("email", value, raw))
    return list(found.values())
