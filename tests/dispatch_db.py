"""A migrated database per dispatch test, on SQLite and on PostgreSQL, without migrating each time.

Migrating a fresh PostgreSQL database and dropping it costs seconds per test; the dispatch tests need
dozens. So the schema is built once per session: SQLite tests get a copy of an upgraded file,
PostgreSQL tests share one upgraded database whose tables are emptied (sequences restarted) before
each test. Import the ``engine`` fixture into a test module to use it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, MetaData, text

from contactfix.db.engine import make_engine, throwaway_database
from contactfix.db.migrate import upgrade_database


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dispatch-template") / "template.sqlite3"
    upgrade_database(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def _postgres_upgraded(postgres_server: str) -> Iterator[tuple[str, list[str], list[str]]]:
    """One upgraded database; its tables children first, and its sequences."""
    with throwaway_database(postgres_server, "contactfix_dispatch") as url:
        upgrade_database(url)
        engine = make_engine(url)
        with engine.begin() as connection:
            # Throwaway data: a commit need not wait for the disk.
            name = connection.exec_driver_sql("SELECT current_database()").scalar_one()
            connection.exec_driver_sql(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
            sequences = list(
                connection.execute(text("SELECT sequence_name FROM information_schema.sequences")).scalars()
            )
        metadata = MetaData()
        metadata.reflect(engine)
        tables = [t.name for t in reversed(metadata.sorted_tables) if t.name != "alembic_version"]
        engine.dispose()
        yield url, tables, sequences


@pytest.fixture(params=["sqlite", "postgresql"])
def engine_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an upgraded, empty database (SQLite, then PostgreSQL)."""
    if request.param == "sqlite":
        path = tmp_path / "contactfix.sqlite3"
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), path)
        return f"sqlite:///{path}"
    url, tables, sequences = request.getfixturevalue("_postgres_upgraded")
    engine = make_engine(url)
    try:
        # DELETE, not TRUNCATE: a few rows per table go faster than new files for twenty tables.
        with engine.begin() as connection:
            for name in tables:
                connection.exec_driver_sql(f'DELETE FROM "{name}"')
            for name in sequences:
                connection.exec_driver_sql(f'ALTER SEQUENCE "{name}" RESTART')
    finally:
        engine.dispose()
    return str(url)


@pytest.fixture
def engine(engine_url: str) -> Iterator[Engine]:
    """An engine on an upgraded, empty database; disposed after the test."""
    engine = make_engine(engine_url)
    yield engine
    engine.dispose()
