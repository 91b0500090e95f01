"""Whatomate's tables: status words, the stats mapping, the error messages and the envelope."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from airflow_provider_whatsapp_campaigns._http.errors import ErrorMap, ErrorRule
from airflow_provider_whatsapp_campaigns.exceptions import (
    AuthenticationError,
    InvalidState,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from airflow_provider_whatsapp_campaigns.stats import CampaignStatus, StatsMapping

# --------------------------------------------------------------------------- status and stats

#: Every word the docs (draft, scheduled, sending, paused, completed, cancelled) and the real
#: server (draft, queued, processing, completed, paused, cancelled, failed) use.
WHATOMATE_STATUS: dict[str, CampaignStatus] = {
    "draft": CampaignStatus.DRAFT,
    "scheduled": CampaignStatus.SCHEDULED,
    "queued": CampaignStatus.QUEUED,
    "processing": CampaignStatus.RUNNING,
    "sending": CampaignStatus.RUNNING,
    "paused": CampaignStatus.PAUSED,
    "completed": CampaignStatus.COMPLETED,
    "cancelled": CampaignStatus.CANCELLED,
    "failed": CampaignStatus.FAILED,
}

WHATOMATE_STATS = StatsMapping(
    provider="whatomate",
    statuses=WHATOMATE_STATUS,
    fields={
        "campaign_id": "id",
        "name": "name",
        "status": "status",
        "total": "total_recipients",
        "sent": "sent_count",
        "delivered": "delivered_count",
        # No "read": the real server never updates read_count (it stays 0), so reporting it would
        # be a made-up 0. The raw value is kept in details["read_count"].
        "failed": "failed_count",
        "started_at": "started_at",
        "completed_at": "completed_at",
    },
    details=("whatsapp_account", "template_id", "scheduled_at", "created_at", "updated_at", "read_count"),
)

READ_COUNT_NOTE = "Whatomate servers do not update read_count (it stays 0); do not read it as 'nobody read'"

# --------------------------------------------------------------------------- errors

#: Whatomate's error envelope has no code, only a message: ``{"status": "error", "message": …}``.
#: The message is classified here, in this one table (first match wins), into a stable code. The
#: state refusals are 400s carrying the real server's words (vendors.md §4): conflicts with the
#: campaign's state, not bad input.
WHATOMATE_MESSAGE_CODES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"invalid api key", re.I), "invalid_api_key"),
    (
        re.compile(r"cannot be (started|paused|cancell?ed|resumed) in (the )?current state|is not running|"
                   r"already finished", re.I),
        "invalid_state",
    ),
    (re.compile(r"no (pending )?recipients", re.I), "no_recipients"),
    (re.compile(r"only (add recipients to|update|be added to) draft campaigns|can only be added to draft", re.I),
     "not_draft"),
    (re.compile(r"cannot delete (a )?running campaign", re.I), "running"),
    (re.compile(r"invalid template id|template not found", re.I), "template"),
    (re.compile(r"whatsapp account not found", re.I), "account"),
)


def whatomate_error_fields(body: Any) -> tuple[Any, Any]:
    if isinstance(body, Mapping):
        message = body.get("message") or body.get("error")
    else:
        message = body if isinstance(body, str) else None
    code = None
    if isinstance(message, str):
        code = next((c for rx, c in WHATOMATE_MESSAGE_CODES if rx.search(message)), None)
    return code, message


def _body_is_error(status: int, body: Any) -> bool:
    return isinstance(body, Mapping) and str(body.get("status", "")).lower() == "error"


_STATE_HINT = "the campaign's current state does not allow this"
WHATOMATE_ERRORS = ErrorMap(
    vendor="whatomate",
    codes={
        "invalid_api_key": ErrorRule(
            AuthenticationError, "check the Whatomate API key (whm_…) in the connection's password field"
        ),
        "invalid_state": ErrorRule(InvalidState, _STATE_HINT),
        "no_recipients": ErrorRule(InvalidState, "import recipients first (only possible while the campaign is draft)"),
        "not_draft": ErrorRule(InvalidState, "only draft campaigns can be changed or receive recipients"),
        "running": ErrorRule(InvalidState, "pause or cancel the campaign first"),
        "template": ErrorRule(ValidationError, "name the template by its name or UUID (GET /api/templates)"),
        "account": ErrorRule(ValidationError, "Whatomate names WhatsApp accounts: check the 'whatsapp_account' extra"),
    },
    statuses={
        400: ErrorRule(ValidationError),
        401: ErrorRule(AuthenticationError, "check the connection's credentials"),
        403: ErrorRule(PermissionDenied, "this user or key may not access this resource"),
        404: ErrorRule(NotFound, "check the campaign id"),
        # 5xx fall through to VendorUnavailable (retried). The real server also answers an empty
        # import, a phone over 20 characters or a batch over ~6,500 rows with a 500: the hook
        # never sends one (see writes.MAX_BATCH_SIZE).
    },
    error_fields=whatomate_error_fields,
    body_is_error=_body_is_error,
)


# --------------------------------------------------------------------------- helpers


def unwrap_envelope(body: Any) -> Mapping[str, Any]:
    """The ``data`` of the success envelope, or the body itself when it is not wrapped."""
    if not isinstance(body, Mapping):
        return {}
    data = body.get("data")
    if isinstance(data, Mapping):
        return data
    return body
