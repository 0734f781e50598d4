"""The reconciliation lock: at most one reconciliation at a time, whoever starts it.

* PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) held by one open connection;
  the server frees it when that connection ends, so a killed run never leaves it behind.
* SQLite (the embedded default): an exclusive ``flock`` on a file beside the database; the kernel
  frees it when the process ends.
* Redis, when a broker is configured, in front of the database lock: ``SET NX PX`` with a random
  token, renewed while the run lasts and released by a compare-and-delete script, so beats on other
  hosts refuse early and a dead owner's lock expires after ``ttl``.

A lock that is taken raises :class:`ReconcileLocked` at once: a second run refuses, it does not queue.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import secrets
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, Engine, text

from contactfix.errors import ContactfixError

__all__ = [
    "PG_LOCK_KEY",
    "REDIS_LOCK_KEY",
    "ReconcileLocked",
    "RedisLock",
    "database_lock",
    "lock_file_path",
    "reconcile_lock",
    "redis_lock_url",
]

PG_LOCK_KEY = 0x636F6E7472656331  # "contrec1": any fixed 64-bit number, distinct from migrations'
REDIS_LOCK_KEY = "contactfix:reconcile:lock"
_BUSY = "another reconciliation is running"

# Delete or extend the key only if it still holds our token: an expired lock may belong to another run.
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"
_RENEW = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) "
    "else return 0 end"
)


class ReconcileLocked(ContactfixError, RuntimeError):
    """Another reconciliation holds the lock; this one did nothing."""


@contextlib.contextmanager
def _postgres_lock(engine: Engine) -> Iterator[None]:
    connection: Connection = engine.connect()
    try:
        got = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": PG_LOCK_KEY}).scalar_one()
        connection.commit()  # a session lock outlives the transaction; keep none open while holding it
        if not got:
            raise ReconcileLocked(f"{_BUSY} (PostgreSQL advisory lock {PG_LOCK_KEY:#x} is held)")
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": PG_LOCK_KEY})
            connection.commit()
    finally:
        connection.close()


def lock_file_path(engine: Engine) -> Path:
    """Where the SQLite lock file lives: beside the database file (in the temp folder for :memory:)."""
    database = engine.url.database
    if database and database != ":memory:":
        return Path(database).resolve().with_name(Path(database).name + ".reconcile.lock")
    digest = hashlib.sha256(str(engine.url).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"contactfix-{digest}.reconcile.lock"


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    handle: IO[str] = path.open("a+", encoding="utf-8")
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ReconcileLocked(f"{_BUSY} (lock file {path} is held)") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")  # for a person looking; the kernel's lock is what counts
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    finally:
        handle.close()


@contextlib.contextmanager
def database_lock(engine: Engine) -> Iterator[None]:
    """Hold the database's reconciliation lock for the block; ReconcileLocked if another run has it."""
    if engine.dialect.name == "postgresql":
        with _postgres_lock(engine):
            yield
    else:
        with _file_lock(lock_file_path(engine)):
            yield


class RedisLock:
    """A lock in Redis with a token, renewed every ``ttl / 3`` until released."""

    def __init__(self, client: Any, key: str = REDIS_LOCK_KEY, ttl_ms: int = 60_000) -> None:
        self.client, self.key, self.ttl_ms = client, key, ttl_ms
        self.token = secrets.token_hex(16)
        self.lost = False
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def acquire(self) -> None:
        """Take the lock or raise ReconcileLocked; start renewing it."""
        if not self.client.set(self.key, self.token, nx=True, px=self.ttl_ms):
            raise ReconcileLocked(f"{_BUSY} (Redis key {self.key} is held)")
        self._renewer = threading.Thread(target=self._renew, name="reconcile-lock-renewer", daemon=True)
        self._renewer.start()

    def _renew(self) -> None:
        while not self._stop.wait(self.ttl_ms / 3000):
            try:
                if not self.client.eval(_RENEW, 1, self.key, self.token, self.ttl_ms):
                    self.lost = True  # expired and maybe taken: the run checks this between steps
                    return
            except Exception:
                continue

    def release(self) -> None:
        """Stop renewing and delete the key if it still holds our token."""
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join()
        self.client.eval(_RELEASE, 1, self.key, self.token)


def redis_lock_url(broker_url: str | None) -> str | None:
    """The broker's URL when the broker is Redis (the lock is then held there too), else None."""
    return broker_url if broker_url and broker_url.startswith(("redis://", "rediss://")) else None


@contextlib.contextmanager
def reconcile_lock(
    engine: Engine, redis_url: str | None = None, ttl_ms: int = 60_000
) -> Iterator[RedisLock | None]:
    """The Redis lock (when ``redis_url`` is given), then the database lock, for the block."""
    if redis_url is None:
        with database_lock(engine):
            yield None
        return
    import redis

    client = redis.Redis.from_url(redis_url)
    lock = RedisLock(client, ttl_ms=ttl_ms)
    try:
        lock.acquire()
        try:
            with database_lock(engine):
                yield lock
        finally:
            lock.release()
    finally:
        client.close()
