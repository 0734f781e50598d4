"""Shared fixtures: real services, never mocks.

PostgreSQL (127.0.0.1:5432, trust auth) and Redis (127.0.0.1:6379) are expected on the dev machines.
Where one does not answer, the fixture tries to start it; if that fails the test fails in CI
(CI=true) with a message naming what is missing, and is skipped with that message elsewhere.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_HOST, PG_PORT = "127.0.0.1", 5432
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
# The data key of the test process (contactfix.privacy: keyed hashes). Fixed and public: tests only.
TEST_DATA_KEY = "Y29udGFjdGZpeCB0ZXN0czogbm90IGEgc2VjcmV0ISE="
os.environ.setdefault("CONTACTFIX_DATA_KEY", TEST_DATA_KEY)


def _answers(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _wait_for(host: str, port: int, seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _answers(host, port):
            return True
        time.sleep(0.2)
    return False


def _missing(what: str) -> None:
    """Fail in CI, skip elsewhere: a missing service must never pass silently in CI."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} — CI needs it; install/start it on the machine", pytrace=False)
    pytest.skip(what)


def _start_postgres() -> bool:
    if shutil.which("pg_ctlcluster") and Path("/etc/postgresql").is_dir():
        for version in sorted(os.listdir("/etc/postgresql")):
            subprocess.run(
                ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
                check=False,
                capture_output=True,
            )
    return _wait_for(PG_HOST, PG_PORT)


def _start_redis() -> bool:
    if shutil.which("redis-server"):
        subprocess.run(
            [
                "redis-server",
                "--daemonize",
                "yes",
                "--bind",
                REDIS_HOST,
                "--port",
                str(REDIS_PORT),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            check=False,
            capture_output=True,
        )
    return _wait_for(REDIS_HOST, REDIS_PORT)


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The admin URL of the PostgreSQL server (database ``test``)."""
    if not (_answers(PG_HOST, PG_PORT) or _start_postgres()):
        _missing(f"PostgreSQL does not answer at {PG_HOST}:{PG_PORT} and could not be started")
    return f"postgresql+psycopg://{PG_HOST}:{PG_PORT}/test"


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A throwaway PostgreSQL database, created for one test and dropped after it."""
    from contactfix.db import throwaway_database

    with throwaway_database(postgres_server, "contactfix_test") as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite file for one test."""
    return f"sqlite:///{tmp_path / 'contactfix.sqlite3'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database URL, once on SQLite and once on PostgreSQL (storage tests run on both)."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of a real Redis server, started from Debian's redis-server when none answers."""
    if not (_answers(REDIS_HOST, REDIS_PORT) or _start_redis()):
        _missing(f"Redis does not answer at {REDIS_HOST}:{REDIS_PORT} and redis-server could not start")
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/15"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data beside the project (reference data with its sources)."""
    if not SHARED_DATA.is_dir():
        _missing(f"reference data folder {SHARED_DATA} is missing")
    return SHARED_DATA


def _leaves_threads(item: pytest.Item) -> int:
    if item.path.name == "test_web_browser.py":
        return 2
    return 1 if "schemathesis" in item.name else 0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that leave threads behind run last: pytest-playwright keeps its driver, its threads and
    an event loop for the rest of the session, schemathesis's ASGI client a thread; either would stop
    later tests from forking (intake forks its workers only in a process with no other thread) or
    from calling asyncio.run()."""
    items.sort(key=_leaves_threads)
