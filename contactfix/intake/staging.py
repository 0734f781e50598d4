"""Records as the database writer takes them: plain values in column order, cheap to send between processes.

A :class:`StagedRecord` is what a validation worker hands back for one accepted row. Its values are
already what the staging tables take on both databases (dates as ISO text, amounts as decimal text),
so the writing process does no per-field work.
"""

from __future__ import annotations

import datetime as dt
from operator import attrgetter
from typing import NamedTuple

from contactfix.intake.rows import PartyRecord
from contactfix.privacy.respelling import stored_original
from contactfix.privacy.sealing import field_cipher

__all__ = ["CONTACT_FIELDS", "DEBTOR_FIELDS", "RECORD_COLUMNS", "StagedRecord", "merge_staged", "stage"]

RECORD_COLUMNS = (
    "record_key", "reference", "case_year", "court_code", "case_type", "case_sequence", "role",
    "role_original", "observed_on", "party_type", "name_original", "name", "id_type", "id_number",
    "id_prefix", "id_suffix", "birth_date", "gender", "county_code", "address",
)  # fmt: skip
DEBTOR_FIELDS = ("reference", "party_type", "name_original", "name", "id_type", "id_number", "birth_date",
                 "gender", "contract_number", "product", "amount_owed", "currency")  # fmt: skip
CONTACT_FIELDS = ("channel", "value", "value_original", "line_type", "region", "carrier")

# Fields a later row replaces only when it has a value, and the ID fields that move as one group;
# the same rules as the database upsert, so where a file's batches are cut changes nothing.
_ALWAYS = frozenset({"record_key", "party_type", "name_original", "name"})
_ID_GROUP = frozenset({"id_type", "id_number", "id_prefix", "id_suffix", "county_code"})
_RECORD_ID_TYPE = RECORD_COLUMNS.index("id_type")
_DEBTOR_ID_TYPE = DEBTOR_FIELDS.index("id_type")
_DEBTOR_AMOUNT = DEBTOR_FIELDS.index("amount_owed")


class StagedRecord(NamedTuple):
    """One accepted row: values in :data:`RECORD_COLUMNS` order, debtor values (bank rows) in
    :data:`DEBTOR_FIELDS` order, contacts as :data:`CONTACT_FIELDS` tuples, and the day they were seen."""

    row: int
    record_key: str
    values: tuple[object, ...]
    debtor: tuple[object, ...]
    contacts: tuple[tuple[str | None, ...], ...]
    seen: str | None


_record_values = attrgetter(*RECORD_COLUMNS)
_debtor_values = attrgetter(*DEBTOR_FIELDS)
# Positions of the dates and amounts, the only values that need converting.
_RECORD_DATES = tuple(RECORD_COLUMNS.index(name) for name in ("observed_on", "birth_date"))
_DEBTOR_PLAIN = tuple(DEBTOR_FIELDS.index(name) for name in ("birth_date", "amount_owed"))
_RECORD_ID = RECORD_COLUMNS.index("id_number")
_RECORD_ADDRESS = RECORD_COLUMNS.index("address")
_DEBTOR_ID = DEBTOR_FIELDS.index("id_number")


def _plain(values: tuple[object, ...], positions: tuple[int, ...]) -> list[object]:
    converted = list(values)
    for at in positions:
        value = converted[at]
        if value is not None:
            converted[at] = value.isoformat() if isinstance(value, dt.date) else str(value)
    return converted


def stage(record: PartyRecord, *, debtor: bool) -> StagedRecord:
    """The record as the writer takes it; ``debtor`` adds the bank's debtor values.

    ID numbers, addresses and contacts come out sealed (encryption at rest): the staging tables never
    hold them in clear, and the sealing runs here, in the validation workers, in parallel. Sealing is
    deterministic, so :func:`merge_staged` and the upserts compare sealed values as they compared
    plain ones. A contact as written is kept as :func:`~contactfix.privacy.respelling.stored_original`
    says: NULL when it is the value, a phone's spelling without its digits, else sealed.
    """
    # A file's values are mostly distinct: no memo across rows. Within a row a value repeats (the ID
    # number as the record's and the debtor's, the address as the record's and its contact's value):
    # each is sealed once, as the copies would be the same sealed text.
    seal = field_cipher().seal_once
    values = _plain(_record_values(record), _RECORD_DATES)
    id_number, address = record.id_number, record.address
    sealed_id = values[_RECORD_ID] = None if id_number is None else seal(id_number)
    sealed_address = values[_RECORD_ADDRESS] = None if address is None else seal(address)
    debtor_values: tuple[object, ...] = ()
    if debtor:
        listed = _plain(_debtor_values(record), _DEBTOR_PLAIN)
        listed[_DEBTOR_ID] = sealed_id
        debtor_values = tuple(listed)
    contacts = []
    for c in record.contacts:
        value, original = c.value, c.value_original
        sealed = sealed_address if value == address and c.channel == "address" else seal(value)
        kept = original and stored_original(c.channel, value, original, seal)
        contacts.append((c.channel, sealed, kept, c.line_type, c.region, c.carrier))
    seen = record.observed_on.isoformat() if record.observed_on is not None else None
    return StagedRecord(record.row, record.record_key, tuple(values), debtor_values, tuple(contacts), seen)


def _merge_values(
    names: tuple[str, ...], later: tuple[object, ...], earlier: tuple[object, ...], id_at: int
) -> tuple[object, ...]:
    later_has_id = later[id_at] is not None
    merged = []
    for name, new, old in zip(names, later, earlier, strict=True):
        if name in _ID_GROUP:
            merged.append(new if later_has_id else old)
        elif name in _ALWAYS or new is not None:
            merged.append(new)
        else:
            merged.append(old)
    return tuple(merged)


def merge_staged(later: StagedRecord, earlier: StagedRecord) -> StagedRecord:
    """An earlier row with the same key folded into ``later``, as the database upsert would fold it.

    The later row wins; what it leaves blank keeps the earlier value (the ID fields as one group);
    the currency follows the amount; the contacts of both rows are kept.
    """
    values = _merge_values(RECORD_COLUMNS, later.values, earlier.values, _RECORD_ID_TYPE)
    debtor = later.debtor
    if later.debtor and earlier.debtor:
        debtor = _merge_values(DEBTOR_FIELDS, later.debtor, earlier.debtor, _DEBTOR_ID_TYPE)
        if later.debtor[_DEBTOR_AMOUNT] is None:  # no amount now: the earlier amount and its currency
            debtor = (*debtor[:-1], earlier.debtor[-1])
    known = {contact[:2] for contact in later.contacts}
    contacts = later.contacts + tuple(c for c in earlier.contacts if c[:2] not in known)
    return later._replace(values=values, debtor=debtor, contacts=contacts)
