"""A vendor hook whose campaign answers a scripted list of statuses, one per poll (for trigger tests)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from airflow_provider_whatsapp_campaigns.stats import CampaignStats, CampaignStatus


class ScriptedStatusHook:
    vendor = "x"  # every hook names its vendor (the trigger tags its metrics with it)

    def __init__(self, statuses: list[str]) -> None:
        self.statuses = statuses

    @contextlib.asynccontextmanager
    async def async_session(self) -> AsyncIterator[ScriptedStatusHook]:
        yield self

    async def aget_campaign_stats(self, campaign_id: str, **options: Any) -> CampaignStats:
        word = self.statuses.pop(0)
        return CampaignStats(provider="x", campaign_id=campaign_id, status=CampaignStatus(word), vendor_status=word)
