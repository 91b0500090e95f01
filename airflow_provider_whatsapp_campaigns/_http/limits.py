"""Client-side rate limits: one limiter per connection per process (or event loop), Redis optional."""

from __future__ import annotations

import asyncio
import math
import threading
import weakref
from typing import Any

from pyrate_limiter import BucketAsyncWrapper, InMemoryBucket, Limiter, Rate

from airflow_provider_whatsapp_campaigns.config import ConnectionConfig

_sync_limiters: dict[tuple[str, str, float], Limiter] = {}
_async_limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str, float], Limiter]] = (
    weakref.WeakKeyDictionary()
)
_limiter_lock = threading.Lock()


def _rates(rps: float) -> list[Rate]:
    """Evenly spaced requests for low limits; above 50/s, at most rps/10 in any 100 ms window.

    Either way no one-second window ever holds more than ``rps`` requests (sliding windows).
    """
    if rps <= 50:
        return [Rate(1, max(1, math.ceil(1000 / rps)))]
    return [Rate(max(1, math.floor(rps / 10)), 100)]


def _limiter_key(config: ConnectionConfig, rps: float) -> tuple[str, str, float]:
    return (config.conn_id, config.base_url, rps)


def sync_limiter(config: ConnectionConfig) -> Limiter | None:
    """One limiter per connection per process (Redis-backed when ``redis_url`` is set)."""
    if not config.rate_limit:
        return None
    key = _limiter_key(config, config.rate_limit)
    with _limiter_lock:
        if key not in _sync_limiters:
            if config.redis_url:
                import redis
                from pyrate_limiter import RedisBucket

                bucket: Any = RedisBucket.init(
                    _rates(config.rate_limit), redis.Redis.from_url(config.redis_url), _bucket_name(config)
                )
            else:
                bucket = InMemoryBucket(_rates(config.rate_limit))
            _sync_limiters[key] = Limiter(bucket, max_delay=3_600_000, retry_until_max_delay=True, buffer_ms=1)
        return _sync_limiters[key]


async def async_limiter(config: ConnectionConfig) -> Limiter | None:
    """Shared by every trigger of the same connection in one triggerer event loop."""
    if not config.rate_limit:
        return None
    per_loop = _async_limiters.setdefault(asyncio.get_running_loop(), {})
    key = _limiter_key(config, config.rate_limit)
    if key not in per_loop:
        if config.redis_url:
            from pyrate_limiter import RedisBucket
            from redis import asyncio as aioredis

            bucket: Any = await RedisBucket.init(
                _rates(config.rate_limit), aioredis.Redis.from_url(config.redis_url), _bucket_name(config)
            )
        else:
            bucket = BucketAsyncWrapper(InMemoryBucket(_rates(config.rate_limit)))
        per_loop[key] = Limiter(bucket, max_delay=3_600_000, retry_until_max_delay=True, buffer_ms=1)
    return per_loop[key]


def _bucket_name(config: ConnectionConfig) -> str:
    return f"whatsapp-campaigns:{config.conn_id}"
