"""Token buckets in a real Redis, shared across processes; the clock is injected where time matters."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from contactfix.dispatch.errors import DispatchUnavailable, InvalidRateLimit
from contactfix.dispatch.ratelimit import (
    IDLE_GRACE_S,
    Acquired,
    Limit,
    RateLimiter,
    connector_key,
    recipient_key,
)
from contactfix.errors import ContactfixError

pytestmark = pytest.mark.redis

PHONE = "+8613800138000"


class Clock:
    """Seconds since the epoch, set by the test; kept in whole microseconds like Redis TIME, so that
    adding an advised wait lands exactly where the limiter expects, without float drift."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.micros = round(now * 1_000_000)

    @property
    def now(self) -> float:
        return self.micros / 1_000_000

    @now.setter
    def now(self, value: float) -> None:
        self.micros = round(value * 1_000_000)

    def advance(self, seconds: float) -> None:
        self.micros += round(seconds * 1_000_000)

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def limiter(redis_url: str, clock: Clock) -> RateLimiter:
    return RateLimiter.from_url(redis_url, clock=clock)


@pytest.fixture
def key() -> str:
    """A bucket no other test (or engineer) shares."""
    return connector_key(f"test-{uuid.uuid4().hex}")


def take(limiter: RateLimiter, key: str, times: int, rate: float = 2, burst: float = 5) -> list[bool]:
    return [limiter.acquire(key, rate, burst).ok for _ in range(times)]


def test_a_full_bucket_gives_its_burst_then_says_how_long_to_wait(
    limiter: RateLimiter, key: str, clock: Clock
) -> None:
    assert take(limiter, key, 5) == [True] * 5
    assert limiter.acquire(key, 2, 5) == Acquired(ok=False, retry_after_s=0.5)
    clock.now += 0.499
    refused = limiter.acquire(key, 2, 5)
    assert refused == Acquired(ok=False, retry_after_s=0.001)
    clock.now += 0.001
    assert limiter.acquire(key, 2, 5).ok
    assert not limiter.acquire(key, 2, 5).ok


def test_the_bucket_refills_at_the_rate_up_to_the_burst(limiter: RateLimiter, key: str, clock: Clock) -> None:
    take(limiter, key, 5)
    clock.now += 1.0
    assert take(limiter, key, 3) == [True, True, False]
    clock.now += 3600
    assert take(limiter, key, 6) == [True] * 5 + [False]


def test_cost_takes_several_tokens(limiter: RateLimiter, key: str, clock: Clock) -> None:
    assert limiter.acquire(key, 2, 5, cost=3).ok
    refused = limiter.acquire(key, 2, 5, cost=3)
    assert refused == Acquired(ok=False, retry_after_s=0.5)  # 2 tokens left, 1 more at 2 a second
    assert limiter.acquire(key, 2, 5, cost=2).ok


def test_a_clock_going_backwards_adds_no_tokens(limiter: RateLimiter, key: str, clock: Clock) -> None:
    take(limiter, key, 5)
    clock.now -= 60
    assert not limiter.acquire(key, 2, 5).ok
    clock.now += 60.5
    assert take(limiter, key, 2) == [True, False]


def test_acquire_all_takes_from_every_bucket_or_from_none(limiter: RateLimiter, clock: Clock) -> None:
    connector = Limit(connector_key(f"test-{uuid.uuid4().hex}"), rate_per_s=10, burst=10)
    recipient = Limit(recipient_key(f"+86139{uuid.uuid4().int % 10**8:08d}"), rate_per_s=1 / 60, burst=2)
    assert limiter.acquire_all([connector, recipient]).ok
    assert limiter.acquire_all([connector, recipient]).ok
    refused = limiter.acquire_all([connector, recipient])
    assert not refused.ok and refused.retry_after_s == pytest.approx(60)
    # The refusal took nothing from the connector: 8 of its 10 tokens are still there.
    assert take(limiter, connector.key, 9, rate=10, burst=10) == [True] * 8 + [False]


def test_idle_buckets_expire_once_they_would_be_full_again(
    limiter: RateLimiter, key: str, redis_url: str
) -> None:
    limiter.acquire(key, 0.5, 10)
    ttl_ms = redis.Redis.from_url(redis_url).pttl(key)
    assert (10 / 0.5 + IDLE_GRACE_S) * 1000 - 5000 < ttl_ms <= (10 / 0.5 + IDLE_GRACE_S) * 1000


def test_without_an_injected_clock_redis_time_drives_the_bucket(redis_url: str, key: str) -> None:
    limiter = RateLimiter.from_url(redis_url)
    assert take(limiter, key, 3, rate=0.5, burst=3) == [True] * 3
    refused = limiter.acquire(key, 0.5, 3)
    assert not refused.ok and 0 < refused.retry_after_s <= 2.0


@settings(max_examples=60, deadline=None)
@given(
    rate=st.floats(0.01, 1000),
    burst=st.integers(1, 50),
    steps=st.lists(st.floats(0, 5), min_size=1, max_size=40),
)
def test_advice_is_exact_and_grants_never_exceed_rate_times_time_plus_burst(
    redis_url: str, rate: float, burst: int, steps: list[float]
) -> None:
    clock = Clock()
    limiter, key = RateLimiter.from_url(redis_url, clock=clock), connector_key(f"test-{uuid.uuid4().hex}")
    start = clock.now
    for granted, step in enumerate(steps, start=1):
        clock.advance(step)
        got = limiter.acquire(key, rate, burst)
        if not got.ok:
            assert got.retry_after_s > 0
            clock.advance(got.retry_after_s - 1e-6)
            assert not limiter.acquire(key, rate, burst).ok, "the advised wait was longer than needed"
            clock.advance(1e-6)
            assert limiter.acquire(key, rate, burst).ok, "waiting the advised time was not enough"
        assert granted <= burst + rate * (clock.now - start) + 1e-6


def test_recipient_keys_hash_the_number(limiter: RateLimiter, redis_url: str) -> None:
    phone = f"+86138{uuid.uuid4().int % 10**8:08d}"
    bucket = recipient_key(phone)
    assert bucket.startswith("contactfix:rl:recipient:") and len(bucket.rsplit(":", 1)[1]) == 32
    assert phone.lstrip("+") not in bucket and phone[-11:] not in bucket and phone[-8:] not in bucket
    assert recipient_key(f" {phone} ") == bucket != recipient_key(PHONE)
    assert limiter.acquire(bucket, 1, 1).ok
    client = redis.Redis.from_url(redis_url)
    assert client.exists(bucket)
    assert list(client.scan_iter(match=f"*{phone[-8:]}*")) == []
    assert all(phone[-8:].encode() not in value for value in client.hgetall(bucket).values())


def test_connector_keys_are_namespaced() -> None:
    assert connector_key("smpp") == "contactfix:rl:connector:smpp"
    for bad in ("", "a b", "smpp:1", "x" * 65):
        with pytest.raises(InvalidRateLimit):
            connector_key(bad)
    with pytest.raises(InvalidRateLimit):
        recipient_key("  ")


@pytest.mark.parametrize(
    ("key", "rate", "burst", "cost"),
    [
        ("contactfix:rl:connector:x", 0, 5, 1),
        ("contactfix:rl:connector:x", -1, 5, 1),
        ("contactfix:rl:connector:x", float("nan"), 5, 1),
        ("contactfix:rl:connector:x", float("inf"), 5, 1),
        ("contactfix:rl:connector:x", 1, 0, 1),
        ("contactfix:rl:connector:x", 1e-9, 5, 1),
        ("contactfix:rl:connector:x", 1, 5, 0),
        ("contactfix:rl:connector:x", 1, 5, 6),
        (PHONE, 1, 5, 1),
    ],
)
def test_impossible_limits_are_refused_before_redis(key: str, rate: float, burst: float, cost: float) -> None:
    limiter = RateLimiter.from_url("redis://127.0.0.1:1/0", timeout_s=0.5)  # nothing listens there
    with pytest.raises(InvalidRateLimit) as caught:
        limiter.acquire(key, rate, burst, cost)
    assert isinstance(caught.value, ContactfixError) and isinstance(caught.value, ValueError)
    assert PHONE not in str(caught.value)


def test_redis_down_is_dispatch_unavailable() -> None:
    limiter = RateLimiter.from_url("redis://127.0.0.1:1/0", timeout_s=0.5)
    with pytest.raises(DispatchUnavailable, match="cannot reach Redis") as caught:
        limiter.acquire(connector_key("smpp"), 1, 1)
    assert isinstance(caught.value, ContactfixError)
    assert isinstance(caught.value.__cause__, redis.exceptions.ConnectionError)


@pytest.fixture
def private_redis() -> Iterator[str]:
    """A redis-server of this test's own on a Unix socket, to flush or kill without touching others."""
    if shutil.which("redis-server") is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed — CI needs it", pytrace=False)
        pytest.skip("redis-server is not installed")
    directory = Path(tempfile.mkdtemp(prefix="rl-", dir="/tmp"))  # socket paths must stay short
    socket_path = directory / "redis.sock"
    command = [
        "redis-server",
        "--port",
        "0",
        "--unixsocket",
        str(socket_path),
        "--save",
        "",
        "--appendonly",
        "no",
    ]
    server = subprocess.Popen(command, cwd=directory, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"unix://{socket_path}"
    try:
        deadline = time.monotonic() + 15
        while not _pings(url):
            assert time.monotonic() < deadline and server.poll() is None, "private redis-server did not start"
            time.sleep(0.05)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=15)
        shutil.rmtree(directory, ignore_errors=True)


def _pings(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.2).ping())
    except redis.exceptions.ConnectionError:
        return False


def test_the_script_is_loaded_again_after_noscript(private_redis: str, key: str, clock: Clock) -> None:
    limiter = RateLimiter.from_url(private_redis, clock=clock)
    assert limiter.acquire(key, 1, 2).ok
    redis.Redis.from_url(private_redis).script_flush()
    assert limiter.acquire(key, 1, 2).ok
    assert not limiter.acquire(key, 1, 2).ok


def test_redis_going_away_mid_run_is_dispatch_unavailable(private_redis: str, key: str) -> None:
    limiter = RateLimiter.from_url(private_redis, timeout_s=0.5)
    assert limiter.acquire(key, 1, 2).ok
    redis.Redis.from_url(private_redis).shutdown(nosave=True)
    with pytest.raises(DispatchUnavailable):
        limiter.acquire(key, 1, 2)


def _hammer(url: str, key: str, rate: float, burst: float, seconds: float, barrier: Any, out: Any) -> None:
    limiter = RateLimiter.from_url(url)
    barrier.wait()
    started = time.time()
    granted = 0
    while time.time() < started + seconds:
        got = limiter.acquire(key, rate, burst)
        if got.ok:
            granted += 1
        else:
            time.sleep(min(got.retry_after_s, 0.005))
    out.put((granted, started, time.time()))


def test_two_processes_sharing_a_bucket_never_exceed_rate_times_time_plus_burst(
    redis_url: str, key: str
) -> None:
    rate, burst, seconds = 100.0, 20.0, 2.0
    context = multiprocessing.get_context("spawn")
    barrier, out = context.Barrier(2), context.Queue()
    workers = [
        context.Process(target=_hammer, args=(redis_url, key, rate, burst, seconds, barrier, out))
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    results = [out.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    total = sum(granted for granted, _, _ in results)
    elapsed = max(end for _, _, end in results) - min(start for _, start, _ in results)
    assert total <= burst + rate * elapsed
    # Both took part, and together they used most of what the bucket offered.
    assert all(granted > 0 for granted, _, _ in results)
    assert total >= 0.5 * (burst + rate * seconds)
