"""Vendor-neutral campaign operators: the vendor follows from ``conn_id``'s connection type."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow_provider_whatsapp_campaigns import metrics
from airflow_provider_whatsapp_campaigns._http.flow import drive, iter_chunks
from airflow_provider_whatsapp_campaigns.exceptions import UnsupportedOperation, ValidationError
from airflow_provider_whatsapp_campaigns.operators.common import (
    CampaignOperatorBase,
    check_campaign_id_at_parse,
    deferrable_default,
    log_funnel,
    resume_from_event,
)
from airflow_provider_whatsapp_campaigns.operators.idempotency import CreatedIdLedger, idempotency_marker
from airflow_provider_whatsapp_campaigns.recipients import load_recipients
from airflow_provider_whatsapp_campaigns.stats import CampaignStats
from airflow_provider_whatsapp_campaigns.triggers.campaign import WhatsAppCampaignTrigger
from airflow_provider_whatsapp_campaigns.validation import (
    MIN_POLL_INTERVAL,
    check_at_parse,
    is_deferred,
    mapping,
    one_of,
    seconds,
    shown,
    string_mapping,
)
from airflow_provider_whatsapp_campaigns.vendors.spec import CampaignSpec, Recipient
from airflow_provider_whatsapp_campaigns.version_compat import (
    AirflowSensorTimeout,
)
from airflow_provider_whatsapp_campaigns.waiting import (
    DEFAULT_WAIT_TIMEOUT,
    POLL,
    CompletionRule,
    verdict_event,
    wait_flow,
)

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context


STATS_OPTIONS = ("stats_options", '{"start_time": "{{ data_interval_start }}"} (Insider) or {"account_id": …} (SPRL)')
class RenderedRecipients:
    """A create task's rendered ``recipients``: the numbers for ``execute``, a count for everyone else.

    Airflow stores every rendered template field (RenderedTaskInstanceFields, the UI's "Rendered
    Template" tab). It keeps a plain list as is, but stores an object as ``serialize()`` (2.11,
    3.x) or ``str()`` — so this wrapper puts "1,234 recipients (phone numbers hidden)" there
    instead of the numbers. File paths are not wrapped: a path shows no number and helps debugging.
    """

    def __init__(self, value: Any) -> None:
        self.value = value

    @classmethod
    def wrap(cls, value: Any) -> Any:
        if isinstance(value, list | tuple) or (isinstance(value, str) and value.lstrip().startswith("[")):
            return cls(value)
        return value

    @staticmethod
    def unwrap(value: Any) -> Any:
        return value.value if isinstance(value, RenderedRecipients) else value

    def serialize(self) -> str:
        if isinstance(self.value, str):
            return "a rendered recipients list (phone numbers hidden)"
        return f"{len(self.value):,} recipients (phone numbers hidden)"

    __str__ = __repr__ = serialize


class WhatsAppCreateCampaignOperator(CampaignOperatorBase):
    """Create a campaign from a recipients list or file; returns the campaign id (or ids when split).

    Safe under Airflow retries: the campaign's name carries a marker derived from the task
    instance. Vendors with a list API (Whatomate) find and adopt the tagged campaign, so nothing is
    kept in Airflow. Waplify has no list API: the created id is kept in a Variable of this task
    instance until the task succeeds (XComs cannot: Airflow clears them when a try starts), so a
    retry reuses it; if a create's *answer* is lost the campaign may exist without Airflow knowing
    its id — the one window no client can close without vendor help, but the tag shows a person the
    duplicate. Bookkeeping that fails after a create only logs a warning: it never fails the task.

    :param recipients: phone strings, dicts (``phone``/``name``/``params``), or a path /
        ``ObjectStoragePath`` to a CSV (``phone,name,<param>…``) or JSON-lines file.
    :param split: ``"refuse"`` (default) fails when a vendor's per-campaign contact limit is
        exceeded; ``"parts"`` creates several campaigns named ``… (part k/n)``.
    :param on_invalid: ``"fail"`` (default) refuses the whole list when any number is invalid,
        naming the rows; ``"skip"`` sends the valid ones and logs the skipped rows (masked).
        Duplicate numbers are always sent once, and their count is logged.
    """

    template_fields: Sequence[str] = (
        "conn_id",
        "name",
        "template",
        "account",
        "recipients",
        "template_params",
        "scheduled_at",
        "description",
    )
    template_fields_renderers = {"template_params": "json"}
    verb = "create"

    def __init__(
        self,
        *,
        name: str,
        template: str,
        recipients: Any,
        account: str | None = None,
        template_params: dict[str, Any] | None = None,
        scheduled_at: str | None = None,
        description: str | None = None,
        default_region: str | None = None,
        split: str = "refuse",
        on_invalid: str = "fail",
        vendor_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        one_of(split, "split", ("refuse", "parts"))
        one_of(on_invalid, "on_invalid", ("fail", "skip"))
        check_at_parse(name, "name", "'Spring sale {{ ds }}'")
        check_at_parse(template, "template", "'welcome_v2' (or the template's id)")
        if template_params is not None and not is_deferred(template_params):
            string_mapping(template_params, "template_params", at_parse=True)
        if recipients is None or isinstance(recipients, bool | int | float):
            raise ValidationError(
                f"recipients must be a list of phone numbers, a CSV / JSON-lines path or an XComArg, "
                f"got {shown(recipients)} ({type(recipients).__name__})"
            )
        self.on_invalid = on_invalid
        self.name = name
        self.template = template
        self.recipients = recipients
        self.account = account
        self.template_params = template_params or {}
        self.scheduled_at = scheduled_at
        self.description = description
        self.default_region = default_region
        self.split = split
        self.vendor_options = mapping(vendor_options, "vendor_options", '{"batch_size": 500}')

    def _do_render_template_fields(
        self, parent: Any, template_fields: Any, context: Any, jinja_env: Any, seen_oids: Any, **kwargs: Any
    ) -> None:
        """Render as usual, then hide the rendered recipients behind a summary (see RenderedRecipients).

        Both Airflow lines (2.11, 3.x) render plain and mapped tasks through this method.
        """
        super()._do_render_template_fields(parent, template_fields, context, jinja_env, seen_oids, **kwargs)
        if parent is self and "recipients" in template_fields:
            self.recipients = RenderedRecipients.wrap(self.recipients)

    def execute(self, context: Context) -> str | list[str]:
        hook = self.hook
        hook.require_supported("create")
        # Every rendered field is checked (by CampaignSpec) before the recipients are even read.
        base = CampaignSpec(
            name=self.name,
            template=self.template,
            account=self.account,
            template_params=self.template_params,
            scheduled_at=self.scheduled_at,
            description=self.description,
            options=self.vendor_options,
        )
        recipients = load_recipients(
            RenderedRecipients.unwrap(self.recipients),
            default_region=self.default_region,
            on_invalid=self.on_invalid,
            log=self.log,
        )
        limit = hook.max_recipients_per_campaign
        parts: Iterable[Sequence[Recipient]] = [recipients]
        count = 1
        if limit and len(recipients) > limit:
            if self.split != "parts":
                raise ValidationError(
                    f"{hook.vendor} campaigns take at most {limit:,} recipients, got {len(recipients):,}. "
                    "Nothing was sent. Pass split='parts' to create several campaigns, or send fewer.",
                    vendor=hook.vendor,
                )
            parts, count = iter_chunks(recipients, limit), math.ceil(len(recipients) / limit)
        ids: list[str] = []
        ledgers: list[CreatedIdLedger] = []
        for index, chunk in enumerate(parts, start=1):
            name = base.name if count == 1 else f"{base.name} (part {index}/{count})"
            spec = dataclasses.replace(base, name=name, recipients=chunk)
            marker = idempotency_marker(context, f"part{index}" if count > 1 else "")
            if hook.adopts_by_marker:  # the vendor's own record carries the marker; its list finds it
                created = hook.create_campaign(spec, marker=marker)
            else:
                ledger = CreatedIdLedger(marker, self.log)
                ledgers.append(ledger)
                created = ledger.create_once(hook, spec)
            self.log.info(
                "%s campaign %s %s (%s recipients)",
                hook.vendor,
                created.campaign_id,
                "adopted from an earlier try" if created.adopted else "created",
                created.recipients_added,
            )
            if not created.adopted:
                metrics.incr(f"rows_imported.{hook.vendor}", len(chunk), vendor=hook.vendor)
            ids.append(created.campaign_id)
        if len(ids) == 1:
            self.push_campaign_url(context, ids[0])
        for ledger in ledgers:  # the task succeeds: no retry will need the ids
            ledger.forget()
        self._lineage_ids = ids
        return ids[0] if len(ids) == 1 else ids

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Recipients file in, created campaigns out (None without the OpenLineage provider)."""
        from airflow_provider_whatsapp_campaigns.lineage import created_lineage

        recipients = RenderedRecipients.unwrap(self.recipients)
        return created_lineage(self.hook, getattr(self, "_lineage_ids", []), recipients)


class _WaitingOperator(CampaignOperatorBase):
    """Waits in the worker (poll) or in the triggerer (deferrable) for a campaign to finish."""

    def __init__(
        self,
        *,
        campaign_id: str,
        wait_for_completion: bool = False,
        deferrable: bool = deferrable_default(),
        poll_interval: float = 60.0,
        timeout: timedelta | float = DEFAULT_WAIT_TIMEOUT,
        accept_statuses: Sequence[str] = (),
        completion: str = "status",
        settle_polls: int = 3,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_campaign_id_at_parse(campaign_id)
        self.campaign_id = campaign_id
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = seconds(poll_interval, "poll_interval", minimum=MIN_POLL_INTERVAL)
        self.wait_timeout = seconds(timeout, "timeout", minimum=0, allow_equal=False)
        self.accept_statuses = list(accept_statuses)
        self.completion = completion
        self.settle_polls = settle_polls
        self._completion_rule()  # validate at parse time

    def _completion_rule(self) -> CompletionRule:
        """The sensor's rule, with the same options (``completion="settled"`` for vendors without a status)."""
        return CompletionRule(self.completion, self.settle_polls, self.accept_statuses)

    def wait(self, context: Context, stats: CampaignStats) -> dict[str, Any]:
        """Judge ``stats``; if still running, wait in the triggerer (deferrable) or here, by the one wait loop.

        The rule is :class:`~airflow_provider_whatsapp_campaigns.waiting.CompletionRule` with the
        sensor's options (``completion="settled"`` for vendors without a status); a timeout is an
        ``AirflowSensorTimeout`` as the sensor's, in the worker and after deferral.
        """
        cid = str(self.campaign_id)
        rule = self._completion_rule()
        deadline = time.time() + self.wait_timeout
        event = verdict_event(cid, rule, stats)
        if event is None and self.deferrable:
            self.defer(
                trigger=WhatsAppCampaignTrigger(
                    conn_id=self.conn_id,
                    campaign_id=cid,
                    end_time=deadline,
                    poll_interval=self.poll_interval,
                    completion=self.completion,
                    settle_polls=self.settle_polls,
                    accept_statuses=self.accept_statuses,
                    history=rule.history,
                ),
                method_name="execute_complete",
            )
        if event is None:

            def step(request: Any) -> Any:
                if request is POLL:
                    return self.hook.get_campaign_stats(cid)
                time.sleep(request.seconds)

            flow = wait_flow(
                cid,
                rule,
                end_time=deadline,
                poll_interval=self.poll_interval,
                now=time.time,
                polled=stats,
                log=self.log,
            )
            event = drive(flow, step)
        return resume_from_event(self, event, timeout_exc=AirflowSensorTimeout)  # type: ignore[no-any-return]

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        return resume_from_event(self, event, timeout_exc=AirflowSensorTimeout)  # type: ignore[no-any-return]


class WhatsAppStartCampaignOperator(_WaitingOperator):
    """Start (send) a campaign. Already running or done counts as started, so retries are safe.

    With ``wait_for_completion`` the task also waits for the end and returns the final stats;
    ``deferrable=True`` does that wait in the triggerer instead of holding a worker slot.
    """

    template_fields: Sequence[str] = ("conn_id", "campaign_id")
    verb = "start"

    def execute(self, context: Context) -> dict[str, Any]:
        self.hook.require_supported("start")
        campaign_id = self.hook.check_campaign_id(self.campaign_id)
        self.push_campaign_url(context, campaign_id)
        stats = self.hook.start_campaign(campaign_id)
        self.log.info("%s campaign %s is %s", stats.provider, stats.campaign_id, stats.vendor_status)
        if not self.wait_for_completion:
            return stats.to_dict()
        return self.wait(context, stats)


class WhatsAppCampaignStatsOperator(CampaignOperatorBase):
    """Fetch the normalized stats of one campaign (pushed to XCom as ``CampaignStats.to_dict()``).

    :param stats_options: vendor-specific filters, e.g. ``{"account_id": …}`` (SPRL) or
        ``{"start_time": …, "end_time": …}`` (Insider).
    """

    template_fields: Sequence[str] = ("conn_id", "campaign_id", "stats_options")
    template_fields_renderers = {"stats_options": "json"}

    def __init__(self, *, campaign_id: str, stats_options: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        check_campaign_id_at_parse(campaign_id)
        self.campaign_id = campaign_id
        self.stats_options = stats_options if is_deferred(stats_options) else mapping(stats_options, *STATS_OPTIONS)

    def execute(self, context: Context) -> dict[str, Any]:
        campaign_id = self.hook.check_campaign_id(self.campaign_id)
        options = mapping(self.stats_options, *STATS_OPTIONS)
        self.push_campaign_url(context, campaign_id)
        stats = self.hook.get_campaign_stats(campaign_id, **options)
        log_funnel(self.log, stats)
        return stats.to_dict()

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """The campaign as this task's input (None without the OpenLineage provider)."""
        from airflow_provider_whatsapp_campaigns.lineage import operator_lineage

        return operator_lineage(self.hook, str(self.campaign_id), campaign_is="input")


class _TransitionOperator(CampaignOperatorBase):
    template_fields: Sequence[str] = ("conn_id", "campaign_id")

    def __init__(self, *, campaign_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        check_campaign_id_at_parse(campaign_id)
        self.campaign_id = campaign_id

    def execute(self, context: Context) -> dict[str, Any]:
        self.hook.require_supported(self.verb)
        campaign_id = self.hook.check_campaign_id(self.campaign_id)
        self.push_campaign_url(context, campaign_id)
        action = getattr(self.hook, f"{self.verb}_campaign")
        stats: CampaignStats = action(campaign_id)
        self.log.info("%s campaign %s is now %s", stats.provider, stats.campaign_id, stats.vendor_status)
        return stats.to_dict()


class WhatsAppPauseCampaignOperator(_TransitionOperator):
    """Pause a running campaign (Whatomate). Already paused counts as success."""

    verb = "pause"


class WhatsAppCancelCampaignOperator(_TransitionOperator):
    """Cancel a campaign (Whatomate). Already cancelled counts as success."""

    verb = "cancel"


__all__ = [
    "UnsupportedOperation",
    "WhatsAppCampaignStatsOperator",
    "WhatsAppCancelCampaignOperator",
    "WhatsAppCreateCampaignOperator",
    "WhatsAppPauseCampaignOperator",
    "WhatsAppStartCampaignOperator",
]
