"""Imports every public module and builds each connection form; run inside an Airflow venv."""

from __future__ import annotations

import importlib
import pkgutil
import sys
import warnings
from pathlib import Path

import airflow_provider_whatsapp_campaigns as package
from airflow_provider_whatsapp_campaigns.connection_types import FORMS
from airflow_provider_whatsapp_campaigns.hooks.base import hook_class_for

ROOT = Path(__file__).resolve().parents[1]
SKIP = {
    "airflow_provider_whatsapp_campaigns.sandbox.__main__",
    "airflow_provider_whatsapp_campaigns.sandbox.pytest_plugin",
}


def main() -> int:
    modules = [m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".") if m.name not in SKIP]
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        for name in modules:
            importlib.import_module(name)
    print(f"imported {len(modules)} modules")
    for conn_type, form in FORMS.items():
        hook = hook_class_for(conn_type)
        assert hook.conn_type == conn_type, (hook, conn_type)
        assert "get_connection_form_widgets" in hook.__dict__, hook
        widgets = hook.get_connection_form_widgets()
        assert set(widgets) == {f.name for f in form.all_extras}, (conn_type, sorted(widgets))
        behaviour = hook.get_ui_field_behaviour()
        assert behaviour["hidden_fields"] == list(form.hidden_fields)
        print(f"{conn_type}: {len(widgets)} widgets, hidden {behaviour['hidden_fields']}")
    return check_hooks_against_sandbox()


def check_hooks_against_sandbox() -> int:
    """The hooks on this Airflow line, sync and async, against the bundled sandbox."""
    import asyncio
    import os

    from airflow_provider_whatsapp_campaigns.hooks.base import get_hook
    from airflow_provider_whatsapp_campaigns.sandbox.runner import SandboxServer

    with SandboxServer() as sandbox:
        os.environ.update(sandbox.airflow_connections())
        for conn_type in FORMS:
            ok, message = get_hook(f"{conn_type}_default").test_connection()
            assert ok, (conn_type, message)
        sprl = get_hook("sprl_default").get_campaign_stats("demo-campaign")
        assert sprl.total == 120, sprl
        insider = asyncio.run(get_hook("insider_whatsapp_default").aget_campaign_stats("1001"))
        assert insider.sent, insider
        print(f"hooks on this Airflow: 6 test_connection OK; sprl total={sprl.total}; insider async sent={insider.sent}")
        check_redis_extra(os.environ["AIRFLOW_CONN_INSIDER_WHATSAPP_OAUTH_DEFAULT"])
    return 0


def check_redis_extra(oauth_connection: str) -> None:
    """With the ``redis`` extra installed (its lowest version in dist-check's ``lowest`` line): the
    shared rate budget (a Lua script on Redis's clock) and the shared OAuth token, sync and async,
    on a real ``redis-server`` started here."""
    import asyncio
    import importlib.util
    import json
    import os
    import shutil

    if importlib.util.find_spec("redis") is None or shutil.which("redis-server") is None:
        print("redis extra: skipped (redis-py or redis-server missing)")
        return
    import redis

    from airflow_provider_whatsapp_campaigns.hooks.base import get_hook

    sys.path.insert(0, str(ROOT))
    from tests.system.services import RedisServer

    server = RedisServer()
    try:
        server.start()
        conn = json.loads(oauth_connection)
        conn["extra"] = {**conn["extra"], "redis_url": server.url(), "rate_limit": 5}
        os.environ["AIRFLOW_CONN_REDIS_SHARED"] = json.dumps(conn)
        stats = get_hook("redis_shared").get_campaign_stats("1001")
        again = asyncio.run(get_hook("redis_shared").aget_campaign_stats("1001"))
        assert stats.sent and again.sent == stats.sent, (stats, again)
        keys = [key.decode() for key in redis.Redis.from_url(server.url()).keys("*")]
        assert any("token" in key for key in keys) and len(keys) >= 2, keys
        print(f"redis extra (redis-py {redis.__version__}): shared budget and sealed token in {len(keys)} keys")
    finally:
        server.close()


if __name__ == "__main__":
    sys.exit(main())
