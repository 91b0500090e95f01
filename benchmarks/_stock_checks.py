"""The response check a user hands ``HttpEventTrigger`` to wait for a Whatomate campaign (stock side)."""

from __future__ import annotations

from typing import Any


async def campaign_finished(response: Any) -> bool:
    """True once the campaign reached a terminal status."""
    return response.json()["data"]["status"] in ("completed", "cancelled", "failed")
