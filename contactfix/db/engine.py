"""Engines and sessions for the two supported databases: SQLite (embedded) and PostgreSQL (service).

Callers pass a URL from the settings; nothing here reads the environment.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from contactfix.errors import ContactfixError

# Pragmas applied to every SQLite connection. WAL lets readers (the API, `show`) work while intake
# writes; busy_timeout makes a second writer wait instead of failing at once; NORMAL is durable
# under WAL except for the last transactions on power loss, which re-running intake restores.
SQLITE_PRAGMAS: tuple[tuple[str, str], ...] = (
    ("journal_mode", "WAL"),
    ("foreign_keys", "ON"),
    ("busy_timeout", "30000"),
    ("synchronous", "NORMAL"),
)


class DatabaseUrlError(ContactfixError, ValueError):
    """The database URL cannot be parsed or names a database contactfix does not support."""


def normalise_url(url: str) -> URL:
    """Parse ``url``; PostgreSQL URLs without a driver (``postgresql://``, ``postgres://``) get psycopg 3.

    Raises :class:`DatabaseUrlError` for anything but SQLite or PostgreSQL. The message never repeats
    the URL, which may hold a password.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseUrlError("CONTACTFIX_DATABASE_URL is not a valid database URL") from exc
    backend, _, driver = parsed.drivername.partition("+")
    if backend in ("postgresql", "postgres"):
        if driver not in ("", "psycopg"):
            raise DatabaseUrlError(
                f"PostgreSQL driver {driver!r} is not supported; use postgresql+psycopg://"
            )
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        return parsed
    raise DatabaseUrlError(f"database {backend!r} is not supported; use sqlite:/// or postgresql://")


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        for name, value in SQLITE_PRAGMAS:
            cursor.execute(f"PRAGMA {name}={value}")
    finally:
        cursor.close()


def create_private_file(path: str) -> None:
    """Create the SQLite file ``path`` readable and writable by its owner only (0600), if it is new.

    SQLite would create it with the umask's mode, commonly 0644, and the file holds ID numbers and
    phones. Its -wal and -shm files take the database file's mode. An existing file keeps its mode
    (the operator's choice); an empty file is an empty database to SQLite.
    """
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError:  # it exists, or its folder does not: SQLite opens it or says why it cannot
        return
    os.close(handle)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url`` set up for contactfix.

    SQLite connections get :data:`SQLITE_PRAGMAS` (WAL, foreign keys enforced, 30 s busy timeout,
    synchronous=NORMAL), and a new SQLite file is created private (:func:`create_private_file`);
    PostgreSQL pools check a connection before handing it out, so a restarted server does not fail
    the next request. ``kwargs`` go to :func:`sqlalchemy.create_engine`.
    """
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "postgresql":
        kwargs.setdefault("pool_pre_ping", True)
        return create_engine(parsed, **kwargs)
    create_private_file(parsed.database or "")
    engine = create_engine(parsed, **kwargs)
    event.listen(engine, "connect", _set_sqlite_pragmas)
    return engine


def is_postgres(engine: Engine) -> bool:
    """True when ``engine`` talks to PostgreSQL (bulk upserts and locks differ from SQLite)."""
    return engine.dialect.name == "postgresql"


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory bound to ``engine``; objects stay readable after commit (expire_on_commit=False)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commits when the block ends normally, rolls back if it raises, always closes."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def throwaway_database(admin_url: str, prefix: str = "contactfix_tmp") -> Iterator[str]:
    """Create an empty PostgreSQL database next to ``admin_url``'s, yield its URL, drop it afterwards.

    For tests and benchmarks: the name is ``prefix`` plus a random suffix, and the drop forces out any
    connection still open, so a failed run leaves nothing behind.
    """
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalise_url(admin_url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield admin_url.rsplit("/", 1)[0] + f"/{name}"
        finally:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()
