"""Async wait for a campaign to finish, run by the triggerer (one aiohttp session, shared limiter)."""

from __future__ import annotations

import asyncio
import time
import traceback
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_whatsapp_campaigns import metrics
from airflow_provider_whatsapp_campaigns.exceptions import ValidationError, WhatsAppCampaignError, is_transient
from airflow_provider_whatsapp_campaigns.stats import CampaignStats, CampaignStatus
from airflow_provider_whatsapp_campaigns.validation import (
    MIN_POLL_INTERVAL,
    mapping,
    one_of,
    require_text,
    seconds,
    shown,
)

COMPLETION_MODES = ("status", "settled")


def _now() -> float:
    """Wall clock (P9: an absolute deadline survives a triggerer restart; a duration would not)."""
    return time.time()


async def _sleep(seconds: float) -> None:
    """The wait between polls (its own name so tests can skip it without touching asyncio)."""
    await asyncio.sleep(seconds)


@dataclass
class CompletionRule:
    """When is a campaign done? One rule for the sensor's poke and the trigger's loop.

    ``status``: the vendor says completed (or an accepted terminal state).
    ``settled`` (Insider, which reports no status): ``pending == 0`` and the counters unchanged
    for ``settle_polls`` consecutive polls. A heuristic: a campaign that pauses sending for
    longer than ``settle_polls`` × interval looks finished.
    """

    completion: str = "status"
    settle_polls: int = 3
    accept_statuses: Sequence[str] = ()
    history: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        one_of(self.completion, "completion", COMPLETION_MODES)
        if isinstance(self.settle_polls, bool) or not isinstance(self.settle_polls, int) or self.settle_polls < 2:
            raise ValidationError(
                f"settle_polls must be a whole number, at least 2 (one poll cannot show counters settling), "
                f"got {shown(self.settle_polls)}"
            )
        unknown = set(self.accept_statuses) - {s.value for s in CampaignStatus}
        if isinstance(self.accept_statuses, str) or unknown:
            raise ValidationError(
                f"accept_statuses must list statuses among {', '.join(s.value for s in CampaignStatus)}, "
                f"got {shown(self.accept_statuses)}"
            )

    def evaluate(self, stats: CampaignStats) -> str:
        """``done``, ``failed`` or ``waiting``."""
        if self.completion == "settled":
            counters = stats.counters()
            self.history = [*self.history[-(self.settle_polls - 1) :], counters]
            if stats.status is CampaignStatus.COMPLETED:
                return "done"
            settled = (
                counters.get("pending") == 0
                and len(self.history) >= self.settle_polls
                and all(h == counters for h in self.history)
            )
            return "done" if settled else "waiting"
        if stats.status is CampaignStatus.COMPLETED or stats.status.value in self.accept_statuses:
            return "done"
        if stats.is_terminal:
            return "failed"
        return "waiting"


def failure_message(stats: CampaignStats) -> str:
    return (
        f"{stats.provider} campaign {stats.campaign_id} ended as {stats.status.value} "
        f"(vendor status {stats.vendor_status!r}; sent={stats.sent}, failed={stats.failed}). "
        "Pass accept_statuses to treat this as success."
    )


class WhatsAppCampaignTrigger(BaseTrigger):
    """Polls until the campaign is done, failed, or the absolute ``end_time`` passes (P9)."""

    def __init__(
        self,
        conn_id: str,
        campaign_id: str,
        end_time: float,
        poll_interval: float = 60.0,
        completion: str = "status",
        settle_polls: int = 3,
        accept_statuses: Sequence[str] = (),
        stats_options: dict[str, Any] | None = None,
        max_consecutive_failures: int = 5,
        history: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__()
        self.conn_id = require_text(conn_id, "conn_id", "'whatomate_default'")
        self.campaign_id = require_text(campaign_id, "campaign_id", "the campaign's id", numbers=True)
        self.end_time = seconds(end_time, "end_time", minimum=0)
        self.poll_interval = seconds(poll_interval, "poll_interval", minimum=MIN_POLL_INTERVAL)
        self.completion = completion
        self.settle_polls = settle_polls
        self.accept_statuses = list(accept_statuses)
        self.stats_options = mapping(stats_options, "stats_options", '{"start_time": …}')
        if isinstance(max_consecutive_failures, bool) or not isinstance(max_consecutive_failures, int) or (
            max_consecutive_failures < 1
        ):
            raise ValidationError(
                f"max_consecutive_failures must be a whole number, at least 1, got {shown(max_consecutive_failures)}"
            )
        self.max_consecutive_failures = max_consecutive_failures
        self.history = list(history or [])
        CompletionRule(completion, settle_polls, self.accept_statuses)  # the same checks as the sensor's

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{self.__class__.__module__}.{self.__class__.__qualname__}",
            {
                "conn_id": self.conn_id,
                "campaign_id": self.campaign_id,
                "end_time": self.end_time,
                "poll_interval": self.poll_interval,
                "completion": self.completion,
                "settle_polls": self.settle_polls,
                "accept_statuses": self.accept_statuses,
                "stats_options": self.stats_options,
                "max_consecutive_failures": self.max_consecutive_failures,
                "history": self.history,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow_provider_whatsapp_campaigns.vendors.registry import aget_hook

        hook = None
        try:
            hook = await aget_hook(self.conn_id)
            async with hook.async_session():
                with metrics.wait_in_flight(hook.vendor):
                    event = await self._wait(hook)
        except WhatsAppCampaignError as exc:
            event = error_event(self.campaign_id, exc)
        except Exception as exc:  # a triggerer must never crash: the task fails with a typed error instead
            event = error_event(self.campaign_id, self._unexpected(exc, hook))
        # Yielded outside the session block: the triggerer may close this generator right after.
        yield TriggerEvent(event)

    def _unexpected(self, exc: Exception, hook: Any) -> WhatsAppCampaignError:
        """Log the scrubbed traceback and describe the failure as a typed error for the task."""
        scrub = hook.scrub if hook is not None else str
        self.log.error(
            "waiting for campaign %s failed unexpectedly:\n%s",
            self.campaign_id,
            scrub("".join(traceback.format_exception(exc))),
        )
        return WhatsAppCampaignError(
            scrub(f"waiting for the campaign failed unexpectedly ({type(exc).__name__}: {exc}); "
                  "the triggerer log has the traceback"),
            vendor=getattr(hook, "vendor", None),
        ).scrubbed(scrub)

    async def _wait(self, hook: Any) -> dict[str, Any]:
        """Poll until a verdict; return the event payload."""
        rule = CompletionRule(self.completion, self.settle_polls, self.accept_statuses, list(self.history))
        failures = 0
        last: CampaignStats | None = None
        logged_status: str | None = None
        while True:
            try:
                with metrics.poll(hook.vendor):
                    last = await hook.aget_campaign_stats(self.campaign_id, **self.stats_options)
            except WhatsAppCampaignError as exc:
                failures += 1
                if not is_transient(exc) or failures >= self.max_consecutive_failures:
                    return error_event(self.campaign_id, exc)
                self.log.warning("poll %d of campaign %s failed, will retry: %s", failures, self.campaign_id, exc)
            else:
                failures = 0
                verdict = rule.evaluate(last)
                if verdict == "done":
                    return {"status": "success", "campaign_id": self.campaign_id, "stats": last.to_dict()}
                if verdict == "failed":
                    return {
                        "status": "failed",
                        "campaign_id": self.campaign_id,
                        "stats": last.to_dict(),
                        "message": failure_message(last),
                    }
                # A line when the status changes, not on every poll (10,000 waits would log 10,000 lines a round).
                if last.vendor_status != logged_status:
                    logged_status = last.vendor_status
                    self.log.info(
                        "campaign %s is %s; polling every %.0f s", self.campaign_id, logged_status, self.poll_interval
                    )
            left = self.end_time - _now()
            if left <= 0:
                return {
                    "status": "timeout",
                    "campaign_id": self.campaign_id,
                    "stats": last.to_dict() if last else None,
                }
            await _sleep(min(self.poll_interval, left))


def error_event(campaign_id: str, exc: WhatsAppCampaignError) -> dict[str, Any]:
    return {"status": "error", "campaign_id": campaign_id, "error": exc.to_dict()}
