"""Bulk writes for the pipeline: many rows in, keyed, on SQLite and PostgreSQL alike.

PostgreSQL takes rows fastest through ``COPY`` into a temporary staging table and one
``INSERT … SELECT … ON CONFLICT`` from there; SQLite through ``executemany``. Either way a write keyed
by a unique constraint can run twice and leave the same rows: that is what makes a reconciliation
restartable. Nothing here commits; the caller owns the transaction.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    Connection,
    ForeignKeyConstraint,
    Index,
    PrimaryKeyConstraint,
    Table,
    UniqueConstraint,
    text,
)
from sqlalchemy.schema import AddConstraint, CreateIndex, DropConstraint, DropIndex

__all__ = ["copy_rows", "insert_rows", "probe_table", "rewrite_table", "upsert_rows"]

# Rows per COPY write: large writes cost the driver far less than one call per row.
_COPY_BLOCK = 20_000

_SQL_TYPES = {"int": "BIGINT", "float": "DOUBLE PRECISION", "text": "TEXT", "json": "TEXT"}


def _postgres(connection: Connection) -> bool:
    return connection.dialect.name == "postgresql"


def copy_rows(
    connection: Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """Append ``rows`` to ``table`` with COPY (PostgreSQL only; values already in column order)."""
    raw = connection.connection.driver_connection
    assert raw is not None  # a live connection always has its driver connection
    names = ", ".join(columns)
    with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _copy_text(
    connection: Connection,
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    freeze: bool = False,
) -> None:
    """COPY rows whose values are plain text without tabs, newlines or backslashes (ids, digests,
    ASCII JSON), written as tab-separated lines in large blocks. ``freeze``: the table was emptied in
    this transaction, and its rows go in frozen and all-visible (see :func:`rewrite_table`)."""
    raw = connection.connection.driver_connection
    assert raw is not None
    command = f"COPY {table} ({', '.join(columns)}) FROM STDIN" + (" WITH (FREEZE)" if freeze else "")
    with raw.cursor() as cursor, cursor.copy(command) as copy:
        block: list[str] = []
        for row in rows:
            block.append("\t".join(map(str, row)))
            if len(block) >= _COPY_BLOCK:
                copy.write("\n".join(block) + "\n")
                block.clear()
        if block:
            copy.write("\n".join(block) + "\n")


def rewrite_table(
    connection: Connection, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """Replace every row of ``table`` by ``rows`` (plain text values, see above; ids, digests, ASCII),
    streamed: they need not all be in memory at once.

    On PostgreSQL the table's indexes, keys and foreign keys are dropped, the rows copied in, and all
    of them built again: one index build and one validating join are many times faster than updating
    indexes and checking references row by row. The table must not be referenced by foreign keys.
    In the caller's transaction, so other sessions see the old rows or the new ones, nothing between.
    """
    if not _postgres(connection):
        connection.exec_driver_sql(f"DELETE FROM {table.name}")
        iterator = iter(rows)
        while batch := list(itertools.islice(iterator, 100_000)):
            insert_rows(connection, table.name, columns, batch)
        return
    keys = [
        c
        for c in table.constraints
        if isinstance(c, PrimaryKeyConstraint | UniqueConstraint | ForeignKeyConstraint)
    ]
    # Keys first when adding back (a unique index before anything that may use it), references last.
    keys.sort(key=lambda c: isinstance(c, ForeignKeyConstraint))
    indexes: list[Index] = sorted(table.indexes, key=lambda ix: str(ix.name))
    connection.exec_driver_sql(f"TRUNCATE {table.name}")
    for index in indexes:
        connection.execute(DropIndex(index))
    for constraint in reversed(keys):
        connection.execute(DropConstraint(constraint))
    # FREEZE (the table was truncated in this transaction): the rows are all-visible at once, so the
    # next runs' index-only scans of a table no VACUUM has visited yet do not fetch every heap row.
    _copy_text(connection, table.name, columns, rows, freeze=True)
    connection.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")
    for constraint in keys:
        connection.execute(AddConstraint(constraint))
    for index in indexes:
        connection.execute(CreateIndex(index))


def insert_rows(
    connection: Connection, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert ``rows`` into ``table`` (which must not hold them yet): COPY or executemany."""
    if not rows:
        return
    if _postgres(connection):
        copy_rows(connection, table, columns, rows)
        return
    marks = ", ".join("?" for _ in columns)
    connection.exec_driver_sql(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", list(rows))


def probe_table(connection: Connection, name: str, columns: Sequence[tuple[str, str]]) -> None:
    """Create (or empty) the temporary table ``name`` with ``columns`` as (name, "int"|"float"|"text")."""
    body = ", ".join(f"{column} {_SQL_TYPES[kind]}" for column, kind in columns)
    connection.exec_driver_sql(f"CREATE TEMPORARY TABLE IF NOT EXISTS {name} ({body})")
    connection.exec_driver_sql(f"DELETE FROM {name}")


def upsert_rows(
    connection: Connection,
    table: str,
    columns: Sequence[tuple[str, str]],
    rows: Sequence[Sequence[Any]],
    conflict: Sequence[str],
) -> None:
    """Insert ``rows`` into ``table``, replacing the non-key columns of rows whose ``conflict`` key exists.

    ``columns`` are (name, kind) pairs, kind one of "int", "float", "text", "json" (JSON as text; cast
    on PostgreSQL).
    """
    if not rows:
        return
    names = [column for column, _ in columns]
    updates = ", ".join(f"{c} = excluded.{c}" for c in names if c not in conflict) or None
    action = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
    target = f"ON CONFLICT ({', '.join(conflict)}) {action}"
    if not _postgres(connection):
        marks = ", ".join("?" for _ in names)
        connection.exec_driver_sql(
            f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks}) {target}", list(rows)
        )
        return
    staging = f"stage_{table}"
    probe_table(connection, staging, columns)
    copy_rows(connection, staging, names, rows)
    selected = ", ".join(f"{c}::jsonb" if kind == "json" else c for c, kind in columns)
    connection.execute(
        text(f"INSERT INTO {table} ({', '.join(names)}) SELECT {selected} FROM {staging} {target}")
    )
    connection.exec_driver_sql(f"DELETE FROM {staging}")
