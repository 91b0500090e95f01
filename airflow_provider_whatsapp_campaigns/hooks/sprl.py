"""SPRL (insprl.com): read-only tracking of campaigns made in SPRL's own UI."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from airflow_provider_whatsapp_campaigns._http import (
    Auth,
    Call,
    Emit,
    ErrorMap,
    ErrorRule,
    Flow,
    StaticHeaderAuth,
)
from airflow_provider_whatsapp_campaigns.config import ConnectionConfig
from airflow_provider_whatsapp_campaigns.exceptions import (
    AuthenticationError,
    InsufficientBalance,
    PermissionDenied,
    QuotaExceeded,
    UnexpectedResponse,
    ValidationError,
    VendorUnavailable,
)
from airflow_provider_whatsapp_campaigns.hooks.base import WhatsAppCampaignHook
from airflow_provider_whatsapp_campaigns.phones import to_e164
from airflow_provider_whatsapp_campaigns.stats import CampaignStats, CampaignStatus, StatsMapping

TRACKING_PATH = "/whatsapp/v1/campaigns/tracking"
CONTACT_STATUSES = frozenset({"pending", "sent", "delivered", "read", "failed", "replied"})
# A server that ignores the page parameter must not make us loop forever.
MAX_PAGES = 100_000

SPRL_STATUS = {
    "draft": CampaignStatus.DRAFT,
    "scheduled": CampaignStatus.SCHEDULED,
    "queued": CampaignStatus.QUEUED,
    "running": CampaignStatus.RUNNING,
    "processing": CampaignStatus.RUNNING,
    "paused": CampaignStatus.PAUSED,
    "completed": CampaignStatus.COMPLETED,
    "cancelled": CampaignStatus.CANCELLED,
    "failed": CampaignStatus.FAILED,
}

SPRL_STATS = StatsMapping(
    provider="sprl",
    statuses=SPRL_STATUS,
    fields={
        "campaign_id": ("campaign_id", "campaign_uid", "uid"),
        "name": "name",
        "status": "status",
        "total": "total",
        "sent": "sent",
        "delivered": "delivered",
        "read": "read",
        "replied": "replied",
        "failed": "failed",
        "started_at": ("started_at", "sent_at"),
        "completed_at": "completed_at",
    },
    # SPRL's own delivery_rate is a percentage; ours is recomputed as a 0–1 ratio and theirs kept here.
    details=("accepted", "delivery_rate", "created_at"),
)

_QUOTA_HINT = {
    "DAILY_LIMIT_REACHED": "the daily usage quota is used up; it resets tomorrow",
    "MONTHLY_LIMIT_REACHED": "the monthly usage quota is used up; it resets next month",
    "TOTAL_LIMIT_REACHED": "the plan's total usage quota is used up; upgrade the SPRL plan",
}


def _extract(body: Any) -> tuple[Any, Any]:
    if not isinstance(body, Mapping):
        return None, body if isinstance(body, str) else None
    message = body.get("errors") or body.get("message") or body.get("error")
    flag = body.get("flag")
    if flag:
        hint = _QUOTA_HINT.get(str(flag))
        message = f"{flag}: {hint or _text(message)}"
    return body.get("code"), message


def _text(message: Any) -> str:
    return message if isinstance(message, str) else str(message or "")


SPRL_ERRORS = ErrorMap(
    vendor="sprl",
    codes={
        "101": ErrorRule(AuthenticationError, "check the client ID (login) and API key (password)"),
        "102": ErrorRule(ValidationError),
        "103": ErrorRule(PermissionDenied, "the SPRL account is blocked; contact SPRL support"),
        "104": ErrorRule(InsufficientBalance, "top up the SPRL wallet"),
        "105": ErrorRule(VendorUnavailable, "SPRL had an unexpected error; retried with backoff"),
        # A quota, not a burst limit: retrying burns nothing but time.
        "129": ErrorRule(QuotaExceeded),
    },
    extract=_extract,
    body_is_error=lambda status, body: isinstance(body, Mapping) and body.get("status") is False,
)


class SprlHook(WhatsAppCampaignHook):
    """SPRL has no create/start API: campaigns are made in SPRL's UI and tracked from Airflow.

    A campaign stuck in ``queued`` never ends by itself, so sensors on SPRL need a timeout.
    """

    conn_type = "sprl"
    default_conn_name = "sprl_default"
    hook_name = "SPRL (WhatsApp campaign tracking)"
    vendor = "sprl"
    vendor_label = "SPRL"
    errors = SPRL_ERRORS
    stats_mapping = SPRL_STATS
    supported: ClassVar[frozenset[str]] = frozenset({"stats", "contacts"})

    def build_auth(self, config: ConnectionConfig) -> Auth:
        key = config.require(config.password, "password (API key)", "API key")
        return StaticHeaderAuth("Authorization", key, "Bearer {}")

    def _body(self, campaign_id: str, account_id: str | None, **fields: Any) -> dict[str, Any]:
        config = self.config
        return {
            "client_id": config.require(config.login, "login (client ID)", "client ID"),
            "account_id": config.require(
                account_id or config.get_extra("account_id"),
                "extra account_id (or the task's account_id)",
                "WhatsApp account UID",
            ),
            "campaign_uid": campaign_id,
            **{k: v for k, v in fields.items() if v is not None},
        }

    def _stats_flow(self, campaign_id: str, *, account_id: str | None = None, **options: Any) -> Flow[CampaignStats]:
        body = self._body(campaign_id, account_id, per_page=1, page=1)
        response = yield Call("POST", TRACKING_PATH, json=body)
        data = _data(response.body)
        campaign = data.get("campaign")
        if not isinstance(campaign, Mapping):
            raise UnexpectedResponse("SPRL answered without a campaign block", vendor=self.vendor)
        return self.stats_mapping.build(campaign, campaign_id=campaign_id)

    def _probe_flow(self) -> Flow[None]:
        # Every SPRL call needs a campaign: a made-up uid that fails *validation* proves the
        # credentials (checked first, code 101) and the account work.
        try:
            yield from self._stats_flow("airflow-connection-test")
        except ValidationError as exc:
            if "campaign" not in exc.message.lower():
                raise

    def _contacts_flow(
        self,
        campaign_id: str,
        *,
        account_id: str | None = None,
        status: str | None = None,
        phone: str | None = None,
        per_page: int = 100,
        **options: Any,
    ) -> Flow[None]:
        if not 1 <= int(per_page) <= 100:
            raise ValidationError(f"per_page must be between 1 and 100, got {per_page}", vendor=self.vendor)
        if status is not None and status not in CONTACT_STATUSES:
            raise ValidationError(
                f"status filter must be one of {', '.join(sorted(CONTACT_STATUSES))}, got {status!r}",
                vendor=self.vendor,
            )
        if phone is not None:
            try:
                phone = to_e164(phone)
            except ValueError as exc:
                raise ValidationError(f"phone filter: {exc}", vendor=self.vendor) from None
        previous_first: Any = None
        for page in range(1, MAX_PAGES + 1):
            body = self._body(campaign_id, account_id, per_page=int(per_page), page=page, status=status, phone=phone)
            response = yield Call("POST", TRACKING_PATH, json=body)
            data = _data(response.body)
            contacts = data.get("contacts") or []
            if not contacts:
                return
            first = contacts[0].get("message_id") if isinstance(contacts[0], Mapping) else None
            if page > 1 and first is not None and first == previous_first:
                self.log.warning(
                    "SPRL returned page %d identical to the previous one; stopping (server ignores page)", page
                )
                return
            previous_first = first
            for contact in contacts:
                yield Emit(dict(contact))
            pagination = data.get("pagination") or {}
            current, last = pagination.get("current_page"), pagination.get("last_page")
            if current is not None and last is not None and int(current) >= int(last):
                return
        self.log.warning("SPRL pagination stopped after %d pages", MAX_PAGES)


def _data(body: Any) -> Mapping[str, Any]:
    data = body.get("data") if isinstance(body, Mapping) else None
    return data if isinstance(data, Mapping) else {}
