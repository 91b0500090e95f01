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

from airflow_provider_whatsapp_campaigns._http.state import STATE
from airflow_provider_whatsapp_campaigns.config import ConnectionConfig

if TYPE_CHECKING:  # pyrate-limiter is imported when a limiter is first built, not by DAG files
    from pyrate_limiter import Limiter, Rate

log = logging.getLogger(__name__)

#: While Redis is unreachable, how often (seconds) a process tries the shared budget again.
REDIS_RETRY_SECONDS = 5.0
#: Seconds a Redis call may take: a Redis that hangs must not hold requests much longer than one that refuses.
REDIS_TIMEOUT_SECONDS = 2.0


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
        from pyrate_limiter import InMemoryBucket

        return Budget(config, _limiter(InMemoryBucket(_rates(rps))))

    return STATE.setdefault("limiter", _limiter_key(config, rps), make)


async def async_limiter(config: ConnectionConfig) -> Budget | None:
    """Shared by every trigger of the same connection in one triggerer event loop."""
    if not config.rate_limit:
        return None
    rps = config.rate_limit

    def make() -> Budget:
        from pyrate_limiter import BucketAsyncWrapper, InMemoryBucket

        return Budget(config, _limiter(BucketAsyncWrapper(InMemoryBucket(_rates(rps)))))

    return STATE.setdefault("limiter", _limiter_key(config, rps), make, per_loop=True)


def _limiter(bucket: Any) -> Limiter:
    from pyrate_limiter import Limiter

    return Limiter(bucket, max_delay=3_600_000, retry_until_max_delay=True, buffer_ms=1)


def _monotonic() -> float:
    """Its own name so tests can move time without touching the ``time`` module."""
    return time.monotonic()


def _redis_error() -> type[Exception]:
    from redis.exceptions import RedisError

    return RedisError


@cache
def _redis_bucket() -> Any:
    """pyrate-limiter's Redis bucket whose background leak outlives an outage (it tries again next round).

    Defined on first use: a module-level subclass would import pyrate-limiter with every DAG file.
    """
    from pyrate_limiter import RedisBucket

    class _RedisBucket(RedisBucket):
        def leak(self, current_timestamp: int | None = None) -> Any:
            from redis.asyncio import Redis as AsyncRedis

            leak = super().leak
            if isinstance(self.redis, AsyncRedis):

                async def tolerant() -> int:
                    try:
                        return int(await leak(current_timestamp))  # type: ignore[misc]
                    except _redis_error():
                        return 0

                return tolerant()
            try:
                return leak(current_timestamp)
            except _redis_error():
                return 0

    return _RedisBucket


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

    def _redis_args(self) -> tuple[list[Rate], str, dict[str, Any]]:
        timeouts = {"socket_connect_timeout": REDIS_TIMEOUT_SECONDS, "socket_timeout": REDIS_TIMEOUT_SECONDS}
        return _rates(self.config.rate_limit or 1), _bucket_name(self.config), timeouts

    def _fell_back(self, exc: Exception) -> None:
        if self.shared is not None:
            for bucket in self.shared.buckets():
                self.shared.dispose(bucket)  # stops its background leak
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
                    import redis

                    rates, key, timeouts = self._redis_args()
                    client = redis.Redis.from_url(str(self.config.redis_url), **timeouts)
                    self.shared = _limiter(_redis_bucket().init(rates, client, key))
                self.shared.try_acquire(name)
            except _redis_error() as exc:
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
                    from redis import asyncio as aioredis

                    rates, key, timeouts = self._redis_args()
                    client = aioredis.Redis.from_url(str(self.config.redis_url), **timeouts)
                    self.shared = _limiter(await _redis_bucket().init(rates, client, key))
                await self.shared.try_acquire_async(name)
            except _redis_error() as exc:
                self._fell_back(exc)
            else:
                self._back()
                return
        await self.local.try_acquire_async(name)


def _bucket_name(config: ConnectionConfig) -> str:
    return f"whatsapp-campaigns:{config.conn_id}"
