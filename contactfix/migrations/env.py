"""Alembic environment of contactfix.

Where the database comes from, first match wins:

1. ``config.attributes["connection"]``: a live connection, set by :mod:`contactfix.db.migrate`;
2. ``config.attributes["url"]``;
3. ``alembic -x url=...`` or ``sqlalchemy.url`` in ``alembic.ini`` (developers running the alembic CLI).

The environment is never read: the application passes what its settings say. Logging is configured
from ``alembic.ini`` only when the alembic CLI runs this, so the application's logging stays its own.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection

from contactfix.db.engine import make_engine, normalise_url
from contactfix.db.models import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.attributes.get("url") or context.get_x_argument(as_dictionary=True).get("url")
    url = url or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database: pass a connection or url in Config.attributes, or -x url=...")
    return str(url)


def _configure(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Batch mode rebuilds a table by copying it and dropping the old one; with foreign keys
        # enforced that DROP would delete (cascade to) the rows that reference it. Off for the
        # migration (SQLite takes this only outside a transaction: nothing has written yet), and
        # every key checked before the migration commits. Not switched back on here: inside the
        # still-open transaction SQLite would ignore it. Both callers discard the connection after
        # the commit (migrate._run and run_migrations_online dispose of their engine).
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place; batch mode copies the table instead.
        render_as_batch=sqlite,
        compare_type=True,
        compare_server_default=True,
    )
    with context.begin_transaction():
        context.run_migrations()
        if sqlite:
            _check_foreign_keys(connection)


def _check_foreign_keys(connection: Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        tables = sorted({str(row[0]) for row in broken})
        raise RuntimeError(f"the migration left rows whose foreign keys point nowhere, in {tables}")


def run_migrations_offline() -> None:
    """Emit the SQL to stdout (``alembic upgrade --sql``) instead of running it."""
    url = normalise_url(_url())
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=url.get_backend_name() == "sqlite",
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on the given connection, or on a fresh one to the configured URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        return
    engine = make_engine(_url())
    try:
        with engine.begin() as fresh:
            _configure(fresh)
    finally:
        engine.dispose()


if "connection" not in config.attributes and "url" not in config.attributes and config.config_file_name:
    # Only the alembic CLI gets here: the application never passes an ini file.
    fileConfig(config.config_file_name, disable_existing_loggers=False)

if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
