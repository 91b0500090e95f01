"""The one process-state cache: bounded, per loop where asyncio objects live, cleared by one call."""

from __future__ import annotations

import asyncio

from airflow_provider_whatsapp_campaigns._http.auth import MintedAuth
from airflow_provider_whatsapp_campaigns._http.state import STATE, ProcessState, clear_process_state


def test_bounded_least_recently_used_first():
    state = ProcessState(max_entries=2)
    first = state.setdefault("lock", "a", object)
    state.setdefault("lock", "b", object)
    assert state.setdefault("lock", "a", object) is first  # made once, and now the most recently used
    state.setdefault("lock", "c", object)
    assert state.size("lock") == 2
    assert state.get("lock", "b") is None, "the least recently used entry went first"
    assert state.get("lock", "a") is first


def test_per_loop_entries_do_not_cross_event_loops():
    async def make() -> object:
        return STATE.setdefault("session", "conn", object, per_loop=True)

    assert asyncio.run(make()) is not asyncio.run(make())


def test_one_call_forgets_tokens_locks_and_warnings():
    class Minted(MintedAuth):
        key = ("test", "account")

    auth = Minted()
    auth.tokens.access = "t"
    assert auth.ready()
    assert STATE.first_time("insecure-warned", "c")
    clear_process_state()
    assert not auth.ready(), "a cleared cache mints again"
    assert STATE.first_time("insecure-warned", "c"), "and warns again"
