"""What every campaign operator and the sensor share: the lazily built hook, the link, the funnel log, event checks."""

from __future__ import annotations

import warnings
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_provider_whatsapp_campaigns.connection_types import FORMS
from airflow_provider_whatsapp_campaigns.exceptions import ValidationError, WhatsAppCampaignError
from airflow_provider_whatsapp_campaigns.links import CAMPAIGN_URL_KEY, WhatsAppCampaignLink
from airflow_provider_whatsapp_campaigns.stats import CampaignStats
from airflow_provider_whatsapp_campaigns.validation import check_at_parse
from airflow_provider_whatsapp_campaigns.vendors.base import WhatsAppCampaignHook
from airflow_provider_whatsapp_campaigns.vendors.registry import get_hook, hook_class_for
from airflow_provider_whatsapp_campaigns.version_compat import (
    AirflowException,
    AirflowFailException,
    AirflowProviderDeprecationWarning,
    BaseOperator,
    conf,
)

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context


UI_COLOR = "#dcf8c6"  # WhatsApp's outgoing-bubble green


def check_campaign_id_at_parse(campaign_id: Any) -> None:
    """Empty, blank or ``None`` ids are refused when the DAG is parsed; the vendor's format at run time."""
    check_at_parse(campaign_id, "campaign_id", "create.output or the vendor's campaign id", numbers=True)


def expected_conn_types(conn_type: str | None, vendor: str | None = None) -> tuple[str, ...]:
    """The connection types a task accepts: ``conn_type`` exactly, or every type of the (deprecated) ``vendor``."""
    if conn_type is not None:
        if conn_type not in FORMS:
            raise ValidationError(
                f"conn_type {conn_type!r} is not a WhatsApp campaign connection type; use one of: {', '.join(FORMS)}"
            )
        return (conn_type,)
    if vendor is None:
        return ()
    types = tuple(t for t in FORMS if t == vendor or hook_class_for(t).vendor == vendor)
    if not types:
        raise ValidationError(
            f"vendor {vendor!r} is neither a vendor nor a connection type; use one of: {', '.join(FORMS)}"
        )
    return types


def deferrable_default() -> bool:
    return conf.getboolean("operators", "default_deferrable", fallback=False)


class CampaignOperatorBase(BaseOperator):
    """Shared plumbing: a lazily built hook (no I/O at parse time), the connection-type check, the link.

    :param conn_type: the connection type this task expects (e.g. ``"whatomate"``). Optional: the
        vendor follows from the connection. When given, a verb the vendor lacks is refused at DAG
        parse time, and a connection of another type is refused before any request.
    :param vendor: deprecated spelling of ``conn_type``; a vendor name (``"insider"``) is accepted
        too and matches any of that vendor's connection types.
    """

    ui_color = UI_COLOR
    operator_extra_links = (WhatsAppCampaignLink(),)
    verb: str = "stats"

    def __init__(
        self,
        *,
        conn_id: str,
        conn_type: str | None = None,
        vendor: str | None = None,
        hook_params: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id
        self.hook_params = hook_params or {}
        if vendor is not None:
            warnings.warn(
                "vendor= is deprecated: pass conn_type= (a connection type such as 'insider_whatsapp'), "
                "or nothing: the vendor follows from the connection",
                AirflowProviderDeprecationWarning,
                stacklevel=2,
            )
        self.conn_type = conn_type
        self.expected_conn_types = expected_conn_types(conn_type, vendor)
        if self.expected_conn_types:
            # The connection type is known without I/O: refuse an impossible verb at parse time.
            hook_class_for(self.expected_conn_types[0])(conn_id="-").require_supported(self.verb)

    @cached_property
    def hook(self) -> WhatsAppCampaignHook:
        hook = get_hook(self.conn_id, **self.hook_params)
        actual = getattr(hook.connection, "conn_type", None)
        if self.expected_conn_types and actual not in self.expected_conn_types:
            raise ValidationError(
                f"Connection {self.conn_id!r} is of type {actual!r}, but task {self.task_id!r} expects "
                f"{' or '.join(self.expected_conn_types)}; fix the task's conn_type or the connection."
            )
        return hook

    def push_campaign_url(self, context: Context, campaign_id: str) -> None:
        push_campaign_url(context, self.hook, campaign_id)

    def on_kill(self) -> None:
        """Stop before the next request: an import's next batch, an export's next page, the next poll.

        Airflow 3 only calls this on SIGTERM and lets the task run on until it is SIGKILLed; the
        hook then raises ``Interrupted`` at its next request, so an export's partial file is removed
        (never renamed into place) and no further recipient batch is sent.
        """
        if "hook" in self.__dict__:  # no hook yet: nothing was sent, nothing to stop
            self.log.warning("task killed: %s sends no further request", self.hook.vendor)
            self.hook.stop()


def push_campaign_url(context: Context, hook: WhatsAppCampaignHook, campaign_id: str) -> None:
    """Pushed before any wait so the link works even if the wait fails; "" where the vendor has no page."""
    context["ti"].xcom_push(key=CAMPAIGN_URL_KEY, value=hook.campaign_url(campaign_id) or "")


def log_funnel(log: Any, stats: CampaignStats) -> None:
    """A compact funnel table: total → sent → delivered → read → clicked, failed, replied, rates."""

    def show(value: Any) -> str:
        if value is None:
            return "–"
        return f"{value:.1%}" if isinstance(value, float) else f"{value:,}"

    data = stats.to_dict()
    rows = [
        ("total", data["total"], ""),
        ("sent", data["sent"], ""),
        ("delivered", data["delivered"], data["delivery_rate"]),
        ("read", data["read"], data["read_rate"]),
        ("clicked", data["clicked"], data["click_rate"]),
        ("failed", data["failed"], data["failure_rate"]),
        ("replied", data["replied"], ""),
        ("pending", data["pending"], ""),
    ]
    lines = [f"{stats.provider} campaign {stats.campaign_id} ({stats.name or 'unnamed'}): {stats.status.value}"]
    lines += [f"  {name:<10}{show(count):>12}  {show(rate) if rate != '' else ''}" for name, count, rate in rows]
    log.info("\n".join(lines))


def resume_from_event(task: Any, event: dict[str, Any] | None, timeout_exc: type[Exception] = AirflowException) -> Any:
    """Validate a trigger event (P10): anything but a well-formed success raises."""
    if not isinstance(event, dict) or "status" not in event:
        raise AirflowException(f"trigger returned an unexpected event: {event!r}")
    status = event["status"]
    if status == "success" and isinstance(event.get("stats"), dict):
        stats = CampaignStats.from_dict(event["stats"])
        log_funnel(task.log, stats)
        return event["stats"]
    if status == "failed":
        if isinstance(event.get("stats"), dict):
            log_funnel(task.log, CampaignStats.from_dict(event["stats"]))
        raise AirflowFailException(event.get("message") or f"campaign {event.get('campaign_id')} failed")
    if status == "error" and isinstance(event.get("error"), dict):
        raise WhatsAppCampaignError.from_dict(event["error"])
    if status == "timeout":
        last = event.get("stats") or {}
        raise timeout_exc(
            f"campaign {event.get('campaign_id')} did not finish in time (last status {last.get('vendor_status')!r})"
        )
    raise AirflowException(f"trigger returned an unknown event status {status!r}")
