"""Event-driven scheduling (Airflow 3): one asset event per campaign of an account that reaches a final state.

Use it in an ``AssetWatcher``; a DAG scheduled on the asset then starts when campaigns finish (events
that arrive together may share one run) and reads each campaign's id and normalized stats from
``triggering_asset_events``.

Exactly once across triggerer restarts: Airflow re-creates an event trigger from its serialized
kwargs, which never change, so the ids already reported live in the watched asset's **state store**
(``BaseEventTrigger.asset_state_store``, Airflow ≥ 3.3, kept in the metadata database). A campaign
id is recorded there right after its event is handed to the triggerer; a triggerer killed between
those two instants may lose that one event (it never reports one twice). Without a state store
(Airflow 3.0–3.2, or one trigger watching several assets) the record is kept in memory only: after a
restart the watcher starts afresh and campaigns that finished while it was down are not reported
(a warning says so).
"""

from __future__ import annotations

import traceback
from collections.abc import AsyncIterator, Iterable
from typing import Any

from airflow.triggers.base import TriggerEvent

from airflow_provider_whatsapp_campaigns.exceptions import (
    UnsupportedOperation,
    ValidationError,
    WhatsAppCampaignError,
    is_transient,
)
from airflow_provider_whatsapp_campaigns.stats import CampaignStatus
from airflow_provider_whatsapp_campaigns.triggers import campaign as wait
from airflow_provider_whatsapp_campaigns.validation import MIN_POLL_INTERVAL, require_text, seconds

try:  # Airflow 3
    from airflow.triggers.base import BaseEventTrigger

    EVENT_DRIVEN = True
except ImportError:  # Airflow 2.11: the module imports, constructing the trigger says why it cannot work
    from airflow.triggers.base import BaseTrigger as BaseEventTrigger  # type: ignore[assignment]

    EVENT_DRIVEN = False

STATE_KEY_PREFIX = "whatsapp_finished_campaigns"


class WhatsAppFinishedCampaignsTrigger(BaseEventTrigger):
    """Watches an account's campaigns; yields one event per campaign newly completed, failed or cancelled.

    ``conn_id``: a connection whose vendor lists campaigns (Whatomate). ``whatsapp_account``: only
    that account's campaigns (default: every campaign the connection sees). The first poll records
    the campaigns already finished without reporting them: only campaigns finishing after the
    watcher first ran start DAG runs. Event payload: ``{"conn_id", "campaign_id", "status",
    "stats"}`` (``stats`` = ``CampaignStats.to_dict()``). Vendor failures are logged (secrets
    scrubbed) and the next poll tries again: a watcher must outlive an outage or a rotated key.
    """

    def __init__(self, conn_id: str, whatsapp_account: str | None = None, poll_interval: float = 60.0) -> None:
        if not EVENT_DRIVEN:
            raise UnsupportedOperation(
                "WhatsAppFinishedCampaignsTrigger needs Airflow 3 (event-driven scheduling with AssetWatcher); "
                "on Airflow 2 schedule the report with WhatsAppCampaignSensor instead"
            )
        super().__init__()
        self.conn_id = require_text(conn_id, "conn_id", "'whatomate_default'")
        self.whatsapp_account = (
            None if whatsapp_account is None else require_text(whatsapp_account, "whatsapp_account", "'demo-account'")
        )
        self.poll_interval = seconds(poll_interval, "poll_interval", minimum=MIN_POLL_INTERVAL)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        # Only JSON, only the connection's id: Airflow hashes these kwargs to tell watchers apart.
        return (
            f"{self.__class__.__module__}.{self.__class__.__qualname__}",
            {"conn_id": self.conn_id, "whatsapp_account": self.whatsapp_account, "poll_interval": self.poll_interval},
        )

    @property
    def state_key(self) -> str:
        """The key of the reported ids in the asset's state store (one per connection and account)."""
        return f"{STATE_KEY_PREFIX}:{self.conn_id}:{self.whatsapp_account or '*'}"

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow_provider_whatsapp_campaigns.vendors.registry import aget_hook

        store = _Store(self)
        loaded, seen = False, None
        while True:
            hook = None
            try:
                if not loaded:
                    seen, loaded = await store.load(), True
                hook = await aget_hook(self.conn_id)
                if not hasattr(hook, "alist_campaigns"):
                    raise UnsupportedOperation(
                        f"{hook.vendor} cannot list campaigns, so connection {self.conn_id!r} cannot be watched; "
                        "use a Whatomate connection, or WhatsAppCampaignSensor for one campaign",
                        vendor=hook.vendor,
                    )
                async with hook.async_session():
                    while True:
                        finished = await self._finished(hook)
                        if seen is None:  # the first poll ever: what finished before the watcher is history
                            seen = set(finished)
                            self.log.info("watching %s: %d campaigns already finished are not reported",
                                          self.conn_id, len(seen))
                            await store.save(seen)
                        for campaign_id in [c for c in finished if c not in seen]:
                            stats = await hook.aget_campaign_stats(campaign_id)
                            yield TriggerEvent({
                                "conn_id": self.conn_id,
                                "campaign_id": campaign_id,
                                "status": stats.status.value,
                                "stats": stats.to_dict(),
                            })
                            seen.add(campaign_id)
                            await store.save(seen)
                        # Ids the server no longer lists (deleted campaigns) are dropped: the record stays small.
                        if not seen <= set(finished):
                            seen &= set(finished)
                            await store.save(seen)
                        await wait._sleep(self.poll_interval)
            except UnsupportedOperation:
                raise
            except WhatsAppCampaignError as exc:
                kind = "transient" if is_transient(exc) else "permanent"
                self.log.warning("watching %s failed (%s %s), next try in %.0f s: %s",
                                 self.conn_id, kind, type(exc).__name__, self.poll_interval, exc)
            except Exception as exc:  # a watcher must never die of one bad answer
                scrub = hook.scrub if hook is not None else str
                self.log.error("watching %s failed unexpectedly, next try in %.0f s:\n%s", self.conn_id,
                               self.poll_interval, scrub("".join(traceback.format_exception(exc))))
            await wait._sleep(self.poll_interval)

    async def _finished(self, hook: Any) -> list[str]:
        """Ids of the account's campaigns in a final state (the vendor's own status table decides)."""
        campaigns = await hook.alist_campaigns(whatsapp_account=self.whatsapp_account)
        statuses = hook.stats_mapping.statuses
        return [
            str(c["id"]) for c in campaigns
            if c.get("id") is not None and CampaignStatus.from_vendor(c.get("status"), statuses).is_terminal
        ]


class _Store:
    """The reported ids: the watched asset's state store when the triggerer gave one, else memory."""

    def __init__(self, trigger: WhatsAppFinishedCampaignsTrigger) -> None:
        self.trigger = trigger
        self.accessor = getattr(trigger, "asset_state_store", None)

    async def load(self) -> set[str] | None:
        """The ids reported so far, or ``None`` when nothing was ever recorded."""
        value = None
        if self.accessor is not None:
            try:
                value = await self.accessor.aget(self.trigger.state_key)
            except ValueError:  # the accessors refuse to guess which of several watched assets is meant
                self.accessor = None
        if self.accessor is None:
            self.trigger.log.warning(
                "no asset state store for %s (Airflow < 3.3, or one trigger watching several assets): reported "
                "campaigns are remembered in memory only; after a triggerer restart, campaigns that finished "
                "while it was down are not reported",
                self.trigger.conn_id,
            )
        if value is None:
            return None
        if not isinstance(value, dict) or not isinstance(value.get("reported"), list):
            raise ValidationError(f"asset state {self.trigger.state_key!r} is not this trigger's record; clear it")
        return {str(v) for v in value["reported"]}

    async def save(self, ids: Iterable[str]) -> None:
        if self.accessor is not None:
            await self.accessor.aset(self.trigger.state_key, {"reported": sorted(ids)})
