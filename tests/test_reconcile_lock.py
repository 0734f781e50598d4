"""The reconciliation lock: a second run refuses at once, with a clear message, while one runs."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa

from contactfix.db import make_engine, upgrade_database
from contactfix.db.identity_models import ReconcileRun
from contactfix.pipeline.lock import REDIS_LOCK_KEY, ReconcileLocked, RedisLock, database_lock
from contactfix.pipeline.reconcile import reconcile


def _run_count(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(ReconcileRun)).scalar_one())


def test_a_second_run_refuses_while_the_lock_is_held(db_url: str) -> None:
    upgrade_database(db_url)
    engine = make_engine(db_url)
    with database_lock(engine), pytest.raises(ReconcileLocked, match="another reconciliation is running"):
        reconcile(engine, repair=False)
    assert _run_count(engine) == 0  # the refused run left no trace
    assert reconcile(engine, repair=False).full  # and once the lock is free, a run goes ahead


_HOLD_AT_LINKS = textwrap.dedent(
    """
    import pathlib, sys, time
    from contactfix.db import make_engine
    from contactfix.pipeline.reconcile import reconcile

    started, release = pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3])

    def hold(step):
        started.touch()
        while not release.exists():
            time.sleep(0.05)

    reconcile(make_engine(sys.argv[1]), repair=False, checkpoint=hold)
    """
)


def _wait_for(path: Path, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while not path.exists():
        assert process.poll() is None, process.communicate()[1]
        assert time.monotonic() < deadline, "the first run never reached its first step"
        time.sleep(0.05)


def test_two_processes_never_reconcile_at_once(db_url: str, tmp_path: Path) -> None:
    upgrade_database(db_url)
    started, release = tmp_path / "started", tmp_path / "release"
    first = subprocess.Popen(
        [sys.executable, "-c", _HOLD_AT_LINKS, db_url, str(started), str(release)],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(started, first)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("CONTACTFIX_") or k == "CONTACTFIX_DATA_KEY"
        }
        env["CONTACTFIX_DATABASE_URL"] = db_url
        second = subprocess.run(
            [str(Path(sys.executable).parent / "contactfix"), "reconcile", "--json"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert second.returncode == 2
        assert "another reconciliation is running" in second.stdout
        assert "another reconciliation is running" in second.stderr
        assert "Traceback" not in second.stderr
    finally:
        release.touch()
        assert first.wait(timeout=120) == 0, first.communicate()[1]
    engine = make_engine(db_url)
    assert _run_count(engine) == 1


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    client.delete(REDIS_LOCK_KEY)
    yield client
    client.delete(REDIS_LOCK_KEY)
    client.close()


def test_redis_lock_is_exclusive_renewed_and_released_only_by_its_owner(redis_client: redis.Redis) -> None:
    first = RedisLock(redis_client, ttl_ms=300)
    first.acquire()
    try:
        with pytest.raises(ReconcileLocked, match="Redis key"):
            RedisLock(redis_client, ttl_ms=300).acquire()
        time.sleep(1.0)  # three TTLs: only renewal keeps it
        assert redis_client.get(REDIS_LOCK_KEY) == first.token.encode()
        assert not first.lost
    finally:
        first.release()
    assert redis_client.get(REDIS_LOCK_KEY) is None
    # A lock that expired and was taken by another run is not released by the old owner.
    stale = RedisLock(redis_client, ttl_ms=60_000)
    stale.acquire()
    redis_client.set(REDIS_LOCK_KEY, "someone-else")
    stale.release()
    assert redis_client.get(REDIS_LOCK_KEY) == b"someone-else"


def test_reconcile_refuses_while_another_host_holds_the_redis_lock(
    sqlite_url: str, redis_url: str, redis_client: redis.Redis
) -> None:
    upgrade_database(sqlite_url)
    engine = make_engine(sqlite_url)
    redis_client.set(REDIS_LOCK_KEY, "another-host", px=60_000)
    with pytest.raises(ReconcileLocked, match="Redis key"):
        reconcile(engine, repair=False, redis_url=redis_url)
    redis_client.delete(REDIS_LOCK_KEY)
    assert reconcile(engine, repair=False, redis_url=redis_url).full
    assert redis_client.get(REDIS_LOCK_KEY) is None  # released after the run
