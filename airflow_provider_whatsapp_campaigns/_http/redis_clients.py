"""The Redis clients behind a connection's ``redis_url`` (shared rate budget, shared tokens).

One client per URL per process (sync callers) and one per URL per event loop (async callers), in
the process state; redis-py reconnects on its own after an outage. ``redis`` is imported on first
use (the ``[redis]`` extra).
"""

from __future__ import annotations

from typing import Any

from airflow_provider_whatsapp_campaigns._http.state import STATE

#: Seconds a Redis call may take: a Redis that hangs must not hold requests much longer than one that refuses.
REDIS_TIMEOUT_SECONDS = 2.0


def redis_error() -> type[Exception]:
    from redis.exceptions import RedisError

    return RedisError


def client(url: str) -> Any:
    import redis

    def make() -> Any:
        return redis.Redis.from_url(
            url, socket_connect_timeout=REDIS_TIMEOUT_SECONDS, socket_timeout=REDIS_TIMEOUT_SECONDS
        )

    return STATE.setdefault("redis-client", url, make)


def aclient(url: str) -> Any:
    from redis import asyncio as aioredis

    def make() -> Any:
        return aioredis.Redis.from_url(
            url, socket_connect_timeout=REDIS_TIMEOUT_SECONDS, socket_timeout=REDIS_TIMEOUT_SECONDS
        )

    return STATE.setdefault("redis-client", url, make, per_loop=True)
