"""Bulk upserts of normalised records: source records, debtors, contacts and submission issues.

One path for both databases, differing only in how rows reach a staging table and how debtors and
contacts find their source record. PostgreSQL streams the rows with ``COPY`` and merges them in one
statement, the source records' ``RETURNING`` feeding the debtor and contact upserts inside the
database; SQLite takes an ``executemany`` and joins on the record key. The same
``INSERT … SELECT … ON CONFLICT DO UPDATE`` clauses merge them, so writing a batch twice changes
nothing: keys are ``source_records.record_key``, ``debtors (organization_id, reference)`` and
``contacts (source_record_id, channel, value)``. Nothing here commits; the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, insert, text

from contactfix.db.models import SubmissionIssue
from contactfix.intake.receipt import Issue
from contactfix.intake.staging import CONTACT_FIELDS, DEBTOR_FIELDS, RECORD_COLUMNS, StagedRecord

__all__ = ["RecordWriter"]

# Contacts are staged with their record's key: the merge finds the record's id. A debtor is staged
# in its record's row: its other fields are the record's own (the same values, folded by the same
# rules), so only the bank's fields are added, and each row is sent and parsed once, not twice.
# ``at``: the contact's place in the batch (records in file order, a record's contacts in the order
# its cells wrote them). Contacts are inserted in that order, so a record's contacts get ascending ids
# in the order they were written: ranking reads that order (a filing lists the party's own number
# first). Without it the order was the join's: on PostgreSQL, for a full batch, not the file's.
# Debtors likewise follow their records (file order), whatever plan the join gets.
_CONTACT_COLUMNS = ("record_key", *CONTACT_FIELDS, "seen", "at")
_RECORD_COLUMNS = RECORD_COLUMNS
_BANK_FIELDS = ("contract_number", "product", "amount_owed", "currency")
_BANK_AT = len(DEBTOR_FIELDS) - len(_BANK_FIELDS)
assert DEBTOR_FIELDS[_BANK_AT:] == _BANK_FIELDS
assert set(DEBTOR_FIELDS[:_BANK_AT]) <= set(RECORD_COLUMNS)
_STAGED_RECORD_COLUMNS = (*_RECORD_COLUMNS, *_BANK_FIELDS)
_ISSUE_COLUMNS = ("submission_id", "row", "field", "reason", "severity")
_ID_GROUP = ("id_type", "id_number", "id_prefix", "id_suffix", "county_code")
_TYPES = {
    "case_year": "INTEGER", "case_sequence": "INTEGER", "at": "INTEGER",
    "observed_on": "DATE", "birth_date": "DATE", "seen": "DATE", "amount_owed": "NUMERIC(16, 2)",
}  # fmt: skip


def _staging_ddl(name: str, columns: Sequence[str], postgres: bool) -> str:
    body = ", ".join(f"{column} {_TYPES.get(column, 'TEXT')}" for column in columns)
    # PostgreSQL empties the table at each commit; SQLite has no such clause, the writer deletes.
    suffix = " ON COMMIT DELETE ROWS" if postgres else ""
    return f"CREATE TEMPORARY TABLE IF NOT EXISTS {name} ({body}){suffix}"


def _keep_unless_null(table: str, columns: Sequence[str]) -> str:
    # A later file that lacks a column must not erase what an earlier one gave.
    return ", ".join(f"{c} = COALESCE(excluded.{c}, {table}.{c})" for c in columns)


def _id_group(table: str, columns: Sequence[str]) -> str:
    # The ID columns describe one identifier: take them all from the newer row, or none of them.
    return ", ".join(
        f"{c} = CASE WHEN excluded.id_type IS NULL THEN {table}.{c} ELSE excluded.{c} END" for c in columns
    )


def _listed(columns: Sequence[str], prefix: str = "") -> str:
    return ", ".join(prefix + c for c in columns)


_KEPT_RECORD_COLUMNS = [
    c for c in _RECORD_COLUMNS[1:] if c not in _ID_GROUP and c not in ("party_type", "name_original", "name")
]
_UPSERT_RECORDS = f"""
INSERT INTO source_records (source, organization_id, submission_id, {_listed(_RECORD_COLUMNS)})
SELECT :source, :organization_id, :submission_id, {_listed(_RECORD_COLUMNS)} FROM intake_records WHERE true
ON CONFLICT (record_key) DO UPDATE SET
  organization_id = excluded.organization_id, submission_id = excluded.submission_id,
  party_type = excluded.party_type, name_original = excluded.name_original, name = excluded.name,
  {_id_group("source_records", _ID_GROUP)},
  {_keep_unless_null("source_records", _KEPT_RECORD_COLUMNS)},
  updated_at = CURRENT_TIMESTAMP"""
_UPSERT_DEBTORS = f"""
INSERT INTO debtors (organization_id, submission_id, source_record_id, {_listed(DEBTOR_FIELDS)})
SELECT :organization_id, :submission_id, {{record_id}}, {_listed(DEBTOR_FIELDS, "d.")}
FROM intake_records d {{join}} WHERE true ORDER BY {{record_id}}
ON CONFLICT (organization_id, reference) DO UPDATE SET
  source_record_id = excluded.source_record_id, submission_id = excluded.submission_id,
  party_type = excluded.party_type, name_original = excluded.name_original, name = excluded.name,
  {_id_group("debtors", ("id_type", "id_number"))},
  {_keep_unless_null("debtors", ("birth_date", "gender", "contract_number", "product", "amount_owed"))},
  currency = CASE WHEN excluded.amount_owed IS NULL THEN debtors.currency ELSE excluded.currency END,
  updated_at = CURRENT_TIMESTAMP"""
# first_seen only moves back and last_seen only forward, whatever order files arrive in; a
# mediator's status on the contact is never touched by intake.
_UPSERT_CONTACTS = f"""
INSERT INTO contacts (source_record_id, {_listed(CONTACT_FIELDS)}, first_seen, last_seen)
SELECT {{record_id}}, {_listed(CONTACT_FIELDS, "c.")}, c.seen, c.seen
FROM intake_contacts c {{join}} WHERE true ORDER BY c.at
ON CONFLICT (source_record_id, channel, value) DO UPDATE SET
  value_original = excluded.value_original,
  line_type = COALESCE(excluded.line_type, contacts.line_type),
  region = COALESCE(excluded.region, contacts.region),
  carrier = COALESCE(excluded.carrier, contacts.carrier),
  first_seen = CASE WHEN contacts.first_seen IS NULL OR excluded.first_seen < contacts.first_seen
                    THEN excluded.first_seen ELSE contacts.first_seen END,
  last_seen = CASE WHEN contacts.last_seen IS NULL OR excluded.last_seen > contacts.last_seen
                   THEN excluded.last_seen ELSE contacts.last_seen END,
  updated_at = CURRENT_TIMESTAMP"""


def _sqlite_join(alias: str) -> str:
    return f"JOIN source_records r ON r.record_key = {alias}.record_key"


def _merged_join(alias: str) -> str:
    return f"JOIN merged m ON m.record_key = {alias}.record_key"


# SQLite: three statements; debtors and contacts look their record up by its unique key.
_SQLITE_RECORDS = _UPSERT_RECORDS
_SQLITE_DEBTORS = _UPSERT_DEBTORS.format(record_id="r.id", join=_sqlite_join("d"))
_SQLITE_CONTACTS = _UPSERT_CONTACTS.format(record_id="r.id", join=_sqlite_join("c"))
# PostgreSQL: one statement. The records' RETURNING is joined in memory, which costs the server far
# less than one index probe per debtor and contact; the foreign keys are checked at the end of the
# statement, when the new records are visible. Records new to the database (the bulk of a first
# upload) are inserted first, with DO NOTHING for keys that exist: their contacts cannot exist yet
# (a contact's key starts with its record's id, and a row's contacts are unique), so they are
# plainly inserted, without the upsert's speculative insertion and conflict check per contact.
# The records that did exist are then upserted as before, and their contacts with them.
_INSERT_FRESH_RECORDS = f"""
INSERT INTO source_records (source, organization_id, submission_id, {_listed(_RECORD_COLUMNS)})
SELECT :source, :organization_id, :submission_id, {_listed(_RECORD_COLUMNS)} FROM intake_records WHERE true
ON CONFLICT (record_key) DO NOTHING
RETURNING id, record_key"""
_UPSERT_KNOWN_RECORDS = _UPSERT_RECORDS.replace(
    "FROM intake_records WHERE true",
    "FROM intake_records r WHERE NOT EXISTS (SELECT FROM fresh f WHERE f.record_key = r.record_key)",
)
_INSERT_FRESH_CONTACTS = f"""
INSERT INTO contacts (source_record_id, {_listed(CONTACT_FIELDS)}, first_seen, last_seen)
SELECT f.id, {_listed(CONTACT_FIELDS, "c.")}, c.seen, c.seen
FROM intake_contacts c JOIN fresh f ON f.record_key = c.record_key ORDER BY c.at"""
_POSTGRES_RECORDS = (
    f"WITH fresh AS ({_INSERT_FRESH_RECORDS}),\n"
    f"merged AS ({_UPSERT_KNOWN_RECORDS}\nRETURNING id, record_key),\n"
    "written AS (SELECT id, record_key FROM fresh UNION ALL SELECT id, record_key FROM merged),\n"
    f"fresh_contacts AS ({_INSERT_FRESH_CONTACTS})"
)
_POSTGRES_DEBTORS = (
    ", merged_debtors AS ("
    + _UPSERT_DEBTORS.format(record_id="w.id", join="JOIN written w ON w.record_key = d.record_key")
    + ")"
)
_POSTGRES_CONTACTS = _UPSERT_CONTACTS.format(record_id="m.id", join=_merged_join("c"))


class RecordWriter:
    """Writes the batches of one submission through ``connection`` (which the caller commits)."""

    def __init__(
        self, connection: Connection, *, source: str, organization_id: int, submission_id: int
    ) -> None:
        self.connection = connection
        self.postgres = connection.dialect.name == "postgresql"
        self.params = {"source": source, "organization_id": organization_id, "submission_id": submission_id}
        self.submission_id = submission_id
        if not self.postgres:
            # The staging tables hold one batch: memory, not a temporary file (set before they exist).
            connection.exec_driver_sql("PRAGMA temp_store = MEMORY")
        for name, columns in (
            ("intake_records", _STAGED_RECORD_COLUMNS),
            ("intake_contacts", _CONTACT_COLUMNS),
        ):
            connection.exec_driver_sql(_staging_ddl(name, columns, self.postgres))

    def write(self, records: Sequence[StagedRecord], issues: Sequence[Issue], *, debtors: bool) -> None:
        """Upsert ``records`` (keys unique within the call) with their contacts, debtors if ``debtors``,
        and insert ``issues``."""
        if issues:
            self._write_issues(issues)
        if not records:
            return
        if self.postgres:
            # Durability of each batch's commit is not needed: a crash leaves the submission
            # unfinished, and submitting the file again redoes it. Not waiting for the WAL flush
            # lets the next batch start at once.
            self.connection.exec_driver_sql("SET LOCAL synchronous_commit = off")
        self._clear()
        # The values come sealed from staging (encryption at rest): the ID number, address and contacts
        # are never in clear here, in the staging tables, or in the upserts' comparisons.
        if debtors:
            rows = [r.values + r.debtor[_BANK_AT:] for r in records]
            self._stage("intake_records", _STAGED_RECORD_COLUMNS, rows)
        else:
            self._stage("intake_records", _RECORD_COLUMNS, [r.values for r in records])
        written = ((r, c) for r in records for c in r.contacts)
        contacts = [(r.record_key, *c, r.seen, at) for at, (r, c) in enumerate(written)]
        self._stage("intake_contacts", _CONTACT_COLUMNS, contacts)
        if self.postgres:
            merge = _POSTGRES_RECORDS + (_POSTGRES_DEBTORS if debtors else "") + _POSTGRES_CONTACTS
            self.connection.execute(text(merge), self.params)
            return
        for statement in (_SQLITE_RECORDS, _SQLITE_DEBTORS if debtors else None, _SQLITE_CONTACTS):
            if statement is not None:
                self.connection.execute(text(statement), self.params)

    def _write_issues(self, issues: Sequence[Issue]) -> None:
        rows = [(self.submission_id, i.row, i.field[:64], i.reason[:300], i.severity) for i in issues]
        if self.postgres:
            self._copy('submission_issues (submission_id, "row", field, reason, severity)', rows)
        else:
            self.connection.execute(
                insert(SubmissionIssue), [dict(zip(_ISSUE_COLUMNS, r, strict=True)) for r in rows]
            )

    def _clear(self) -> None:
        if not self.postgres:  # PostgreSQL's staging tables are emptied by each commit
            for name in ("intake_records", "intake_contacts"):
                self.connection.exec_driver_sql(f"DELETE FROM {name}")

    def _stage(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        if self.postgres:
            self._copy(f"{table} ({', '.join(columns)})", rows)
        else:
            names, marks = ", ".join(columns), ", ".join("?" for _ in columns)
            self.connection.exec_driver_sql(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)

    def _copy(self, target: str, rows: list[tuple[Any, ...]]) -> None:
        raw = self.connection.connection.driver_connection
        assert raw is not None
        with raw.cursor() as cursor, cursor.copy(f"COPY {target} FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
