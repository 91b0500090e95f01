"""Triggers resolve their connection through the process state: 10,000 triggers of one connection
starting together read it once (each read blocks the triggerer's loop for a millisecond or two),
and a rotated credential is picked up once the entry is older than the TTL."""

from __future__ import annotations

import asyncio

import pytest

from airflow_provider_whatsapp_campaigns._http.state import clear_process_state
from airflow_provider_whatsapp_campaigns.exceptions import ValidationError
from airflow_provider_whatsapp_campaigns.vendors import registry


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The cache's clock: moves only when a test says so."""
    now = [1000.0]
    monkeypatch.setattr(registry, "_monotonic", lambda: now[0])
    return now


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch, airflow_conn) -> list[str]:
    """Connection reads made by the async path."""
    airflow_conn("wm", "whatomate", host="http://127.0.0.1:9/whatomate", password="key-one")
    seen: list[str] = []
    real = registry.aread_connection

    async def counting(conn_id: str):
        seen.append(conn_id)
        return await real(conn_id)

    monkeypatch.setattr(registry, "aread_connection", counting)
    return seen


def test_many_triggers_of_one_connection_read_it_once(reads, clock):
    async def start(n: int):
        return await asyncio.gather(*(registry.aget_hook("wm") for _ in range(n)))

    hooks = asyncio.run(start(50))
    assert reads == ["wm"], "concurrent starts share the one read"
    assert len({id(h) for h in hooks}) == 50, "each trigger still gets its own hook"
    assert len({id(h.__dict__["core"]) for h in hooks}) == 1, "and one request core per connection"
    clock[0] += registry.CONNECTION_TTL - 1
    asyncio.run(start(5))
    assert reads == ["wm"], "within the TTL nothing is read again"


def test_a_rotated_credential_is_read_after_the_ttl(reads, clock, airflow_conn):
    first = asyncio.run(registry.aget_hook("wm"))
    assert first.config.password == "key-one"
    airflow_conn("wm", "whatomate", host="http://127.0.0.1:9/whatomate", password="key-two")
    clock[0] += registry.CONNECTION_TTL
    second = asyncio.run(registry.aget_hook("wm"))
    assert reads == ["wm", "wm"]
    assert second.config.password == "key-two"
    assert second.scrub("key-two") == "***", "the new core scrubs the new key"


def test_clearing_the_process_state_forgets_it(reads):
    asyncio.run(registry.aget_hook("wm"))
    clear_process_state()
    asyncio.run(registry.aget_hook("wm"))
    assert reads == ["wm", "wm"]


def test_a_connection_that_fails_is_not_kept(reads, airflow_conn):
    airflow_conn("bad", "whatomate", host="http://127.0.0.1:9/whatomate")  # no API key
    for _ in range(2):
        with pytest.raises(ValidationError, match="API key"):
            asyncio.run(registry.aget_hook("bad"))
    assert reads == ["bad", "bad"]
