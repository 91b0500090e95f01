"""One rate budget shared by workers through a real ``redis-server``, whatever their clocks say."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis
from pyrate_limiter import RateItem

from airflow_provider_whatsapp_campaigns._http import limits
from airflow_provider_whatsapp_campaigns._http.state import clear_process_state
from airflow_provider_whatsapp_campaigns.config import ConnectionConfig
from tests.system.services import RedisServer

pytestmark = pytest.mark.system

#: One request per 10 s: the window outlasts any stall of a loaded machine between two steps of the test.
RPS = 0.1


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.close()


def _worker_budget(redis_server: RedisServer) -> limits.Budget:
    """What each worker process builds: its own budget object and Redis connection, one shared bucket."""
    clear_process_state()
    config = ConnectionConfig(conn_id="shared_budget", conn_type="acme", base_url="https://vendor.test",
                              password="unused", rate_limit=RPS, redis_url=redis_server.url())
    budget = limits.sync_limiter(config)
    assert budget is not None
    return budget


def test_a_worker_whose_clock_runs_behind_gets_no_budget_of_its_own(redis_server: RedisServer) -> None:
    """A request stamped a second in the past (a skewed host, a loop that woke late) is judged on Redis's clock."""
    punctual = _worker_budget(redis_server)
    punctual.acquire("shared_budget")
    assert not punctual.degraded, "Redis was not used"
    key = "whatsapp-campaigns:shared_budget"
    # the late worker: its own Redis connection to the same bucket, asking with a stamp a second old
    late = limits._redis_bucket().init(limits._rates(RPS), redis.Redis.from_url(redis_server.url()), key)
    behind = int(time.time() * 1000) - 1000
    assert not late.put(RateItem("shared_budget", behind)), "the late worker took a slot the window had given"
    ttl_ms = redis.Redis.from_url(redis_server.url()).pttl(key)
    assert 0 < ttl_ms <= 2 * 1000 / RPS, f"the bucket must expire from Redis once idle (TTL {ttl_ms} ms)"
