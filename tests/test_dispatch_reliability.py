"""Dispatch survives its failures: real Redis, real worker processes, 1,000 dispatches each.

- A worker killed with SIGKILL in the middle of the batch, and a new one started: every dispatch
  ends delivered, and the outbox holds exactly one message per dispatch.
- Redis killed in the middle of the batch (losing every queued task: it keeps nothing on disk) and
  started again: the same.

The workers and beat are ``contactfix worker`` / ``contactfix beat`` processes; what they lose the
database still knows, and the relay enqueues it again.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from dispatch_support import make_dispatches
from service_support import RedisServer, ServiceProcess, service_env, start_beat, start_worker, wait_until
from sqlalchemy import Engine, func, select

from connectors.outbox import read_outbox
from contactfix.db.dispatch_models import Dispatch, DispatchState
from contactfix.db.engine import make_engine
from contactfix.db.migrate import upgrade_database

pytestmark = [pytest.mark.redis, pytest.mark.postgres]

BATCH = 1000
# Long enough for a loaded 2-core machine; a healthy run takes a fraction of it.
FINISH_S = 240.0


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    upgrade_database(postgres_url)
    engine = make_engine(postgres_url)
    yield engine
    engine.dispose()


def _count(engine: Engine, state: DispatchState) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).where(Dispatch.state == state.value)).scalar_one())


def _states(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        rows = connection.execute(select(Dispatch.state, func.count()).group_by(Dispatch.state)).all()
    return {state: count for state, count in rows}


def _assert_exactly_once(engine: Engine, outbox: Path) -> None:
    with engine.connect() as connection:
        keys = set(connection.execute(select(Dispatch.idempotency_key)).scalars())
    sms = Counter(entry["idempotency_key"] for entry in read_outbox(outbox) if entry["kind"] == "sms")
    assert len(keys) == BATCH
    assert set(sms) == keys, "a dispatch is missing from the outbox, or the outbox has one we never made"
    repeated = {key: n for key, n in sms.items() if n > 1}
    assert not repeated, f"{len(repeated)} dispatches reached the outbox more than once"
    assert _states(engine) == {DispatchState.DELIVERED.value: BATCH}


def _wait_delivered(engine: Engine, count: int, processes: list[ServiceProcess]) -> None:
    try:
        wait_until(lambda: _count(engine, DispatchState.DELIVERED) >= count, FINISH_S, f"{count} delivered")
    except AssertionError as exc:
        logs = "\n".join(f"--- {p.log.name}\n{p.tail()}" for p in processes)
        raise AssertionError(f"{exc}; states {_states(engine)}\n{logs}") from None


def _stop(processes: list[ServiceProcess]) -> None:
    for process in processes:
        process.stop()


def test_a_worker_killed_mid_batch_loses_and_repeats_nothing(
    tmp_path: Path, engine: Engine, redis_server: RedisServer
) -> None:
    make_dispatches(engine, BATCH)
    env = service_env(tmp_path, str(engine.url.render_as_string(hide_password=False)), redis_server.url)
    first = start_worker(env, tmp_path, "first")
    beat = start_beat(env, tmp_path)
    processes = [first, beat]
    try:
        _wait_delivered(engine, BATCH // 4, processes)
        first.kill9()
        in_flight = _count(engine, DispatchState.SENDING)
        delivered_at_kill = _count(engine, DispatchState.DELIVERED)
        assert delivered_at_kill < BATCH, "the batch finished before the kill: nothing was tested"
        second = start_worker(env, tmp_path, "second")
        processes.append(second)
        _wait_delivered(engine, BATCH, processes)
    finally:
        _stop(processes)
    _assert_exactly_once(engine, tmp_path / "outbox.jsonl")
    print(f"killed at {delivered_at_kill} delivered with {in_flight} in flight")  # shown with -s


def test_redis_restarted_mid_batch_loses_and_repeats_nothing(
    tmp_path: Path, engine: Engine, redis_server: RedisServer
) -> None:
    make_dispatches(engine, BATCH)
    env = service_env(tmp_path, str(engine.url.render_as_string(hide_password=False)), redis_server.url)
    processes = [start_worker(env, tmp_path, "worker"), start_beat(env, tmp_path)]
    try:
        _wait_delivered(engine, BATCH // 4, processes)
        redis_server.stop()  # every queued and unacknowledged task is gone with it
        delivered_at_stop = _count(engine, DispatchState.DELIVERED)
        assert delivered_at_stop < BATCH, "the batch finished before Redis stopped: nothing was tested"
        time.sleep(2)
        redis_server.start()
        _wait_delivered(engine, BATCH, processes)
    finally:
        _stop(processes)
    _assert_exactly_once(engine, tmp_path / "outbox.jsonl")
