"""Moving sealed values from one data key to another: ``contactfix keys rotate``, and sealing values
stored in clear (the migration that introduced encryption at rest).

A rotation, step by step:

1. A new key is written to the key file as its ``next`` line (fsync'd, atomically) before any value is
   sealed with it. Every process can then open values sealed with it (:meth:`Keyring.reload`), and
   every process keeps sealing new values with the current key.
2. Table by table, in batches of rows by primary key, every sealed column whose value is not sealed
   under the new key is opened and sealed again under it; each batch commits. The rows left are those
   whose prefix names another key: an interrupted rotation, run again, takes the same ``next`` key and
   only those rows. Passes repeat until one finds nothing left (values written meanwhile).
3. The new key becomes the key file's first line and the old one moves below it: from then on new
   values are sealed with it (long-running processes notice the changed file within seconds).

Reads never fail on the way: a value opens under whichever key sealed it. What does not hold during a
rotation is equality between a value already moved and the same value sealed anew under the old key:
so rotation runs under the reconcile lock, and on PostgreSQL it excludes intake (:func:`writing_sealed`:
an intake holds a shared lock while it writes, a rotation the same lock exclusively, so neither
starts while the other runs). The API's few writes (outcomes, mediators) are not excluded: stop it.
Keyed hashes derived from the data key (blocking keys, fingerprints, Redis keys) move to the new key
when it becomes current: ``contactfix reconcile --full`` rewrites the blocking keys. Those that must
not move (court record keys, dispatch keys) are under secrets of their own stored sealed
(:mod:`contactfix.privacy.hash_secrets`): re-sealed here like any value, they key the same.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from contactfix.errors import IntakeError
from contactfix.privacy.keyring import KEY_BYTES, DataKey, Keyring, KeyringError, write_key_file
from contactfix.privacy.respelling import RESPELT_PREFIX, is_respelling, spelt
from contactfix.privacy.sealing import FieldCipher, field_cipher, is_sealed, sealed_key_id

__all__ = [
    "SEALED_COLUMNS",
    "RotationReport",
    "RotationRunning",
    "key_census",
    "open_in_place",
    "reseal",
    "rotate_keys",
    "seal_in_place",
    "writers_excluded",
    "writing_sealed",
]

# Every sealed column, by table (the models' ``Sealed`` columns; a test checks the two agree).
SEALED_COLUMNS: dict[str, tuple[str, ...]] = {
    "source_records": ("id_number", "address"),
    "debtors": ("id_number",),
    "contacts": ("value", "value_original"),
    "contact_rankings": ("value",),
    "mediators": ("phone",),
    "dispatches": ("contact_value",),
    "call_attempts": ("value",),
    "do_not_contact": ("value",),
    "outcomes": ("value", "note"),
    "carrier_numbers": ("value",),
    "hash_secrets": ("value",),
}
_BATCH = 5000
# The advisory lock (PostgreSQL) that intake holds shared while it writes sealed values and a rotation
# holds exclusively: ("keys", 0).
_WRITERS_LOCK = {"space": 0x6B657973, "id": 0}


class RotationRunning(IntakeError):
    """A data key rotation is running: a file cannot be taken in until it is done."""


@contextmanager
def writing_sealed(connection: Connection) -> Iterator[None]:
    """Hold off a key rotation while ``connection`` writes sealed values (an intake): RotationRunning
    when one is running. On PostgreSQL; SQLite lets one process write at a time anyway."""
    if connection.dialect.name != "postgresql":
        yield
        return
    held = connection.execute(sa.text("SELECT pg_try_advisory_lock_shared(:space, :id)"), _WRITERS_LOCK)
    if not held.scalar_one():
        raise RotationRunning(
            "a data key rotation is running (contactfix keys rotate): submit the file again when it is done"
        )
    try:
        yield
    except BaseException:
        with suppress(Exception):  # an aborted transaction would refuse the unlock below
            connection.rollback()
        raise
    finally:
        with suppress(Exception):  # a broken connection: its session, and the lock, end with it
            connection.execute(sa.text("SELECT pg_advisory_unlock_shared(:space, :id)"), _WRITERS_LOCK)
            connection.commit()


@contextmanager
def writers_excluded(engine: Engine) -> Iterator[None]:
    """For a rotation: no intake writes until the block ends (PostgreSQL); KeyringError, naming why,
    when one is writing now."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as connection:
        held = connection.execute(sa.text("SELECT pg_try_advisory_lock(:space, :id)"), _WRITERS_LOCK)
        got = held.scalar_one()
        connection.commit()
        if not got:
            raise KeyringError(
                "keys rotate: a bank batch or court file is being taken in right now; run it again when "
                "that intake is done"
            )
        try:
            yield
        finally:
            connection.execute(sa.text("SELECT pg_advisory_unlock(:space, :id)"), _WRITERS_LOCK)
            connection.commit()


@dataclass
class RotationReport:
    """What a rotation or sealing did: the target key and the values rewritten per table."""

    key_id: str
    rewritten: dict[str, int] = field(default_factory=dict)
    passes: int = 0
    promoted: bool = False

    @property
    def total(self) -> int:
        return sum(self.rewritten.values())


def _plain_table(name: str, columns: Sequence[str]) -> sa.TableClause:
    # Plain text columns: the values are read and written as stored, past the Sealed type.
    return sa.table(name, sa.column("id", sa.Integer), *(sa.column(c, sa.Text) for c in columns))


def _rewrite_batches(
    begin: Callable[[], object],
    tables: Mapping[str, Sequence[str]],
    change: Callable[[str], str | None],
    report: RotationReport,
    batch: int,
) -> int:
    """Apply ``change`` (stored value -> new stored value, or None to keep it) to every sealed column
    of ``tables``; each batch of rows in its own ``begin()`` block. The number of values changed."""
    changed_total = 0
    for name, columns in tables.items():
        table = _plain_table(name, columns)
        last = 0
        while True:
            with begin() as connection:  # type: ignore[attr-defined]
                rows = connection.execute(
                    sa.select(table.c.id, *(table.c[c] for c in columns))
                    .where(table.c.id > last)
                    .order_by(table.c.id)
                    .limit(batch)
                ).all()
                if not rows:
                    break
                last = rows[-1][0]
                updates = []
                for row in rows:
                    new = {c: change(v) for c, v in zip(columns, row[1:], strict=True) if v is not None}
                    new = {c: v for c, v in new.items() if v is not None}
                    if new:
                        updates.append((row[0], new))
                for row_id, values in updates:
                    connection.execute(sa.update(table).where(table.c.id == row_id).values(**values))
                changed = sum(len(values) for _, values in updates)
                report.rewritten[name] = report.rewritten.get(name, 0) + changed
                changed_total += changed
    return changed_total


class _Same:
    """``begin()`` on a connection already in a transaction (the migration's): no commits of its own."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def __call__(self) -> _Same:
        return self

    def __enter__(self) -> Connection:
        return self.connection

    def __exit__(self, *exc: object) -> None:
        return None


def seal_in_place(
    connection: Connection, tables: Mapping[str, Sequence[str]] | None = None, keyring: Keyring | None = None
) -> RotationReport:
    """Seal, under the current key, every value of ``tables`` stored in clear (in the caller's
    transaction). The keyring is loaded only if there is such a value."""
    cipher: list[FieldCipher] = []

    def change(stored: str) -> str | None:
        if is_sealed(stored) or is_respelling(stored):
            return None
        if not cipher:
            cipher.append(field_cipher(keyring))
        return cipher[0].seal(stored)

    report = RotationReport(key_id="")
    _rewrite_batches(_Same(connection), tables or SEALED_COLUMNS, change, report, _BATCH)
    report.key_id = cipher[0].key_id if cipher else ""
    return report


def open_in_place(
    connection: Connection, tables: Mapping[str, Sequence[str]] | None = None, keyring: Keyring | None = None
) -> RotationReport:
    """Store every sealed value of ``tables`` in clear again (downgrading the migration)."""
    cipher: list[FieldCipher] = []

    def change(stored: str) -> str | None:
        if not is_sealed(stored):
            return None
        if not cipher:
            cipher.append(field_cipher(keyring))
        return cipher[0].open(stored)

    report = RotationReport(key_id="")
    tables = tables or SEALED_COLUMNS
    _rewrite_batches(_Same(connection), tables, change, report, _BATCH)
    if "value_original" in tables.get("contacts", ()):
        _spell_out(connection, report)
    return report


def _spell_out(connection: Connection, report: RotationReport) -> None:
    # A respelling needs its row's value (opened above) to be spelt out again.
    table = _plain_table("contacts", ("value", "value_original"))
    rows = connection.execute(
        sa.select(table.c.id, table.c.value, table.c.value_original).where(
            table.c.value_original.startswith(RESPELT_PREFIX, autoescape=True)
        )
    ).all()
    rows = [row for row in rows if is_respelling(row[2])]
    for row_id, value, stored in rows:
        spelling = spelt(value, stored)
        connection.execute(sa.update(table).where(table.c.id == row_id).values(value_original=spelling))
    report.rewritten["contacts"] = report.rewritten.get("contacts", 0) + len(rows)


def reseal(
    engine: Engine, keyring: Keyring, key_id: str, *, batch: int = _BATCH, max_passes: int = 5
) -> RotationReport:
    """Seal every value not sealed under ``key_id`` (or stored in clear) under it, batch by batch,
    each batch committed; passes repeat until one changes nothing (or ``max_passes``)."""
    cipher = field_cipher(keyring)
    target = cipher.sealer(key_id)

    def change(stored: str) -> str | None:
        if sealed_key_id(stored) == key_id or is_respelling(stored):
            return None  # a respelling holds no digit: nothing to seal
        return target.seal(cipher.open(stored))

    report = RotationReport(key_id=key_id)
    while report.passes < max_passes:
        report.passes += 1
        if _rewrite_batches(engine.begin, SEALED_COLUMNS, change, report, batch) == 0:
            break
    return report


def rotate_keys(
    engine: Engine,
    keyring: Keyring,
    *,
    batch: int = _BATCH,
    lock: Callable[[], object] | None = None,
) -> RotationReport:
    """Rotate the data key (see the module's steps): resumes a rotation an earlier run left, else
    starts one with a fresh key. ``lock`` (the reconcile lock) is held throughout, and no intake
    writes meanwhile (:func:`writers_excluded`)."""
    path = keyring.path
    if path is None:
        raise KeyringError(
            "keys rotate: the data key comes from CONTACTFIX_DATA_KEY, not a key file; move it to a key "
            "file (data_key_file: the key on its first line, mode 0600) and run it again"
        )
    keyring.reload()
    context = lock() if lock is not None else None
    if context is not None:
        context.__enter__()  # type: ignore[attr-defined]
    try:
        with writers_excluded(engine):
            if keyring.pending is None:
                fresh = DataKey(secrets.token_bytes(KEY_BYTES))
                write_key_file(path, keyring.current, keyring.previous, fresh)
                keyring.reload()
            pending = keyring.pending
            assert pending is not None
            report = reseal(engine, keyring, pending.key_id, batch=batch)
            old = keyring.current
            older = [old, *[k for k in keyring.previous if k.key_id != old.key_id]]
            write_key_file(path, pending, older, None)
            keyring.reload()
            report.promoted = True
            return report
    finally:
        if context is not None:
            context.__exit__(None, None, None)  # type: ignore[attr-defined]


def key_census(engine: Engine) -> dict[str, dict[str, int]]:
    """Per table, how many stored values each key sealed ("clear": not sealed; "respelt": a phone's
    spelling without its digits, see :mod:`contactfix.privacy.respelling`)."""
    found: dict[str, dict[str, int]] = {}
    with engine.connect() as connection:
        for name, columns in SEALED_COLUMNS.items():
            table = _plain_table(name, columns)
            counts: dict[str, int] = {}
            for column in columns:
                for (value,) in connection.execute(
                    sa.select(table.c[column]).where(table.c[column].is_not(None))
                ):
                    kid = sealed_key_id(value) or ("respelt" if is_respelling(value) else "clear")
                    counts[kid] = counts.get(kid, 0) + 1
            found[name] = counts
    return found
