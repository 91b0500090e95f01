"""Waiting for a campaign: the one completion rule and the one poll loop.

The rule (:class:`CompletionRule`) judges one stats snapshot; the sensor's poke, the trigger and
the start operator's wait all ask it. The loop (:func:`wait_flow`) is a flow like the vendor
flows: it yields :data:`POLL` (the driver answers with fresh stats, or throws the typed error it
got) and :class:`Sleep`, and returns the event dict the trigger emits. The trigger runs it with
the async driver, the start operator with the sync one; the sensor's loop is Airflow's own.
"""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

from airflow_provider_whatsapp_campaigns._http.flow import Flow
from airflow_provider_whatsapp_campaigns.exceptions import ValidationError, WhatsAppCampaignError, is_transient
from airflow_provider_whatsapp_campaigns.stats import CampaignStats, CampaignStatus
from airflow_provider_whatsapp_campaigns.validation import one_of, shown

log = logging.getLogger("airflow.providers.whatsapp_campaigns.wait")

Verdict = Literal["done", "failed", "waiting"]
#: SPRL campaigns can sit in "queued" forever: a wait without a deadline would last a week.
DEFAULT_WAIT_TIMEOUT = timedelta(hours=6)
DEFAULT_MAX_CONSECUTIVE_FAILURES = 5


@dataclass
class CompletionRule:
    """When is a campaign done? One rule for every wait; a new mode is one method in :data:`MODES`.

    ``status``: the vendor says completed (or an accepted terminal state); other terminal
    states fail. ``settled`` (Insider, which reports no status): ``pending == 0`` and the
    counters unchanged for ``settle_polls`` consecutive polls — a heuristic: a campaign that
    pauses sending for longer than ``settle_polls`` × interval looks finished.
    """

    completion: str = "status"
    settle_polls: int = 3
    accept_statuses: Sequence[str] = ()
    history: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        one_of(self.completion, "completion", tuple(MODES))
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

    def evaluate(self, stats: CampaignStats) -> Verdict:
        """``done``, ``failed`` or ``waiting``."""
        return MODES[self.completion](self, stats)

    def by_status(self, stats: CampaignStats) -> Verdict:
        if stats.status is CampaignStatus.COMPLETED or stats.status.value in self.accept_statuses:
            return "done"
        return "failed" if stats.is_terminal else "waiting"

    def by_settled_counters(self, stats: CampaignStats) -> Verdict:
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


MODES: dict[str, Callable[[CompletionRule, CampaignStats], Verdict]] = {
    "status": CompletionRule.by_status,
    "settled": CompletionRule.by_settled_counters,
}


def failure_message(stats: CampaignStats) -> str:
    return (
        f"{stats.provider} campaign {stats.campaign_id} ended as {stats.status.value} "
        f"(vendor status {stats.vendor_status!r}; sent={stats.sent}, failed={stats.failed}). "
        "Pass accept_statuses to treat this as success."
    )


def error_event(campaign_id: str, exc: WhatsAppCampaignError) -> dict[str, Any]:
    return {"status": "error", "campaign_id": campaign_id, "error": exc.to_dict()}


@dataclass(frozen=True)
class Sleep:
    seconds: float


class _Poll:
    def __repr__(self) -> str:
        return "POLL"


#: Yielded by :func:`wait_flow`: "fetch the campaign's stats now".
POLL = _Poll()


def verdict_event(campaign_id: str, rule: CompletionRule, stats: CampaignStats) -> dict[str, Any] | None:
    """The event that ends a wait on these stats (``success`` / ``failed``), or ``None`` to keep waiting."""
    verdict = rule.evaluate(stats)
    if verdict == "done":
        return {"status": "success", "campaign_id": campaign_id, "stats": stats.to_dict()}
    if verdict == "failed":
        return {
            "status": "failed",
            "campaign_id": campaign_id,
            "stats": stats.to_dict(),
            "message": failure_message(stats),
        }
    return None


def poll_phase(campaign_id: str, poll_interval: float) -> float:
    """Seconds before a deferred wait's first poll: a share of the interval fixed by the campaign id.

    Waits deferred together (10,000 after a triggerer restart) then poll spread evenly over the
    interval instead of all in the same instant, and so does every later round. The operator or
    sensor looked at the campaign just before deferring, so the delay costs no news.
    """
    return poll_interval * zlib.crc32(campaign_id.encode("utf-8")) / 2**32


def wait_flow(
    campaign_id: str,
    rule: CompletionRule,
    *,
    end_time: float,
    poll_interval: float,
    max_consecutive_failures: int = DEFAULT_MAX_CONSECUTIVE_FAILURES,
    now: Callable[[], float] = time.time,
    polled: CampaignStats | None = None,
    first_poll_after: float = 0.0,
    log: Any = log,
) -> Flow[dict[str, Any]]:
    """Poll until a verdict or the absolute ``end_time`` (wall clock, P9: survives a restart).

    ``polled``: stats the caller already judged as still waiting (the wait then sleeps first).
    ``first_poll_after``: seconds to sleep before the first poll (:func:`poll_phase`; never past the deadline).
    ``log``: the caller's logger (the trigger's own, so the polls land in the task's trigger log; any
    object with ``info``/``warning``, as Airflow's structlog loggers are).
    Transient errors (rate limits, outages) spend a budget of consecutive failures that a
    successful poll resets; a permanent error ends the wait at once. Sleeps never overshoot
    the deadline. Returns the event: ``success`` / ``failed`` / ``timeout`` / ``error``.
    """
    failures = 0
    last = polled
    poll = polled is None
    logged_status = polled.vendor_status if polled is not None else None
    if poll and first_poll_after > 0 and (left := end_time - now()) > 0:
        yield Sleep(min(first_poll_after, left))
    while True:
        if poll:
            try:
                stats = yield POLL
            except WhatsAppCampaignError as exc:
                failures += 1
                if not is_transient(exc) or failures >= max_consecutive_failures:
                    return error_event(campaign_id, exc)
                log.warning("poll %d of campaign %s failed, will retry: %s", failures, campaign_id, exc)
            else:
                failures, last = 0, stats
                event = verdict_event(campaign_id, rule, stats)
                if event is not None:
                    return event
                # A line when the status changes, not on every poll (10,000 waits would log 10,000 lines a round).
                if stats.vendor_status != logged_status:
                    logged_status = stats.vendor_status
                    log.info("campaign %s is %s; polling every %.0f s", campaign_id, logged_status, poll_interval)
        poll = True
        left = end_time - now()
        if left <= 0:
            return {"status": "timeout", "campaign_id": campaign_id, "stats": last.to_dict() if last else None}
        yield Sleep(min(poll_interval, left))
