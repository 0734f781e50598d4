"""Engines: URL handling and the connection set-up of each database."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from contactfix.db import DatabaseUrlError, is_postgres, make_engine, normalise_url
from contactfix.errors import ContactfixError


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:pw@db.example:5432/cf",
        "postgres://u:pw@db.example:5432/cf",
        "postgresql+psycopg://u:pw@db.example:5432/cf",
    ],
)
def test_postgres_urls_use_psycopg3(url: str) -> None:
    parsed = normalise_url(url)
    assert parsed.drivername == "postgresql+psycopg"
    assert (parsed.host, parsed.port, parsed.database, parsed.password) == ("db.example", 5432, "cf", "pw")


def test_sqlite_urls_are_kept() -> None:
    assert normalise_url("sqlite:///contactfix.sqlite3").render_as_string() == "sqlite:///contactfix.sqlite3"


@pytest.mark.parametrize(
    "url",
    [
        "mysql://u:s3cret@h/db",
        "postgresql+psycopg2://u:s3cret@h/db",
        "not a url s3cret",
        "oracle://u:s3cret@h",
    ],
)
def test_unsupported_urls_are_refused_without_echoing_them(url: str) -> None:
    with pytest.raises(DatabaseUrlError) as info:
        normalise_url(url)
    assert isinstance(info.value, ContactfixError)
    assert "s3cret" not in str(info.value)


def test_sqlite_connections_get_the_pragmas(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        with engine.connect() as connection:
            pragma = {
                name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
            }
        assert pragma == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 30000, "synchronous": 1}
        assert not is_postgres(engine)
    finally:
        engine.dispose()


def test_postgres_engines_check_connections_before_use(postgres_url: str) -> None:
    engine = make_engine(postgres_url.replace("postgresql+psycopg://", "postgresql://"))
    try:
        assert is_postgres(engine)
        assert engine.pool._pre_ping
        with engine.connect() as connection:
            assert connection.scalar(sa.text("SELECT 1")) == 1
    finally:
        engine.dispose()
