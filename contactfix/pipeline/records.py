"""Source records as the matchers take them: one row per record in the canonical person columns.

``id`` is the source record's id (as text); ``id_number`` is the full number, or for a masked one
its visible prefix and suffix around asterisks (``350103********1234``) so that the engine's masked-ID
comparison applies; ``phone`` is the record's most recently seen phone. Each record also gets a
fingerprint of exactly that and its contacts: a record whose fingerprint is unchanged need not be
compared again, whatever its ``updated_at`` says. Rows are always in id order:
the linker's results, and hence ties between equally strong links, then do not depend on how the
database happened to return them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from sqlalchemy import ColumnElement, Connection, Integer, Select, String, any_, bindparam, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.types import TypeEngine

from contactfix.db.models import NOT_THE_PERSONS, Contact, ContactChannel, IdType, SourceRecord
from contactfix.privacy import KeyedHash, keyed_hash
from matchers.inputs import table_from_columns
from matchers.normalize import RawTable

__all__ = [
    "COLUMNS",
    "IN_CHUNK",
    "LoadedRecords",
    "among",
    "batches",
    "chunks",
    "fingerprint",
    "load_records",
    "masked_form",
]

COLUMNS = ("id", "name", "id_number", "birth_date", "gender", "phone", "address")
# Ids per IN list: well under SQLite's variable limit, and short statements for PostgreSQL.
IN_CHUNK = 5000
_T = TypeVar("_T", int, str)
_FULL_LENGTH = 18
PURPOSE_FINGERPRINT = "fingerprint"


@dataclass(frozen=True)
class LoadedRecords:
    """Records in id order, as a matchers table, with the ``updated_at`` and the fingerprint (see
    :func:`fingerprint`) each was read with."""

    ids: list[int]
    updated_at: list[dt.datetime]
    fingerprints: list[str]
    table: RawTable

    def take(self, rows: Sequence[int]) -> LoadedRecords:
        """The records at positions ``rows`` (ascending), as their own table."""
        index = np.asarray(rows, dtype=np.int64)
        table = RawTable(self.table.ids[index], {k: c.subset(index) for k, c in self.table.columns.items()})
        pick = index.tolist()
        return LoadedRecords(
            [self.ids[k] for k in pick],
            [self.updated_at[k] for k in pick],
            [self.fingerprints[k] for k in pick],
            table,
        )


def chunks(ids: Sequence[_T], size: int = IN_CHUNK) -> Iterator[list[_T]]:
    """``ids`` in lists of at most ``size``, for IN clauses."""
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


def batches(connection: Connection, ids: Sequence[_T]) -> Iterator[list[_T]]:
    """``ids`` in as few lists as the database takes in one condition (see :func:`among`): all at once
    on PostgreSQL, in :func:`chunks` elsewhere. Nothing when ``ids`` is empty."""
    if connection.dialect.name != "postgresql":
        yield from chunks(ids)
    elif len(ids):
        yield list(ids)


def among(
    connection: Connection,
    column: InstrumentedAttribute[_T] | ColumnElement[_T],
    ids: Sequence[_T],
    element: type[Integer] | type[String] | TypeEngine[Any] = Integer,
) -> ColumnElement[bool]:
    """``column`` is one of ``ids`` (``element``: their SQL type; ``Sealed()`` for a sealed column, so
    that each value is sealed as the column's own comparisons seal it): one array parameter on PostgreSQL
    (``= ANY``), where a list of thousands of parameters costs more to send and parse than to run;
    ``IN`` elsewhere."""
    if connection.dialect.name == "postgresql":
        return column == any_(bindparam(None, list(ids), type_=ARRAY(element)))
    return column.in_(list(ids))


def masked_form(prefix: str | None, suffix: str | None) -> str | None:
    """A masked resident ID as courts print it: the visible ends around asterisks (18 characters)."""
    if not prefix and not suffix:
        return None
    hidden = max(_FULL_LENGTH - len(prefix or "") - len(suffix or ""), 1)
    return f"{prefix or ''}{'*' * hidden}{suffix or ''}"


def _record_query() -> Select[*tuple[Any, ...]]:
    return select(
        SourceRecord.id,
        SourceRecord.name,
        SourceRecord.id_type,
        SourceRecord.id_number,
        SourceRecord.id_prefix,
        SourceRecord.id_suffix,
        SourceRecord.birth_date,
        SourceRecord.gender,
        SourceRecord.address,
        SourceRecord.updated_at,
    ).order_by(SourceRecord.id)


def _contacts(
    connection: Connection, ids: Sequence[int] | None, since: dt.datetime | None
) -> dict[int, list[tuple[str, str]]]:
    """Per record, its contacts as (channel, value), oldest seen first (ties: the one stored first).

    Not the numbers a bank holds for someone else (an emergency contact's) nor its misspelt ones:
    matching a court record on them would link the debtor to a relative or to no one.
    """
    query = select(Contact.source_record_id, Contact.channel, Contact.value)
    query = query.where(or_(Contact.line_type.is_(None), Contact.line_type.not_in(NOT_THE_PERSONS)))
    query = query.order_by(Contact.source_record_id, Contact.last_seen, Contact.id)
    if since is not None:
        recent = select(SourceRecord.id).where(SourceRecord.updated_at >= since)
        query = query.where(Contact.source_record_id.in_(recent))
    found: dict[int, list[tuple[str, str]]] = {}
    parts: Iterable[list[int] | None] = [None] if ids is None else batches(connection, ids)
    for batch in parts:
        bounded = query if batch is None else query.where(among(connection, Contact.source_record_id, batch))
        for record_id, channel, value in connection.execute(bounded):
            found.setdefault(record_id, []).append((channel, value))
    return found


def fingerprint(
    values: Sequence[str | None], contacts: Sequence[tuple[str, str]], hasher: KeyedHash | None = None
) -> str:
    """A digest of what resolution reads of a record: its person columns and every contact.

    Keyed (HMAC under the ``fingerprint`` key, ``hasher``): it is stored, and a plain digest of a
    record whose name, birth date, gender and county are in clear would give its encrypted ID number
    back to whoever tries its thousand possible sequence numbers. A new data key changes every
    fingerprint, so the next run compares every record again (as ``reconcile --full`` does anyway).
    """
    text = (
        "\x1f".join(v or "" for v in values) + "\x1e" + "\x1f".join(sorted(f"{c}:{v}" for c, v in contacts))
    )
    return (hasher or keyed_hash(PURPOSE_FINGERPRINT)).hexdigest(text, 24)


def load_records(
    connection: Connection,
    ids: Sequence[int] | None = None,
    *,
    since: dt.datetime | None = None,
    fingerprints: bool = True,
) -> LoadedRecords:
    """The records ``ids`` (all records when None; with ``since``, those updated at or after it), in
    id order, as a matchers table. Rows stream into columns: a million records are never held as rows.
    ``fingerprints=False`` leaves them empty (records read only to be compared)."""
    wanted = None if ids is None else sorted(set(ids))
    hasher = keyed_hash(PURPOSE_FINGERPRINT)
    contacts = _contacts(connection, wanted, since)
    columns: dict[str, list[str | None]] = {name: [] for name in COLUMNS}
    record_ids: list[int] = []
    updated: list[dt.datetime] = []
    digests: list[str] = []
    parts: Iterable[list[int] | None] = [None] if wanted is None else batches(connection, wanted)
    for batch in parts:
        query = _record_query()
        query = query if batch is None else query.where(among(connection, SourceRecord.id, batch))
        if since is not None:
            query = query.where(SourceRecord.updated_at >= since)
        for row in connection.execute(query):
            own = contacts.pop(row.id, [])
            values = _values(row, own)
            for name, value in zip(COLUMNS, values, strict=True):
                columns[name].append(value)
            record_ids.append(row.id)
            updated.append(row.updated_at)
            digests.append(fingerprint(values, own, hasher) if fingerprints else "")
    table = table_from_columns(list(COLUMNS), columns, "source_records")
    return LoadedRecords(record_ids, updated, digests, table)


def _values(row: Any, contacts: Sequence[tuple[str, str]]) -> tuple[str | None, ...]:
    """A record's values in :data:`COLUMNS` order."""
    masked = row.id_type == IdType.RESIDENT_ID_MASKED.value
    phones = [value for channel, value in contacts if channel == ContactChannel.PHONE.value]
    return (
        str(row.id),
        row.name,
        masked_form(row.id_prefix, row.id_suffix) if masked else row.id_number,
        row.birth_date.isoformat() if row.birth_date else None,
        row.gender,
        phones[-1] if phones else None,  # the one seen last
        row.address,
    )
