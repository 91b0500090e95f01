"""A triggerer holds one hook per deferred wait: 10,000 waits must not cost a lock and a condition each
(``stop()`` still works: tests/unit/test_on_kill.py)."""

from __future__ import annotations

import gc
import tracemalloc

from airflow_provider_whatsapp_campaigns.vendors.whatomate.hook import WhatomateHook


def test_a_thousand_hooks_take_under_half_a_megabyte():
    WhatomateHook(conn_id="x")  # class-level caches are filled once
    gc.collect()
    tracemalloc.start()
    try:
        hooks = [WhatomateHook(conn_id="x") for _ in range(1000)]
        size, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(hooks) == 1000
    assert size < 500_000, f"{size / 1000:.0f} bytes per hook"

