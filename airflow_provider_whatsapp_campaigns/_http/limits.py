"""Client-side rate limits: one budget per connection per process (or event loop), shared through Redis.

With ``redis_url`` every process takes its slots from one Redis bucket; while Redis cannot be
reached each process falls back to its own budget (see :class:`Budget`).
"""

from __future__ import annotations

import logging
import math
import time
from functools import cache
from typing import TYPE_CHECKING, Any

from airflow_provider_whatsapp_campaigns._http import redis_clients
from airflow_provider_whatsapp_campaigns._http.state import STATE
from airflow_provider_whatsapp_campaigns.config import ConnectionConfig

if TYPE_CHECKING:  # pyrate-limiter is imported when a limiter is first built, not by DAG files
    from pyrate_limiter import Limiter, Rate

log = logging.getLogger(__name__)

#: While Redis is unreachable, how often (seconds) a process tries the shared budget again.
REDIS_RETRY_SECONDS = 5.0


def _rates(rps: float) -> list[Rate]:
    """Evenly spaced requests for low limits; above 50/s, at most rps/10 in any 100 ms window.

    Either way no one-second window ever holds more than ``rps`` requests (sliding windows).
    """
    from pyrate_limiter import Rate

    if rps <= 50:
        return [Rate(1, max(1, math.ceil(1000 / rps)))]
    return [Rate(max(1, math.floor(rps / 10)), 100)]


def _limiter_key(config: ConnectionConfig, rps: float) -> tuple[str, str, float]:
    return (config.conn_id, config.base_url, rps)


def sync_limiter(config: ConnectionConfig) -> Budget | None:
    """One budget per connection per process (Redis-shared when ``redis_url`` is set)."""
    if not config.rate_limit:
        return None
    rps = config.rate_limit

    def make() -> Budget:
        return Budget(config, _limiter(_local_bucket()(_rates(rps))))

    return STATE.setdefault("limiter", _limiter_key(config, rps), make)


async def async_limiter(config: ConnectionConfig) -> Budget | None:
    """Shared by every trigger of the same connection in one triggerer event loop."""
    if not config.rate_limit:
        return None
    rps = config.rate_limit

    def make() -> Budget:
        from pyrate_limiter import BucketAsyncWrapper

        return Budget(config, _limiter(BucketAsyncWrapper(_local_bucket()(_rates(rps)))))

    return STATE.setdefault("limiter", _limiter_key(config, rps), make, per_loop=True)


def _limiter(bucket: Any) -> Limiter:
    from pyrate_limiter import Limiter, TimeClock

    factory = _self_trimming_factory()(bucket, TimeClock())
    return Limiter(factory, max_delay=3_600_000, retry_until_max_delay=True, buffer_ms=1)


@cache
def _self_trimming_factory() -> Any:
    """A bucket factory that schedules no leak: our buckets trim themselves on every ``put``.

    pyrate-limiter would otherwise start a leak thread per process (and a task per event loop) whose
    loop races bucket disposal (``AssertionError`` in a daemon thread).
    """
    from pyrate_limiter import SingleBucketFactory

    class _SelfTrimming(SingleBucketFactory):
        def schedule_leak(self, new_bucket: Any, associated_clock: Any) -> None:
            """Nothing to schedule."""

    return _SelfTrimming


def _monotonic() -> float:
    """Its own name so tests can move time without touching the ``time`` module."""
    return time.monotonic()


def _now_ms() -> int:
    """The limiter's clock (pyrate-limiter's default ``TimeClock``), read when a slot is taken."""
    return int(time.time() * 1000)


@cache
def _local_bucket() -> Any:
    """pyrate-limiter's in-memory bucket, stamping each request when its slot is granted.

    pyrate-limiter stamps a request once, when first asked, and after each wait adds the wait it
    planned (``item.timestamp += delay``). A loop that wakes late (a busy triggerer) then files
    requests in the past, where the window still has room, and a burst goes out. Stamping on every
    ``put`` judges the window at the moment the request really leaves.
    (The fix belongs upstream; pyrate-limiter 4.5 still stamps this way.)
    """
    from pyrate_limiter import InMemoryBucket

    class _GrantTimeBucket(InMemoryBucket):
        def put(self, item: Any) -> bool:
            item.timestamp = _now_ms()
            self.leak(item.timestamp)  # trimmed as it is used: no background leak thread
            return bool(super().put(item))

    return _GrantTimeBucket


#: Check and take a slot with Redis's own clock (one clock for every process and host) and count every
#: request newer than the window's start, so none filed "in the future" by another process is missed;
#: old entries are trimmed here and the key expires once idle: nothing is left behind in Redis.
_REDIS_TAKE_SLOT = """
local bucket = KEYS[1]
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local weight = tonumber(ARGV[2])
local rates_count = tonumber(ARGV[3])
local longest = 0
for i = 1, rates_count do
    local interval = tonumber(ARGV[2 + 2 * i])
    local limit = tonumber(ARGV[3 + 2 * i])
    if interval > longest then longest = interval end
    if limit - redis.call('ZCOUNT', bucket, now - interval, '+inf') < weight then
        return {i - 1, now}
    end
end
redis.call('ZREMRANGEBYSCORE', bucket, '-inf', now - longest - 1)
for i = 1, weight do
    redis.call('ZADD', bucket, now, ARGV[1] .. i)
end
redis.call('PEXPIRE', bucket, longest * 2)
return {-1, now}
"""


@cache
def _redis_bucket() -> Any:
    """pyrate-limiter's Redis bucket on Redis's clock, trimmed as it is used (no background leak).

    The stock bucket stamps requests with each client's clock at the time first asked (see
    :func:`_local_bucket`), so a late or skewed process files its requests in the past and the shared
    budget overshoots (measured: 19 requests in one second against a budget of 10). Defined on first
    use: a module-level subclass would import pyrate-limiter with every DAG file.
    """
    from pyrate_limiter import RedisBucket
    from pyrate_limiter.utils import id_generator

    class _ServerClockRedisBucket(RedisBucket):
        @classmethod
        def init(cls, rates: list[Rate], redis: Any, bucket_key: str) -> Any:
            script_hash = redis.script_load(_REDIS_TAKE_SLOT)
            if isinstance(script_hash, str):
                return cls(rates, redis, bucket_key, script_hash)

            async def loaded() -> _ServerClockRedisBucket:
                return cls(rates, redis, bucket_key, await script_hash)

            return loaded()

        def put(self, item: Any) -> Any:
            bounds = [value for rate in self.rates for value in (rate.interval, rate.limit)]
            name = f"{item.name}:{id_generator()}:"
            reply = self.redis.evalsha(self.script_hash, 1, self.bucket_key, name, item.weight, len(self.rates), *bounds)
            if isinstance(reply, list):
                return self._granted(item, reply)

            async def settled() -> bool:
                return self._granted(item, await reply)

            return settled()

        def _granted(self, item: Any, reply: list[int]) -> bool:
            failing, now = int(reply[0]), int(reply[1])
            item.timestamp = now  # the limiter's wait is computed against Redis's clock too
            self.failing_rate = None if failing < 0 else self.rates[failing]
            return self.failing_rate is None

        def leak(self, current_timestamp: int | None = None) -> int:
            return 0  # trimmed by the script on every put, on Redis's clock

    return _ServerClockRedisBucket


class Budget:
    """A connection's request budget in this process: shared through Redis, or its own while Redis is away.

    When Redis cannot be reached the process falls back to an in-memory budget of the same rate
    (during an outage each process may spend the full rate; the vendor's 429s are retried), logs
    ONE warning, tries Redis again every :data:`REDIS_RETRY_SECONDS`, and logs once when it is back.
    The shared limiter is rebuilt then: a restarted Redis has lost the bucket's Lua script.
    """

    def __init__(self, config: ConnectionConfig, local: Limiter) -> None:
        self.config = config
        self.local = local
        self.shared: Limiter | None = None
        self.degraded = False
        self.retry_at = 0.0

    def _use_shared(self) -> bool:
        return bool(self.config.redis_url) and (not self.degraded or _monotonic() >= self.retry_at)

    def _bucket_args(self) -> tuple[list[Rate], str]:
        return _rates(self.config.rate_limit or 1), _bucket_name(self.config)

    def _fell_back(self, exc: Exception) -> None:
        self.shared = None
        self.retry_at = _monotonic() + REDIS_RETRY_SECONDS
        if not self.degraded:
            self.degraded = True
            log.warning(
                "connection %r: Redis for the shared rate limit is unreachable (%s); this process keeps its "
                "own budget of %g requests/s meanwhile and tries Redis again every %g s",
                self.config.conn_id,
                type(exc).__name__,
                self.config.rate_limit,
                REDIS_RETRY_SECONDS,
            )

    def _back(self) -> None:
        if self.degraded:
            self.degraded = False
            log.info("connection %r: Redis is back; the shared rate limit applies again", self.config.conn_id)

    def acquire(self, name: str) -> None:
        """Wait for a slot (blocking)."""
        if self._use_shared():
            try:
                if self.shared is None:
                    rates, key = self._bucket_args()
                    bucket = _redis_bucket().init(rates, redis_clients.client(str(self.config.redis_url)), key)
                    self.shared = _limiter(bucket)
                self.shared.try_acquire(name)
            except redis_clients.redis_error() as exc:
                self._fell_back(exc)
            else:
                self._back()
                return
        self.local.try_acquire(name)

    async def acquire_async(self, name: str) -> None:
        """Wait for a slot without blocking the event loop."""
        if self._use_shared():
            try:
                if self.shared is None:
                    rates, key = self._bucket_args()
                    bucket = await _redis_bucket().init(rates, redis_clients.aclient(str(self.config.redis_url)), key)
                    self.shared = _limiter(bucket)
                await self.shared.try_acquire_async(name)
            except redis_clients.redis_error() as exc:
                self._fell_back(exc)
            else:
                self._back()
                return
        await self.local.try_acquire_async(name)


def _bucket_name(config: ConnectionConfig) -> str:
    return f"whatsapp-campaigns:{config.conn_id}"
