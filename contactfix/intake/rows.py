"""One row of a bank batch or court export → a normalised party record, plus its issues.

A row is rejected only when it cannot identify anyone — no name, or a name with no ID number,
phone or birth date — or, in a bank batch, when it has no reference (the bank's key for the debtor).
Any other bad field is dropped with a warning and the rest of the row kept. Reasons never hold an
unmasked ID or phone number.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Literal

from contactfix.intake.fields import (
    MISTYPED,
    THIRD_PARTY,
    ContactValue,
    Identity,
    RowCells,
    read_addresses,
    read_birth_date,
    read_emails,
    read_gender,
    read_identity,
    read_phones,
)
from contactfix.intake.headers import HeaderMap
from contactfix.intake.reader import Cell, UnreadableRow
from contactfix.intake.receipt import Issue, error_text
from contactfix.intake.values import BadValue, cell_text, parse_amount, parse_currency, parse_date
from matchers.errors import InvalidCaseNumber
from matchers.identifiers import (
    is_company_name,
    normalize_company_name,
    normalize_person_name,
    parse_case_number,
)
from matchers.text import to_halfwidth

__all__ = ["ContactValue", "PartyRecord", "RowNormaliser", "RowResult", "court_role"]

Kind = Literal["bank", "court"]

# Court roles as courts write them → contactfix's words; role_original keeps the court's word.
_ROLES = {
    "被告": "defendant", "原审被告": "defendant", "被告人": "defendant",
    "原告": "plaintiff", "原审原告": "plaintiff",
    "第三人": "third_party", "原审第三人": "third_party", "案外人": "third_party",
    "被执行人": "judgment_debtor", "申请执行人": "judgment_creditor",
    "上诉人": "appellant", "被上诉人": "appellee",
    "申请人": "applicant", "再审申请人": "applicant", "被申请人": "respondent",
    "担保人": "guarantor", "保证人": "guarantor",
}  # fmt: skip
_ROLE_WORDS = frozenset(_ROLES.values())
_FILED_RANGE = (dt.date(1949, 10, 1), dt.date(2100, 1, 1))
_SPACES = re.compile(r"\s+")


@dataclass(slots=True)
class PartyRecord:
    """A row normalised: the party, its identifiers, its contacts, and bank or court specifics."""

    row: int
    record_key: str
    reference: str | None
    name_original: str
    name: str
    party_type: str = "person"
    id_type: str | None = None
    id_number: str | None = None
    id_prefix: str | None = None
    id_suffix: str | None = None
    birth_date: dt.date | None = None
    gender: str | None = None
    county_code: str | None = None
    address: str | None = None
    case_year: int | None = None
    court_code: str | None = None
    case_type: str | None = None
    case_sequence: int | None = None
    role: str | None = None
    role_original: str | None = None
    observed_on: dt.date | None = None
    contract_number: str | None = None
    product: str | None = None
    amount_owed: Decimal | None = None
    currency: str = "CNY"
    contacts: list[ContactValue] = field(default_factory=list)


@dataclass(slots=True)
class RowResult:
    """What became of one row: a record (None when rejected) and every issue found in it."""

    record: PartyRecord | None
    issues: list[Issue]


def court_role(raw: str) -> str | None:
    """contactfix's word for a court role (被告 → defendant, 被执行人 → judgment_debtor …), or None."""
    text = _SPACES.sub("", to_halfwidth(raw))
    return _ROLES.get(text) or (text.casefold() if text.casefold() in _ROLE_WORDS else None)


@lru_cache(maxsize=1 << 14)
def _company_name(raw: str) -> str | None:
    return normalize_company_name(raw) if is_company_name(raw) else None


class RowNormaliser:
    """Turns rows of one file into :class:`PartyRecord` s. ``observed_on`` dates a bank row's contacts."""

    def __init__(
        self,
        kind: Kind,
        header_map: HeaderMap,
        organization_id: int,
        observed_on: dt.date,
        max_field_length: int,
        *,
        record_key_secret: bytes | None = None,
    ) -> None:
        if kind == "court" and not record_key_secret:
            raise ValueError("a court file's record keys need their secret (contactfix.privacy.hash_secrets)")
        self.kind, self.header_map, self.organization_id = kind, header_map, organization_id
        self.observed_on, self.max_field_length = observed_on, max_field_length
        self.record_key_secret = record_key_secret or b""
        self.today = dt.date.today()

    def normalise(self, number: int, cells: Sequence[Cell]) -> RowResult:
        """Normalise one data row; never raises for bad data (that becomes issues)."""
        if type(cells) is UnreadableRow:
            return RowResult(None, [Issue.rejection(number, "row", cells.reason)])
        row = RowCells(number, cells, self.header_map.columns, self.max_field_length)
        if len(cells) > self.header_map.mapped and any(cell_text(c) for c in cells[self.header_map.mapped :]):
            row.warn("row", f"{len(cells)} cells but {self.header_map.mapped} headers: extra cells ignored")
        identity = read_identity(row)
        record = self._party(row, identity)
        if record is None:
            return RowResult(None, row.issues)
        phones = read_phones(row, keep_mistyped=self.kind == "bank")
        record.contacts = phones + read_addresses(row) + read_emails(row)
        if self.kind == "bank":
            own = {c.value for c in record.contacts}
            record.contacts += [c for c in read_phones(row, "third_party_phone") if c.value not in own]
        record.address = next((c.value for c in record.contacts if c.channel == "address"), None)
        if self.kind == "bank":
            self._bank_fields(row, record)
        else:
            self._court_fields(row, record)
        if (
            record.id_type is None
            and record.birth_date is None
            and not any(
                c.channel == "phone" and c.line_type not in (THIRD_PARTY, MISTYPED) for c in record.contacts
            )
        ):
            row.issues.append(
                Issue.rejection(number, "name", "a name without an ID number, phone or birth date")
            )
            return RowResult(None, row.issues)
        if self.kind == "bank" and record.reference is None:
            row.issues.append(
                Issue.rejection(number, "reference", "no reference (the bank's key for the debtor)")
            )
            return RowResult(None, row.issues)
        return RowResult(record, row.issues)

    def _party(self, row: RowCells, identity: Identity | None) -> PartyRecord | None:
        raw = row.text("name")
        company = _company_name(raw) if raw else None
        if raw and company is None and identity is not None and identity.id_type == "credit_code":
            company = normalize_company_name(raw)
        name = company if company is not None else (normalize_person_name(raw).normalized if raw else "")
        if raw is None or not name:
            row.issues.append(Issue.rejection(row.number, "name", "no name"))
            return None
        is_company = company is not None or (identity is not None and identity.id_type == "credit_code")
        record = PartyRecord(row.number, "", None, raw, name, "company" if is_company else "person")
        if identity is not None:
            record.id_type, record.id_number = identity.id_type, identity.number
            record.id_prefix, record.id_suffix = identity.prefix, identity.suffix
            record.county_code = identity.county_code
        if not is_company:
            record.birth_date = read_birth_date(row, identity, self.today)
            record.gender = read_gender(row, identity)
        return record

    def _bank_fields(self, row: RowCells, record: PartyRecord) -> None:
        record.reference = row.text("reference")
        record.record_key = f"bank:{self.organization_id}:{record.reference}"
        record.observed_on = self._lost_on(row)
        record.contract_number = row.text("contract_number")
        record.product = row.text("product")
        amount_cell = row.cell("amount")
        if amount_cell is not None:
            try:
                record.amount_owed, currency = parse_amount(amount_cell)
                record.currency = currency or record.currency
            except BadValue as exc:
                row.warn("amount", f"{error_text(exc)}, dropped")
        currency_cell = row.cell("currency")
        if currency_cell is not None:
            try:
                record.currency = parse_currency(currency_cell)
            except BadValue as exc:
                row.warn("currency", f"{error_text(exc)}, {record.currency} assumed")

    def _lost_on(self, row: RowCells) -> dt.date:
        """The day the bank lost the debtor (``lost_on``), else the submission's date: it dates the
        bank record, whose contacts are all known to have failed as of then."""
        cell = row.cell("lost_on")
        if cell is None:
            return self.observed_on
        try:
            lost_on = parse_date(cell, earliest=_FILED_RANGE[0], latest=_FILED_RANGE[1])
        except BadValue as exc:
            row.warn("lost_on", f"{error_text(exc)}; the submission date {self.observed_on} stands")
            return self.observed_on
        if lost_on > self.observed_on:
            row.warn("lost_on", f"after the submission date; the submission date {self.observed_on} stands")
            return self.observed_on
        return lost_on

    def _court_fields(self, row: RowCells, record: PartyRecord) -> None:
        case_text = row.text("case_number")
        if case_text is not None:
            try:
                case = parse_case_number(case_text)
            except InvalidCaseNumber as exc:
                row.warn("case_number", f"case number does not parse ({error_text(exc)}); kept as written")
                record.reference = case_text
            else:
                record.reference = case.canonical
                record.case_year, record.court_code = case.year, case.court_code
                record.case_type, record.case_sequence = case.case_type, case.sequence
        record.reference = record.reference or row.text("reference")
        role_text = row.text("role")
        if role_text is not None:
            record.role_original, record.role = role_text, court_role(role_text)
            if record.role is None:
                row.warn("role", "unknown role, kept as written")
        filed = row.cell("filed_on")
        record.observed_on = self.observed_on
        if filed is not None:
            try:
                record.observed_on = parse_date(filed, earliest=_FILED_RANGE[0], latest=self.today)
            except BadValue as exc:
                row.warn("filed_on", f"{error_text(exc)}, dropped")
        record.record_key = _court_key(record, case_text is not None, self.record_key_secret)


def _court_key(record: PartyRecord, has_case: bool, secret: bytes) -> str:
    """Deterministic: the same party of the same case imported again updates its record.

    Keyed (HMAC-SHA-256 under ``secret``, see :mod:`contactfix.privacy.hash_secrets`) over the SHA-256
    of the party's fields: a plain digest would give the ID number back to whoever tries the
    sequence numbers its clear name and birth date leave open. The inner digest is what keys stored
    before they were keyed held, so migration 0011 could key those without the fields."""
    identifier = record.id_number or f"{record.id_prefix or ''}*{record.id_suffix or ''}"
    parts = [
        record.reference or "" if has_case else f"ref:{record.reference or ''}",
        record.name,
        identifier if record.id_type else "",
        record.role or record.role_original or "",
    ]
    inner = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:48]
    return "court:" + court_key_of_digest(inner, secret)


def court_key_of_digest(inner: str, secret: bytes) -> str:
    """The keyed part of a court record's key, from the plain digest of its fields (48 hex digits)."""
    return hmac.new(secret, inner.encode("ascii"), hashlib.sha256).hexdigest()[:48]
