"""Migrations: they build exactly the models' schema, on SQLite and PostgreSQL, and only once."""

from __future__ import annotations

import configparser
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from contactfix.db import (
    Base,
    MigrationError,
    Organization,
    current_revision,
    downgrade_database,
    head_revision,
    make_engine,
    session_factory,
    session_scope,
    upgrade_database,
)
from contactfix.db.migrate import SCRIPT_LOCATION

REPO = Path(__file__).resolve().parents[1]
TABLES = {
    "organizations",
    "submissions",
    "submission_issues",
    "source_records",
    "debtors",
    "contacts",
    "audit_log",
    # 0002: resolution and repair
    "reconcile_runs",
    "blocking_keys",
    "record_links",
    "identities",
    "identity_members",
    "contact_rankings",
    "link_models",
    # 0003: dispatch
    "mediators",
    "case_assignments",
    "dispatches",
    "dispatch_decisions",
    "call_attempts",
    "do_not_contact",
    # 0005: outcomes
    "outcomes",
    "confidence_models",
    # 0006: access
    "users",
    "api_tokens",
    # 0008: link reviews
    "link_reviews",
    # 0007: carrier repair
    "carrier_requests",
    "carrier_numbers",
    # 0009: failed sign-ins
    "login_failures",
    # 0011: the secret of court record keys
    "hash_secrets",
}


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def _schema(engine: sa.Engine) -> dict[str, object]:
    """Everything reflection sees of the contactfix tables, comparable with ==."""
    inspector = sa.inspect(engine)
    snapshot: dict[str, object] = {}
    for table in sorted(inspector.get_table_names()):
        snapshot[table] = (
            [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)],
            sorted(str(ix) for ix in inspector.get_indexes(table)),
            sorted(str(uq) for uq in inspector.get_unique_constraints(table)),
            sorted(str(ck) for ck in inspector.get_check_constraints(table)),
            sorted(str(fk) for fk in inspector.get_foreign_keys(table)),
        )
    return snapshot


def _differences(engine: sa.Engine, metadata: sa.MetaData) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, metadata))


def test_upgrade_from_empty_creates_every_table(db_url: str, engine: sa.Engine) -> None:
    assert current_revision(db_url) is None
    upgrade_database(db_url)
    assert set(sa.inspect(engine).get_table_names()) == TABLES | {"alembic_version"}
    assert set(Base.metadata.tables) == TABLES
    assert current_revision(db_url) == head_revision()


def test_upgrade_twice_changes_nothing(db_url: str, engine: sa.Engine) -> None:
    upgrade_database(db_url)
    with session_scope(session_factory(engine)) as session:
        session.add(Organization(name="福州银行", kind="bank"))
    before = _schema(engine)

    upgrade_database(db_url)

    assert _schema(engine) == before
    assert current_revision(db_url) == head_revision()
    with engine.connect() as connection:
        assert connection.scalar(sa.select(sa.func.count()).select_from(Organization)) == 1


def test_downgrade_to_base_and_up_again(db_url: str, engine: sa.Engine) -> None:
    upgrade_database(db_url)
    first = _schema(engine)

    downgrade_database(db_url, "base")
    assert current_revision(db_url) is None
    assert set(sa.inspect(engine).get_table_names()) <= {"alembic_version"}

    upgrade_database(db_url)
    assert _schema(engine) == first


def test_models_match_the_migrations(db_url: str, engine: sa.Engine) -> None:
    upgrade_database(db_url)
    assert _differences(engine, Base.metadata) == []


def test_the_comparison_would_notice_a_drift(db_url: str, engine: sa.Engine) -> None:
    # Guards the test above: a model changed without a migration must show up as a difference.
    upgrade_database(db_url)
    drifted = sa.MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(drifted)
    drifted.tables["contacts"].append_column(sa.Column("note", sa.String(50)))
    sa.Index("ix_debtors_reference", drifted.tables["debtors"].c.reference)
    differences = _differences(engine, drifted)
    assert {diff[0] for diff in differences if isinstance(diff, tuple)} == {"add_column", "add_index"}


def test_check_constraints_in_the_database_are_the_models(db_url: str, engine: sa.Engine) -> None:
    # Autogenerate does not compare CHECK constraints, so compare their names here.
    upgrade_database(db_url)
    inspector = sa.inspect(engine)
    for table in Base.metadata.tables.values():
        expected = {c.name for c in table.constraints if isinstance(c, sa.CheckConstraint)}
        assert {c["name"] for c in inspector.get_check_constraints(table.name)} == expected, table.name


def test_unknown_revision_is_a_migration_error(db_url: str) -> None:
    with pytest.raises(MigrationError, match="nosuchrev"):
        upgrade_database(db_url, "nosuchrev")


def test_migrations_leave_the_application_logging_alone(sqlite_url: str) -> None:
    root = logging.getLogger()
    app_logger = logging.getLogger("contactfix.test_db_migrations")
    handlers, level = list(root.handlers), root.level
    upgrade_database(sqlite_url)
    assert root.handlers == handlers
    assert root.level == level
    assert not app_logger.disabled


def test_alembic_ini_points_at_the_package_migrations() -> None:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(REPO / "alembic.ini", encoding="utf-8")
    assert parser["alembic"]["script_location"] == SCRIPT_LOCATION
    versions = REPO / "contactfix" / "migrations" / "versions"
    assert (versions / "0001_initial.py").is_file()
    assert len(list(versions.glob(f"{head_revision()}_*.py"))) == 1


def _cli_env(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTACTFIX_")}
    env["CONTACTFIX_DATABASE_URL"] = url
    return env


def test_cli_db_upgrade_creates_the_schema(tmp_path: Path) -> None:
    database = tmp_path / "cli.sqlite3"
    url = f"sqlite:///{database}"
    script = Path(sys.executable).parent / "contactfix"
    result = subprocess.run(
        [str(script), "db", "upgrade"], env=_cli_env(url), cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    engine = make_engine(url)
    try:
        assert set(sa.inspect(engine).get_table_names()) == TABLES | {"alembic_version"}
    finally:
        engine.dispose()
    assert current_revision(url) == head_revision()


def test_cli_db_upgrade_reports_a_bad_revision_without_traceback(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    script = Path(sys.executable).parent / "contactfix"
    result = subprocess.run(
        [str(script), "db", "upgrade", "--revision", "nosuchrev"],
        env=_cli_env(url),
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "nosuchrev" in result.stderr
    assert "Traceback" not in result.stderr


def test_concurrent_upgrades_on_postgres_apply_once(postgres_url: str, tmp_path: Path) -> None:
    # Workers starting together each run `db upgrade`; the advisory lock makes the others wait, then
    # find nothing to do. Separate processes, as in production (Alembic's context is process-global).
    script = Path(sys.executable).parent / "contactfix"
    workers = [
        subprocess.Popen(
            [str(script), "db", "upgrade"],
            env=_cli_env(postgres_url),
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outcomes = [(worker.wait(timeout=120), worker.communicate()[1]) for worker in workers]
    assert [code for code, _ in outcomes] == [0, 0, 0], outcomes
    assert current_revision(postgres_url) == head_revision()


def _rows(engine: sa.Engine, table: str) -> list[tuple[object, ...]]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(sa.text(f"SELECT * FROM {table} ORDER BY id"))]


def test_0004_keeps_every_row_and_the_keys_that_protect_them(db_url: str, engine: sa.Engine) -> None:
    """Rebuilding source_records and debtors (SQLite) must not cascade to their contacts, and the keys
    on the source record still hold afterwards."""
    upgrade_database(db_url, "0003")
    with engine.begin() as connection:
        connection.exec_driver_sql("INSERT INTO organizations (name, kind) VALUES ('福州银行', 'bank')")
        connection.exec_driver_sql(
            "INSERT INTO submissions (organization_id, kind, filename, content_sha256, status) "
            "VALUES (1, 'bank_batch', 'a.csv', 'ab', 'completed')"
        )
        connection.exec_driver_sql(
            "INSERT INTO source_records (source, record_key, organization_id, submission_id, "
            "name_original, name) VALUES ('bank', 'bank:1:K1', 1, 1, '张三', '张三')"
        )
        connection.exec_driver_sql(
            "INSERT INTO debtors (organization_id, reference, source_record_id, submission_id, party_type, "
            "name_original, name) VALUES (1, 'K1', 1, 1, 'person', '张三', '张三')"
        )
        connection.exec_driver_sql(
            "INSERT INTO contacts (source_record_id, channel, value, value_original) "
            "VALUES (1, 'phone', '+8613800000000', '13800000000')"
        )
    before = {table: _rows(engine, table) for table in ("source_records", "debtors", "contacts")}

    # Up to the last revision before encryption at rest, which rewrites the values (its own test:
    # tests/test_privacy_at_rest.py).
    upgrade_database(db_url, "0009")

    assert {table: _rows(engine, table) for table in before} == before
    inspector = sa.inspect(engine)
    assert {fk["referred_table"] for fk in inspector.get_foreign_keys("debtors")} == {"source_records"}
    assert inspector.get_foreign_keys("source_records") == []
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO contacts (source_record_id, channel, value, value_original) "
            "VALUES (99, 'phone', '+8613800000001', '13800000001')"
        )
