"""A wait logs when the campaign's status changes, not on every poll: a triggerer holding 10,000
waits would otherwise write 10,000 lines per round."""

from __future__ import annotations

import logging
import time

from airflow_provider_whatsapp_campaigns.triggers.campaign import WhatsAppCampaignTrigger
from tests.scripted import ScriptedStatusHook


async def test_one_info_line_per_status_not_per_poll(monkeypatch):
    hook = ScriptedStatusHook(["queued", "running", "running", "running", "running", "completed"])

    async def fake_aget_hook(conn_id: str) -> ScriptedStatusHook:
        return hook

    async def no_sleep(seconds: float) -> None:
        return None

    monkeypatch.setattr("airflow_provider_whatsapp_campaigns.vendors.registry.aget_hook", fake_aget_hook)
    monkeypatch.setattr("airflow_provider_whatsapp_campaigns.triggers.campaign._sleep", no_sleep)
    trigger = WhatsAppCampaignTrigger("c", "7", end_time=time.time() + 600, poll_interval=60)
    records: list[logging.LogRecord] = []
    logger = logging.getLogger("test_wait_logging")
    logger.setLevel(logging.DEBUG)
    logger.addHandler(_Collect(records))
    trigger._log = logger
    events = [event.payload async for event in trigger.run()]
    assert events[0]["status"] == "success" and not hook.statuses
    lines = [r.getMessage() for r in records if r.levelno >= logging.INFO]
    assert lines == ["campaign 7 is queued; polling every 60 s", "campaign 7 is running; polling every 60 s"]


class _Collect(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__()
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
