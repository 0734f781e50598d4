"""Schema migrations, run programmatically: ``contactfix db upgrade`` and the tests call these.

The Alembic configuration is built in code with the package-relative script location
``contactfix:migrations``, so migrations work from an installed wheel without an ``alembic.ini``.
The URL or connection reaches ``env.py`` through ``Config.attributes``, never through the environment.
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, text
from sqlalchemy.exc import OperationalError

from contactfix.db.engine import is_postgres, make_engine
from contactfix.errors import ContactfixError

SCRIPT_LOCATION = "contactfix:migrations"
# Any fixed 64-bit number; serialises concurrent `db upgrade` runs (two workers starting at once).
_PG_MIGRATION_LOCK = 0x636F6E7461637466  # "contactf"


class MigrationError(ContactfixError, RuntimeError):
    """A migration could not run: unknown revision, unreachable database, or a failing step."""


def alembic_config(connection: Connection | None = None) -> Config:
    """The Alembic configuration of contactfix; ``connection``, if given, is the one migrations use."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision the installed code ships (what ``upgrade_database(url)`` goes to)."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # only possible if the versions folder went missing from the install
        raise MigrationError("no migrations found in contactfix:migrations")
    return head


def _run(url: str, action: str, revision: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            if is_postgres(engine):
                # Released at commit; a second runner waits, then finds nothing left to do.
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
            config = alembic_config(connection)
            if action == "upgrade":
                command.upgrade(config, revision)
            else:
                command.downgrade(config, revision)
    except CommandError as exc:
        raise MigrationError(f"{action} to {revision!r} failed: {exc}") from exc
    except OperationalError as exc:
        raise MigrationError(f"{action} failed, the database refused: {_first_line(exc)}") from exc
    finally:
        engine.dispose()


def _first_line(exc: OperationalError) -> str:
    # The driver's message names host and database, not the password; SQLAlchemy's adds the SQL.
    return str(exc.orig).strip().splitlines()[0] if exc.orig is not None else type(exc).__name__


def upgrade_database(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` up to ``revision`` (default: the newest).

    Creates every table on an empty database; on an up-to-date one it changes nothing. On PostgreSQL
    it holds an advisory lock, so concurrent runs apply each step once. All steps run in one
    transaction (on PostgreSQL a failed step leaves the schema as it was). Raises
    :class:`MigrationError` for an unknown revision or an unreachable database.
    """
    _run(url, "upgrade", revision)


def downgrade_database(url: str, revision: str) -> None:
    """Take the database at ``url`` down to ``revision`` (``"base"``: drop every contactfix table)."""
    _run(url, "downgrade", revision)


def revision_of(connection: Connection) -> str | None:
    """The revision the database behind ``connection`` is at, or None when no migration has been applied."""
    return MigrationContext.configure(connection).get_current_revision()


def current_revision(url: str) -> str | None:
    """The revision the database at ``url`` is at, or None when no migration has been applied."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return revision_of(connection)
    except OperationalError as exc:
        raise MigrationError(f"cannot read the schema revision: {_first_line(exc)}") from exc
    finally:
        engine.dispose()
