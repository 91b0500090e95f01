"""Wait until a campaign is completed: poke, reschedule, or deferred to the triggerer."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_provider_whatsapp_campaigns.exceptions import ValidationError
from airflow_provider_whatsapp_campaigns.links import WhatsAppCampaignLink
from airflow_provider_whatsapp_campaigns.operators.common import (
    UI_COLOR,
    check_campaign_id_at_parse,
    log_funnel,
    push_campaign_url,
    resume_from_event,
)
from airflow_provider_whatsapp_campaigns.triggers.campaign import WhatsAppCampaignTrigger
from airflow_provider_whatsapp_campaigns.validation import MIN_POLL_INTERVAL, is_deferred, mapping, seconds
from airflow_provider_whatsapp_campaigns.vendors.base import WhatsAppCampaignHook
from airflow_provider_whatsapp_campaigns.vendors.registry import get_hook
from airflow_provider_whatsapp_campaigns.version_compat import (
    AirflowFailException,
    BaseSensorOperator,
    PokeReturnValue,
    conf,
)
from airflow_provider_whatsapp_campaigns.waiting import DEFAULT_WAIT_TIMEOUT, CompletionRule, failure_message

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context


class WhatsAppCampaignSensor(BaseSensorOperator):
    """Succeeds when the campaign is completed and returns its normalized stats (XCom).

    Fails fast on ``cancelled``/``failed`` unless listed in ``accept_statuses``. Insider reports
    no status: use ``completion="settled"`` (pending == 0 and counters unchanged for
    ``settle_polls`` polls — a heuristic; not available in reschedule mode, which keeps no
    memory between pokes).
    """

    template_fields: Sequence[str] = ("conn_id", "campaign_id", "stats_options")
    ui_color = UI_COLOR
    operator_extra_links = (WhatsAppCampaignLink(),)

    def __init__(
        self,
        *,
        conn_id: str,
        campaign_id: str,
        completion: str = "status",
        settle_polls: int = 3,
        accept_statuses: Sequence[str] = (),
        stats_options: dict[str, Any] | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poke_interval: float | timedelta = 60,
        timeout: float | timedelta = DEFAULT_WAIT_TIMEOUT,
        **kwargs: Any,
    ) -> None:
        poke_interval = seconds(poke_interval, "poke_interval", minimum=MIN_POLL_INTERVAL)
        timeout = seconds(timeout, "timeout", minimum=0, allow_equal=False)
        check_campaign_id_at_parse(campaign_id)
        super().__init__(poke_interval=poke_interval, timeout=timeout, **kwargs)
        self.conn_id = conn_id
        self.campaign_id = campaign_id
        self.completion = completion
        self.settle_polls = settle_polls
        self.accept_statuses = list(accept_statuses)
        self.stats_options = (
            stats_options if is_deferred(stats_options) else mapping(stats_options, "stats_options", '{"start_time": …}')
        )
        self.deferrable = deferrable
        self._url_pushed = False
        self._rule = CompletionRule(completion, settle_polls, self.accept_statuses)  # validates at parse time
        if completion == "settled" and self.mode == "reschedule" and not deferrable:
            raise ValidationError(
                "completion='settled' compares counters across polls, which reschedule mode cannot remember; "
                "use mode='poke' or deferrable=True"
            )

    @cached_property
    def hook(self) -> WhatsAppCampaignHook:
        return get_hook(self.conn_id)

    def poke(self, context: Context) -> PokeReturnValue:
        campaign_id = self.hook.check_campaign_id(self.campaign_id)
        if not self._url_pushed:
            push_campaign_url(context, self.hook, campaign_id)
            self._url_pushed = True
        options = mapping(self.stats_options, "stats_options", '{"start_time": …}')
        stats = self.hook.get_campaign_stats(campaign_id, **options)
        verdict = self._rule.evaluate(stats)
        if verdict == "failed":
            log_funnel(self.log, stats)
            raise AirflowFailException(failure_message(stats))
        self.log.info("campaign %s: %s (%s)", stats.campaign_id, stats.vendor_status, verdict)
        if verdict == "done":
            log_funnel(self.log, stats)
        elif self.deferrable:
            # The first check runs inside Airflow's own sensor loop, so soft_fail / never_fail apply to it
            # as to every poke; a finished campaign never visits the triggerer.
            self._defer()
        return PokeReturnValue(is_done=verdict == "done", xcom_value=stats.to_dict())

    def _defer(self) -> None:
        self.defer(
            trigger=WhatsAppCampaignTrigger(
                conn_id=self.conn_id,
                campaign_id=str(self.campaign_id),
                end_time=time.time() + float(self.timeout),
                poll_interval=float(self.poke_interval),
                completion=self.completion,
                settle_polls=self.settle_polls,
                accept_statuses=self.accept_statuses,
                stats_options=self.stats_options,
                history=self._rule.history,
            ),
            method_name="execute_complete",
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        from airflow.providers.common.compat.sdk import AirflowSensorTimeout

        return resume_from_event(self, event, timeout_exc=AirflowSensorTimeout)
