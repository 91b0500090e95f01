"""Whatomate JWT tokens are shared per process and account: many hooks (triggers) log in once."""

from __future__ import annotations

import asyncio

from airflow_provider_whatsapp_campaigns.hooks.base import get_hook


def logins(sandbox) -> int:
    return sum(sandbox.admin.counters()["logins"].values())


def test_hooks_of_one_account_log_in_once(sandbox, sandbox_conns):
    [cid] = sandbox.admin.seed_whatomate([{"name": "c", "recipients": 3, "status": "completed"}])
    for _ in range(5):
        assert get_hook("whatomate_jwt_default").get_campaign_stats(cid).total == 3
    assert logins(sandbox) == 1


async def test_concurrent_async_hooks_log_in_once(sandbox, sandbox_conns):
    [cid] = sandbox.admin.seed_whatomate([{"name": "c", "recipients": 3, "status": "completed"}])
    hooks = [get_hook("whatomate_jwt_default") for _ in range(20)]
    results = await asyncio.gather(*(hook.aget_campaign_stats(cid) for hook in hooks))
    assert {r.total for r in results} == {3}
    assert logins(sandbox) == 1, "an asyncio lock per loop: the first caller logs in, the others wait"


def test_a_different_password_logs_in_again(sandbox, sandbox_conns, airflow_conn):
    import json

    get_hook("whatomate_jwt_default").test_connection()
    conn = json.loads(sandbox_conns["whatomate_jwt_default"])
    airflow_conn("whatomate_jwt_wrong", conn.pop("conn_type"), **{**conn, "password": "not-the-password"})
    ok, message = get_hook("whatomate_jwt_wrong").test_connection()
    assert not ok, "a cached token of the right password must not vouch for a wrong one"
    assert "Authentication failed" in message
