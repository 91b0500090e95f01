"""Nothing synchronous that may wait on Airflow's supervisor runs inside the triggerer's event loop."""

from __future__ import annotations

import asyncio
import time

from airflow_provider_whatsapp_campaigns.triggers.campaign import WhatsAppCampaignTrigger
from airflow_provider_whatsapp_campaigns.vendors.registry import get_hook


def test_trigger_reads_connection_extras_and_masks_asynchronously(sandbox, sandbox_conns, monkeypatch):
    blocked: list[str] = []

    def sync_mask(secret, name=None):
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # a worker's sync code: allowed
        blocked.append("mask_secret")

    # Connection.extra_dejson and the request core mask through this synchronous call (a supervisor round trip).
    monkeypatch.setattr("airflow.sdk.log.mask_secret", sync_mask)
    monkeypatch.setattr("airflow_provider_whatsapp_campaigns._http.core.mask_secret", sync_mask)
    [cid] = sandbox.admin.seed_waplify([{"name": "done", "contacts": 2, "status": "completed"}])
    trigger = WhatsAppCampaignTrigger("waplify_default", cid, end_time=time.time() + 60, poll_interval=1)

    async def run() -> list[dict]:
        return [event.payload async for event in trigger.run()]

    [event] = asyncio.run(run())
    assert event["status"] == "success", event
    assert blocked == [], "synchronous secret masking ran inside the event loop"


def test_worker_hook_still_masks_the_connection_secret(sandbox, sandbox_conns, monkeypatch):
    masked: list[object] = []
    monkeypatch.setattr("airflow_provider_whatsapp_campaigns._http.core.mask_secret", masked.append)
    get_hook("waplify_default").core  # noqa: B018 - building the core registers the secrets
    assert "wapl_demo_key" in masked
