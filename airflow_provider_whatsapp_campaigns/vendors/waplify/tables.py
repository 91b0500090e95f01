"""Waplify's tables: status words, the stats mapping and the error table."""

from __future__ import annotations

from typing import Any

from airflow_provider_whatsapp_campaigns._http.errors import ErrorMap, ErrorRule
from airflow_provider_whatsapp_campaigns.exceptions import (
    AuthenticationError,
    NotFound,
    PermissionDenied,
    ValidationError,
    WhatsAppCampaignError,
)
from airflow_provider_whatsapp_campaigns.stats import CampaignStatus, StatsMapping

WAPLIFY_STATUS = {
    "draft": CampaignStatus.DRAFT,
    "scheduled": CampaignStatus.SCHEDULED,
    "queued": CampaignStatus.QUEUED,
    "running": CampaignStatus.RUNNING,
    "sending": CampaignStatus.RUNNING,
    "completed": CampaignStatus.COMPLETED,
    "cancelled": CampaignStatus.CANCELLED,
    "failed": CampaignStatus.FAILED,
}

WAPLIFY_STATS = StatsMapping(
    provider="waplify",
    statuses=WAPLIFY_STATUS,
    fields={
        "campaign_id": "campaign_id",
        "name": "name",
        "status": "campaign_status",
        "total": "total_contacts",
        "sent": "sent_count",
        "delivered": "delivered_count",
        "read": "read_count",
        "clicked": "clicked_count",
        "replied": "replied_count",
        "failed": "failed_count",
        "started_at": "started_at",
        "completed_at": "completed_at",
    },
    details=("success_count", "created_at", "scheduled_at"),
)


def waplify_error_fields(body: Any) -> tuple[Any, Any]:
    if isinstance(body, dict):
        return body.get("error"), body.get("message") or body.get("detail")
    return None, body if isinstance(body, str) else None


WAPLIFY_ERRORS = ErrorMap(
    vendor="waplify",
    codes={
        "not_found": ErrorRule(NotFound, "check the campaign id"),
        "bad_request": ErrorRule(ValidationError),
    },
    statuses={
        401: ErrorRule(AuthenticationError, "check the Waplify API key (wapl_…)"),
        403: ErrorRule(PermissionDenied, "the API key may not access this resource"),
    },
    error_fields=waplify_error_fields,
)


#: Waplify's refusal of a second send while the first is still queued (the status can still read `draft`).
ALREADY_SENT = "already been sent"


def refused_as_already_sent(exc: WhatsAppCampaignError) -> bool:
    """The send refusal that proves an earlier send (whose answer may have been lost) was taken."""
    return isinstance(exc, ValidationError) and ALREADY_SENT in exc.message.lower()
