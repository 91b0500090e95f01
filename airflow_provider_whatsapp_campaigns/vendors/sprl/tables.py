"""SPRL's tables: status words, the stats mapping and the error codes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_whatsapp_campaigns._http.errors import ErrorMap, ErrorRule
from airflow_provider_whatsapp_campaigns.exceptions import (
    AuthenticationError,
    InsufficientBalance,
    PermissionDenied,
    QuotaExceeded,
    ValidationError,
    VendorUnavailable,
)
from airflow_provider_whatsapp_campaigns.stats import CampaignStatus, StatsMapping

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


def sprl_error_fields(body: Any) -> tuple[Any, Any]:
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
        "105": ErrorRule(VendorUnavailable, "SPRL had an unexpected error"),
        # A quota, not a burst limit: retrying burns nothing but time.
        "129": ErrorRule(QuotaExceeded),
    },
    error_fields=sprl_error_fields,
    body_is_error=lambda status, body: isinstance(body, Mapping) and body.get("status") is False,
)
