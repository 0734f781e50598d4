"""Rate limits shared by every worker: token buckets in Redis, taken atomically by one Lua script.

Celery's own ``rate_limit`` counts per worker process; a provider's or a recipient's limit must hold
across all of them, so the bucket lives in Redis. Each bucket is a hash ``{tokens, at}``; the script
refills it at ``rate_per_s`` up to ``burst`` since ``at`` and takes ``cost`` tokens if every bucket
asked for has them, or none at all. Time comes from Redis ``TIME``, so worker clocks do not matter;
tests inject a clock instead. Idle buckets expire once they would be full again (absent == full).

Keys: ``contactfix:rl:connector:<name>`` and ``contactfix:rl:recipient:<HMAC of the recipient>`` — a
phone number never appears in Redis, in the clear or as a digest anyone could recompute: the HMAC-SHA-256
(128 bits kept) is under the deployment's rate-limit key (:mod:`contactfix.privacy`), so reading Redis
and trying every number finds nothing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from contactfix.dispatch.errors import DispatchUnavailable, InvalidRateLimit
from contactfix.privacy import PURPOSE_RATELIMIT, KeyedHash, keyed_hash

NAMESPACE = "contactfix:rl"
# Buckets outlive their refill time by this much, so a bucket is never dropped while still filling.
IDLE_GRACE_S = 60.0
# A bucket must refill within a year: slower limits are typos, and would overflow Redis's expiry times.
MAX_REFILL_S = 366 * 24 * 3600.0
_CONNECTOR_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, ReadOnlyError)

# KEYS: the buckets. ARGV[1]: now in whole microseconds, '' for Redis TIME; ARGV[2]: cost; then for
# each bucket its rate per second, burst and idle TTL in milliseconds. Returns {1 or 0, microseconds
# to wait}. Time stays in integer microseconds (exact in a double until the year 2255), so waiting
# the advised time always refills enough; seconds since 1970 as a double would be off by 0.2 µs.
# Numbers are stored and returned with %.17g because Redis turns Lua numbers into integers or
# 14-digit strings, which would lose the fraction of a token.
_TOKEN_BUCKET_LUA = """
local now = tonumber(ARGV[1])
if now == nil then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local cost = tonumber(ARGV[2])
local tokens, since, wait = {}, {}, 0
for i = 1, #KEYS do
  local rate, burst = tonumber(ARGV[3 * i]) / 1000000, tonumber(ARGV[3 * i + 1])
  local state = redis.call('HMGET', KEYS[i], 'tokens', 'at')
  local have, at = tonumber(state[1]), tonumber(state[2])
  if have == nil or at == nil then
    have, at = burst, now
  elseif now > at then
    have, at = have + (now - at) * rate, now
  end
  have = math.min(have, burst)
  tokens[i], since[i] = have, at
  -- A billionth of a token of slack absorbs rounding; the advised wait aims at half of it, so that
  -- waiting exactly that long is always enough and the advice is not a microsecond too long.
  if have + 1e-9 < cost then
    wait = math.max(wait, math.ceil((cost - have - 5e-10) / rate))
  end
end
local ok = 0
if wait == 0 then ok = 1 end
for i = 1, #KEYS do
  local have = tokens[i]
  if ok == 1 then have = have - cost end
  redis.call('HSET', KEYS[i], 'tokens', string.format('%.17g', have), 'at', string.format('%.17g', since[i]))
  redis.call('PEXPIRE', KEYS[i], ARGV[3 * i + 2])
end
return {ok, wait}
"""


@dataclass(frozen=True, slots=True)
class Limit:
    """One bucket: ``rate_per_s`` tokens a second, at most ``burst`` saved up."""

    key: str
    rate_per_s: float
    burst: float

    def __post_init__(self) -> None:
        if not self.key.startswith(f"{NAMESPACE}:"):
            raise InvalidRateLimit(
                f"bucket keys start with {NAMESPACE}: (use connector_key or recipient_key)"
            )
        if not (math.isfinite(self.rate_per_s) and self.rate_per_s > 0):
            raise InvalidRateLimit(f"rate_per_s must be a positive number, got {self.rate_per_s!r}")
        if not (math.isfinite(self.burst) and self.burst > 0):
            raise InvalidRateLimit(f"burst must be a positive number, got {self.burst!r}")
        if self.burst / self.rate_per_s > MAX_REFILL_S:
            raise InvalidRateLimit(
                f"a burst of {self.burst} at {self.rate_per_s}/s takes over a year to refill"
            )

    @property
    def idle_ttl_ms(self) -> int:
        """How long an untouched bucket is kept: until it would be full again, plus a grace."""
        return math.ceil((self.burst / self.rate_per_s + IDLE_GRACE_S) * 1000)


@dataclass(frozen=True, slots=True)
class Acquired:
    """Whether the tokens were taken; if not, how long until they would be (seconds, >= 0)."""

    ok: bool
    retry_after_s: float


def connector_key(name: str) -> str:
    """The bucket key of the connector called ``name`` (letters, digits, ``_.-``)."""
    if not _CONNECTOR_NAME.match(name):
        raise InvalidRateLimit(f"connector name {name!r} must be 1-64 letters, digits, '_', '.' or '-'")
    return f"{NAMESPACE}:connector:{name}"


def recipient_key(recipient: str, hasher: KeyedHash | None = None) -> str:
    """The bucket key of one recipient (pass the E.164 number): its keyed hash under the rate-limit
    key (``hasher``; the process keyring's by default), never the number nor a plain digest of it."""
    normalised = recipient.strip()
    if not normalised:
        raise InvalidRateLimit("recipient is empty")
    digest = (hasher or keyed_hash(PURPOSE_RATELIMIT)).hexdigest(normalised, 32)
    return f"{NAMESPACE}:recipient:{digest}"


class RateLimiter:
    """Token buckets shared by every worker that talks to the same Redis.

    ``clock`` returns seconds since the epoch and is for tests only; left out, the buckets run on
    Redis's own ``TIME``, the one clock every worker agrees on.
    """

    def __init__(self, client: redis.Redis, *, clock: Callable[[], float] | None = None) -> None:
        self._client = client
        self._clock = clock
        # redis-py's Script runs EVALSHA and loads the script again when Redis answers NOSCRIPT
        # (after a restart or SCRIPT FLUSH), so the body crosses the wire once per server, not per call.
        self._script = client.register_script(_TOKEN_BUCKET_LUA)

    @classmethod
    def from_url(
        cls, url: str, *, timeout_s: float = 2.0, clock: Callable[[], float] | None = None
    ) -> RateLimiter:
        """A limiter on the Redis at ``url`` that gives up after ``timeout_s`` instead of hanging a worker."""
        client = redis.Redis.from_url(
            url,
            socket_connect_timeout=timeout_s,
            socket_timeout=timeout_s,
            # One immediate retry heals a connection Redis closed while idle; more would only delay
            # the DispatchUnavailable that lets Celery retry the task with its own back-off.
            retry=Retry(NoBackoff(), 1),
        )
        return cls(client, clock=clock)

    def acquire(self, key: str, rate_per_s: float, burst: float, cost: float = 1) -> Acquired:
        """Take ``cost`` tokens from bucket ``key`` if it has them; DispatchUnavailable when Redis is down."""
        return self.acquire_all([Limit(key, rate_per_s, burst)], cost)

    def acquire_all(self, limits: Sequence[Limit], cost: float = 1) -> Acquired:
        """Take ``cost`` tokens from every bucket in ``limits``, or from none of them.

        A message needs both its connector's and its recipient's token; taking one and not the other
        would waste capacity, so this is one atomic step. ``retry_after_s`` is the longest wait.
        """
        if not limits:
            raise InvalidRateLimit("acquire_all needs at least one limit")
        if not (math.isfinite(cost) and cost > 0):
            raise InvalidRateLimit(f"cost must be a positive number, got {cost!r}")
        for limit in limits:
            if cost > limit.burst:
                raise InvalidRateLimit(
                    f"cost {cost} exceeds the burst {limit.burst} of {limit.key}: never met"
                )
        now = "" if self._clock is None else str(round(self._clock() * 1_000_000))
        args: list[str | int] = [now, repr(float(cost))]
        for limit in limits:
            args += [repr(float(limit.rate_per_s)), repr(float(limit.burst)), limit.idle_ttl_ms]
        try:
            reply: Any = self._script(keys=[limit.key for limit in limits], args=args)
        except _UNAVAILABLE as exc:
            raise DispatchUnavailable(
                f"the rate limiter cannot reach Redis: {type(exc).__name__}: {exc}"
            ) from exc
        ok, wait_us = reply
        return Acquired(ok=int(ok) == 1, retry_after_s=int(wait_us) / 1_000_000)
