"""Blocking keys in the database: write them for changed records, and find who shares one with them.

Besides the matchers' keys (see :mod:`matchers.stable_keys`) each record has one *version* row,
kind ``~version``: the ``updated_at`` and the fingerprint (:func:`contactfix.pipeline.records.fingerprint`)
the record had when a completed run last covered it. A record whose fingerprint differs has changed
since, and only such records are compared; ``updated_at`` narrows the search. On PostgreSQL
(microsecond timestamps) a record whose ``updated_at`` is the one stored was not written since and
is not even read; SQLite's timestamps are whole seconds, so there the fingerprint always decides. A
file taken in again unchanged thus costs a check, not a comparison. Version rows are written only in
a run's last transaction, so a run that dies leaves its records to be compared again by the next one.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import ColumnElement, Connection, Table, delete, func, select, text

from contactfix.db.identity_models import BlockingKey
from contactfix.db.models import SourceRecord
from contactfix.pipeline.bulk import insert_rows, probe_table, rewrite_table
from contactfix.pipeline.records import among, batches, chunks
from contactfix.privacy import PURPOSE_BLOCKING, KeyedHash, keyed_hash
from matchers.arrays import factorize_objects, unique_pairs
from matchers.normalize import PersonRecords
from matchers.stable_keys import RecordKeys, linkable, stable_keys

__all__ = [
    "VERSION_KIND",
    "Candidates",
    "find_candidates",
    "key_rows",
    "linkable_keys",
    "replace_keys",
    "stored_versions",
    "unchanged_write",
    "version_key",
    "versions_to_check",
    "write_versions",
]

VERSION_KIND = "~version"
_KEY_COLUMNS = ("source_record_id", "kind", "key")
_ROWS_AT_ONCE = 200_000
_TABLE: Table = BlockingKey.__table__  # type: ignore[assignment]  # a mapped class's table is a Table


@dataclass(frozen=True)
class Candidates:
    """Pairs of record ids sharing a key (``a < b``, each once), and the keys left out as too common."""

    a: NDArray[np.int64]
    b: NDArray[np.int64]
    skipped_keys: int


def _is_version(connection: Connection) -> ColumnElement[bool]:
    """``kind = '~version'`` in a form each database serves from the source_record_id index.

    SQLite, which keeps no statistics unless ANALYZE runs, would serve the plain condition from the
    primary key (kind, key, source_record_id): a scan of every version row per record looked up.
    Wrapped in an expression the condition cannot use that index; PostgreSQL plans well without it.
    """
    kind = BlockingKey.kind if connection.dialect.name == "postgresql" else BlockingKey.kind.concat("")
    return kind == VERSION_KIND


def version_key(updated_at: dt.datetime, fingerprint: str) -> str:
    """The version row's key: when the record was last written, and a digest of what it held."""
    return f"{updated_at.astimezone(dt.UTC).isoformat()}|{fingerprint}"


def unchanged_write(updated_at: dt.datetime, stored: str | None) -> bool:
    """True when ``stored`` was taken from the very write that set ``updated_at``."""
    return stored is not None and stored.startswith(updated_at.astimezone(dt.UTC).isoformat() + "|")


def stored_versions(
    connection: Connection, since: dt.datetime | None
) -> dict[int, tuple[dt.datetime, str | None]]:
    """Records updated at or after ``since`` (every record when None) → their ``updated_at`` and the
    version stored for them (None when they have none yet: new records, or records of a run that did
    not finish)."""
    query = select(SourceRecord.id, SourceRecord.updated_at, BlockingKey.key).outerjoin(
        BlockingKey, (BlockingKey.source_record_id == SourceRecord.id) & _is_version(connection)
    )
    if since is not None:
        query = query.where(SourceRecord.updated_at >= since)
    # Fetched whole: a server-side cursor (yield_per) makes PostgreSQL plan for the first rows, and the
    # join then costs seconds instead of milliseconds.
    return {record_id: (updated_at, stored) for record_id, updated_at, stored in connection.execute(query)}


# The stored version's write time, parsed back, is the record's updated_at: not written since.
_WRITTEN_SINCE = """
    SELECT s.id, s.updated_at, b.key FROM source_records s
    LEFT JOIN blocking_keys b ON b.source_record_id = s.id AND b.kind = :kind
    WHERE (b.key IS NULL OR CAST(split_part(b.key, '|', 1) AS timestamptz) <> s.updated_at)
    """


def versions_to_check(
    connection: Connection, since: dt.datetime | None
) -> tuple[int, dict[int, tuple[dt.datetime, str | None]]]:
    """How many records were updated at or after ``since`` (every record when None), and those of them
    that may have changed since their version was stored, as :func:`stored_versions` gives them.

    On PostgreSQL the records whose stored version comes from their very last write (see
    :func:`unchanged_write`) are left out by the database itself: a night after a large intake checks
    a million versions without fetching them. Elsewhere every record updated since is returned.
    """
    if connection.dialect.name != "postgresql":
        stored = stored_versions(connection, since)
        return len(stored), stored
    recent = select(func.count()).select_from(SourceRecord)
    if since is not None:
        recent = recent.where(SourceRecord.updated_at >= since)
    checked = int(connection.execute(recent).scalar_one())
    query = _WRITTEN_SINCE if since is None else _WRITTEN_SINCE + " AND s.updated_at >= :since"
    # A million version rows hash in memory at once instead of in batches spilled to disk.
    connection.exec_driver_sql("SET LOCAL work_mem = '256MB'")
    rows = connection.execute(text(query), {"kind": VERSION_KIND, "since": since})
    return checked, {record_id: (updated_at, stored) for record_id, updated_at, stored in rows}


def linkable_keys(records: PersonRecords, hasher: KeyedHash | None = None) -> RecordKeys:
    """The stable keys of the records that have a field to link by (a name alone gets none).

    Keys are HMACs under the deployment's blocking key (``hasher``; the process keyring's by default):
    the stored keys of an ID number or a phone cannot be found by hashing every number. A new data
    key changes every key; a full reconcile rewrites them all.
    """
    hasher = hasher or keyed_hash(PURPOSE_BLOCKING)
    keys = stable_keys(records, digest=hasher.int64)
    return keys.take(linkable(records)[keys.rows])


def key_rows(
    keys: RecordKeys, record_ids: Sequence[int], *, in_index_order: bool = False
) -> Iterator[tuple[int, str, str]]:
    """(source record id, kind, key) rows of ``keys`` (``record_ids[k]`` is the id of row ``k``),
    made a block at a time: tens of millions of tuples would not fit in memory at once.

    ``in_index_order``: sorted by (kind, key), the order of the table's primary key. Rows added to a
    large table then go into its index page after page instead of at random pages (measured at
    250,000 debtors, 632,000 keys: 9.2 s against 18.9 s, a third of the write-ahead log).
    """
    if in_index_order and len(keys):
        # Codes follow the kinds' sorted order; factorize_objects, not np.unique on the object array
        # (the slow path stable_keys.pairs_sharing_keys also left).
        order = np.lexsort((keys.keys, factorize_objects(keys.kinds)))
        keys = RecordKeys(keys.rows[order], keys.kinds[order], keys.keys[order])
    owners = np.asarray(record_ids, dtype=np.int64)
    for start in range(0, len(keys), _ROWS_AT_ONCE):
        part = slice(start, start + _ROWS_AT_ONCE)
        hex_keys = [f"{key:016x}" for key in keys.keys[part].tolist()]
        yield from zip(owners[keys.rows[part]].tolist(), keys.kinds[part].tolist(), hex_keys, strict=True)


def replace_keys(
    connection: Connection, rows: Iterable[tuple[int, str, str]], record_ids: Sequence[int] | None
) -> None:
    """Replace the blocking keys of ``record_ids`` by ``rows``; None: every row of the table (a full
    run, version rows included). Version rows of the records stay otherwise."""
    if record_ids is None:
        rewrite_table(connection, _TABLE, _KEY_COLUMNS, rows)
        return
    for batch in batches(connection, record_ids):
        connection.execute(
            delete(BlockingKey).where(
                among(connection, BlockingKey.source_record_id, batch), BlockingKey.kind != VERSION_KIND
            )
        )
    iterator = iter(rows)
    while block := list(itertools.islice(iterator, _ROWS_AT_ONCE)):
        insert_rows(connection, "blocking_keys", _KEY_COLUMNS, block)


def write_versions(
    connection: Connection, record_ids: Sequence[int], versions: Sequence[str], *, replace: bool = True
) -> None:
    """Store the versions the run covered (the run's last transaction). ``replace=False`` when the
    records have none stored (a full run emptied the table): nothing to delete first."""
    for batch in batches(connection, record_ids) if replace else ():
        connection.execute(
            delete(BlockingKey).where(
                among(connection, BlockingKey.source_record_id, batch), _is_version(connection)
            )
        )
    rows = [(rid, VERSION_KIND, version) for rid, version in zip(record_ids, versions, strict=True)]
    for start in range(0, len(rows), 200_000):
        insert_rows(connection, "blocking_keys", _KEY_COLUMNS, rows[start : start + 200_000])


_SHARED = text(
    """
    WITH probe_keys AS (SELECT DISTINCT kind, key FROM reconcile_probe),
         sizes AS (
           SELECT b.kind, b.key, count(*) AS n
           FROM blocking_keys b JOIN probe_keys p ON p.kind = b.kind AND p.key = b.key
           GROUP BY b.kind, b.key)
    SELECT p.source_record_id, b.source_record_id, s.n
    FROM reconcile_probe p
    JOIN sizes s ON s.kind = p.kind AND s.key = p.key
    JOIN blocking_keys b ON b.kind = p.kind AND b.key = p.key AND b.source_record_id <> p.source_record_id
    WHERE s.n <= :cap
    """
)
_SKIPPED = text(
    """
    SELECT count(*) FROM (
      SELECT b.kind, b.key FROM blocking_keys b
      JOIN (SELECT DISTINCT kind, key FROM reconcile_probe) p ON p.kind = b.kind AND p.key = b.key
      GROUP BY b.kind, b.key HAVING count(*) > :cap) AS common
    """
)


# Per key of the probed records: whether few enough records share it, and if so which ones. Each key
# is looked up on its own in the primary key's index, reading at most ``cap + 1`` of its rows: a
# switchboard phone shared by thousands costs as little as a rare name, and no aggregate over all
# the rows found has to be hashed (measured at 250,000 debtors: 0.8 s against 1.3-1.7 s).
_MEMBERS = text(
    """
    SELECT m.n <= :cap, CASE WHEN m.n <= :cap THEN m.ids END
    FROM (SELECT DISTINCT kind, key FROM blocking_keys
          WHERE source_record_id = ANY(:ids) AND kind <> :version) AS p
    CROSS JOIN LATERAL (
      SELECT count(*) AS n, array_agg(s.source_record_id) AS ids
      FROM (SELECT b.source_record_id FROM blocking_keys b
            WHERE b.kind = p.kind AND b.key = p.key LIMIT :cap + 1) AS s) AS m
    """
)


def _pairs(a: list[int], b: list[int]) -> Candidates:
    """``a[k]``, ``b[k]`` as distinct pairs, smaller id first."""
    if not a:
        empty = np.empty(0, dtype=np.int64)
        return Candidates(empty, empty, 0)
    left, right = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    low, high = unique_pairs(np.minimum(left, right), np.maximum(left, right))
    return Candidates(low, high, 0)


def _find_candidates_postgres(connection: Connection, record_ids: Sequence[int], cap: int) -> Candidates:
    probed = set(record_ids)
    a: list[int] = []
    b: list[int] = []
    skipped = 0
    # The distinct keys of a night's records (over a hundred thousand) hash in memory, not on disk.
    connection.exec_driver_sql("SET LOCAL work_mem = '64MB'")
    rows = connection.execute(_MEMBERS, {"cap": cap, "ids": list(record_ids), "version": VERSION_KIND})
    for small, members in rows:
        if not small:
            skipped += 1
            continue
        for mine in probed.intersection(members):
            for other in members:
                if other != mine:
                    a.append(mine)
                    b.append(other)
    found = _pairs(a, b)
    return Candidates(found.a, found.b, skipped)


def find_candidates(connection: Connection, record_ids: Sequence[int], max_block_size: int) -> Candidates:
    """Every pair of one of ``record_ids`` and any record sharing a stored key with it; keys shared by
    more than ``max_block_size`` records are skipped (a switchboard number, a very common name)."""
    if connection.dialect.name == "postgresql":
        return _find_candidates_postgres(connection, record_ids, max_block_size)
    return _find_candidates_probe(connection, record_ids, max_block_size)


def _find_candidates_probe(
    connection: Connection, record_ids: Sequence[int], max_block_size: int
) -> Candidates:
    """:func:`find_candidates` through a probe table, in plain SQL (SQLite)."""
    probe_table(
        connection, "reconcile_probe", (("source_record_id", "int"), ("kind", "text"), ("key", "text"))
    )
    for batch in chunks(record_ids):
        connection.execute(
            text(
                "INSERT INTO reconcile_probe (source_record_id, kind, key) "
                "SELECT source_record_id, kind, key FROM blocking_keys "
                f"WHERE kind <> '{VERSION_KIND}' AND source_record_id IN ({', '.join(map(str, batch))})"
            )
        )
    found = connection.execute(_SHARED, {"cap": max_block_size}).all()
    skipped = int(connection.execute(_SKIPPED, {"cap": max_block_size}).scalar_one())
    connection.exec_driver_sql("DELETE FROM reconcile_probe")
    if not found:
        empty = np.empty(0, dtype=np.int64)
        return Candidates(empty, empty, skipped)
    pairs = np.array([(a, b) for a, b, _ in found], dtype=np.int64)
    low, high = unique_pairs(pairs.min(axis=1), pairs.max(axis=1))
    return Candidates(low, high, skipped)
