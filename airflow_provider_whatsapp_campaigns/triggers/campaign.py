"""Async wait for a campaign to finish, run by the triggerer (one aiohttp session, shared limiter)."""

from __future__ import annotations

import asyncio
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Sequence
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_whatsapp_campaigns import metrics
from airflow_provider_whatsapp_campaigns._http.flow import adrive
from airflow_provider_whatsapp_campaigns.exceptions import ValidationError, WhatsAppCampaignError
from airflow_provider_whatsapp_campaigns.validation import MIN_POLL_INTERVAL, mapping, require_text, seconds, shown
from airflow_provider_whatsapp_campaigns.waiting import (
    DEFAULT_MAX_CONSECUTIVE_FAILURES,
    POLL,
    CompletionRule,
    error_event,
    poll_phase,
    wait_flow,
)


def _now() -> float:
    """Wall clock (P9: an absolute deadline survives a triggerer restart; a duration would not)."""
    return time.time()


def _sleep(seconds: float) -> Awaitable[None]:
    """The wait between polls (its own name so tests can skip it without touching asyncio)."""
    return asyncio.sleep(seconds)


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
        max_consecutive_failures: int = DEFAULT_MAX_CONSECUTIVE_FAILURES,
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
        """Run the one wait loop (:func:`~airflow_provider_whatsapp_campaigns.waiting.wait_flow`) asynchronously."""
        rule = CompletionRule(self.completion, self.settle_polls, self.accept_statuses, list(self.history))

        async def poll() -> Any:
            with metrics.poll(hook.vendor):
                return await hook.aget_campaign_stats(self.campaign_id, **self.stats_options)

        def step(request: Any) -> Awaitable[Any]:
            # The awaitable itself, not a coroutine around it: a wait holds what it awaits for a whole
            # poll interval, and 10,000 waits' extra frames were garbage-collector work.
            return poll() if request is POLL else _sleep(request.seconds)

        flow = wait_flow(
            self.campaign_id,
            rule,
            end_time=self.end_time,
            poll_interval=self.poll_interval,
            max_consecutive_failures=self.max_consecutive_failures,
            now=_now,
            first_poll_after=poll_phase(self.campaign_id, self.poll_interval),
            log=self.log,
        )
        return await adrive(flow, step)  # type: ignore[no-any-return]
