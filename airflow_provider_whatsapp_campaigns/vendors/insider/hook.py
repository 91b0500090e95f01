"""Insider's hooks: campaign stats (API key or OAuth gateway) and transactional stats."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from airflow_provider_whatsapp_campaigns._http.auth import Auth, StaticHeaderAuth
from airflow_provider_whatsapp_campaigns._http.flow import Call, Flow
from airflow_provider_whatsapp_campaigns.config import ConnectionConfig, require_secure_url
from airflow_provider_whatsapp_campaigns.exceptions import PermissionDenied, UnsupportedOperation, ValidationError
from airflow_provider_whatsapp_campaigns.stats import CampaignStats
from airflow_provider_whatsapp_campaigns.validation import POSITIVE_INT_ID
from airflow_provider_whatsapp_campaigns.vendors.base import WhatsAppCampaignHook
from airflow_provider_whatsapp_campaigns.vendors.insider.auth import InsiderOAuthAuth, parse_scopes
from airflow_provider_whatsapp_campaigns.vendors.insider.ranges import check_range, split_windows, to_unix
from airflow_provider_whatsapp_campaigns.vendors.insider.tables import (
    INSIDER_ERRORS,
    VENDOR,
    stats_from_payload,
)
from airflow_provider_whatsapp_campaigns.vendors.insider.transactional import normalize_accounts, transactional_result

CAMPAIGN_PATH = "/v1/statistics/campaign"
OAUTH_CAMPAIGN_PATH = "/api/wa/v2/statistics/campaign"
TRANSACTIONAL_PATH = "/v1/statistics/transactional"


# --------------------------------------------------------------------------- hooks


class InsiderHook(WhatsAppCampaignHook):
    """Insider One WhatsApp statistics with an API key (``x-ins-auth-key``).

    Campaign stats: ``get_campaign_stats(campaign_id, start_time=None, end_time=None)``
    (range ≤ 1 year, start ≥ 2018-01-01; both optional). Transactional stats:
    :meth:`get_transactional_stats` (any range, split into ≤ 1-year windows and merged).
    Insider reports no status: use the sensor's ``completion="settled"`` mode.
    """

    conn_type = "insider_whatsapp"
    default_conn_name = "insider_whatsapp_default"
    hook_name = "Insider One WhatsApp (API key)"
    vendor = VENDOR
    vendor_label = "Insider One"
    default_rate_limit = 100.0  # published: 100 requests per second per key
    errors = INSIDER_ERRORS
    supported: ClassVar[frozenset[str]] = frozenset({"stats"})
    campaign_id_format = POSITIVE_INT_ID
    stats_options: ClassVar[frozenset[str]] = frozenset({"start_time", "end_time"})

    campaign_stats_path: ClassVar[str] = CAMPAIGN_PATH
    #: The OAuth gateway documents no transactional endpoint.
    supports_transactional: ClassVar[bool] = True

    def build_auth(self, config: ConnectionConfig) -> Auth:
        key = config.require(config.password, "password (API key)", "Insider API key")
        return StaticHeaderAuth("x-ins-auth-key", key)

    # ------------------------------------------------------------------ campaign stats

    def campaign_body(self, campaign_id: Any, options: Mapping[str, Any]) -> dict[str, Any]:
        """Validated request body (raises ValidationError before any request)."""
        body: dict[str, Any] = {"campaign_id": int(self.check_campaign_id(campaign_id))}
        start = _optional_time(options.get("start_time"), "start_time")
        end = _optional_time(options.get("end_time"), "end_time")
        check_range(start, end)
        if start is not None:
            body["start_time"] = start
        if end is not None:
            body["end_time"] = end
        return body

    def _stats_flow(self, campaign_id: str, **options: Any) -> Flow[CampaignStats]:
        # Not a generator itself: validation runs when the flow is built, before any request
        # (and before an OAuth token is minted).
        return self._post_stats(self.campaign_body(campaign_id, options))

    def _post_stats(self, body: dict[str, Any]) -> Flow[CampaignStats]:
        response = yield Call("POST", self.campaign_stats_path, json=body)
        return stats_from_payload(response.body, body["campaign_id"])

    # ------------------------------------------------------------------ transactional stats

    def get_transactional_stats(self, start_time: Any, end_time: Any, accounts: Any = None) -> dict[str, Any]:
        """Transactional statistics for ``[start_time, end_time]`` (both included).

        Times: datetime (naive = UTC), ISO-8601 string, or Unix seconds. A range over one year
        is fetched as consecutive ≤ 1-year windows (:func:`split_windows`) and merged.
        ``accounts``: sender phone numbers (validated and sent as E.164); ``None`` = all.

        Returns a JSON-safe dict::

            provider "insider", kind "transactional",
            start_time / end_time (ISO-8601 UTC), start_unix / end_unix (int),
            accounts (masked senders | None), windows (int), window_ranges [[start, end], …],
            total (targeted), sent, delivered, read (open), clicked (click), failed (drop + undelivered),
            pending (deliveryPending), conversion, revenue, drop, undelivered, unsubscribe   int | float | None
            delivery_rate, read_rate, click_rate, failure_rate                               0–1 | None
            details {"dropDetails": {…}, "undeliveredDetails": {…}}  (summed key-wise; absent keys omitted)
            chart {"dates": [...], "datesAsTimestamp": [...], <vendor series: sent, delivered, open,
                   click, conversion, verified, responses, …>: [...]} | None (wrapped answers have none)
            fetched_at (ISO-8601 UTC)
        """
        return self._run(self._transactional_flow(start_time, end_time, accounts))  # type: ignore[no-any-return]

    async def aget_transactional_stats(self, start_time: Any, end_time: Any, accounts: Any = None) -> dict[str, Any]:
        """Async twin of :meth:`get_transactional_stats` (same flow)."""
        return await self._arun(self._transactional_flow(start_time, end_time, accounts))  # type: ignore[no-any-return]

    def _transactional_flow(self, start_time: Any, end_time: Any, accounts: Any = None) -> Flow[dict[str, Any]]:
        """Validate everything now (before any request), then return the fetching flow."""
        if not self.supports_transactional:
            raise UnsupportedOperation(
                "Insider's OAuth gateway has no documented transactional statistics endpoint; use an API-key "
                f"connection (type insider_whatsapp) instead of {self.conn_id!r} ({self.conn_type})",
                vendor=VENDOR,
            )
        if start_time is None or start_time == "" or end_time is None or end_time == "":
            raise ValidationError("transactional stats need both start_time and end_time", vendor=VENDOR)
        start, end = to_unix(start_time, "start_time"), to_unix(end_time, "end_time")
        check_range(start, end, max_range=None)
        senders = normalize_accounts(accounts)
        return self._fetch_transactional(start, end, senders)

    def _fetch_transactional(self, start: int, end: int, accounts: list[str] | None) -> Flow[dict[str, Any]]:
        windows = split_windows(start, end)
        payloads = []
        for a, b in windows:
            body: dict[str, Any] = {"start_time": a, "end_time": b}
            if accounts:
                body["accounts"] = accounts
            response = yield Call("POST", TRANSACTIONAL_PATH, json=body)
            payloads.append(response.body)
        return transactional_result(start, end, windows, payloads, accounts)

    # ------------------------------------------------------------------ connection test

    def explain_denied(self, exc: PermissionDenied) -> str:
        if exc.vendor_code == "1088":
            return (
                "Insider refused this worker's IP address (code 1088): it is not on the API allow-list. "
                "Add this worker's egress (public) IP address to the allow-list in Insider's console."
            )
        if exc.vendor_code == "3007":
            return (
                "The credentials work, but the WhatsApp product is not active for this Insider partner "
                "(code 3007); ask Insider to enable it."
            )
        return super().explain_denied(exc)


def _optional_time(value: Any, field_name: str) -> int | None:
    if value is None or value == "":
        return None
    return to_unix(value, field_name)


class InsiderOAuthHook(InsiderHook):
    """Insider One via the OAuth2 gateway (client credentials → ``Authorization: Bearer``).

    Extras: ``token_url`` (default ``<host>/auth/token``), ``scopes`` (JSON list or space/comma
    separated; default ``wa-stats-api``). Campaign stats only: the gateway documents no
    transactional endpoint, so :meth:`get_transactional_stats` raises ``UnsupportedOperation``.
    """

    conn_type = "insider_whatsapp_oauth"
    default_conn_name = "insider_whatsapp_oauth_default"
    hook_name = "Insider One WhatsApp (OAuth2 client credentials)"
    campaign_stats_path: ClassVar[str] = OAUTH_CAMPAIGN_PATH
    supports_transactional: ClassVar[bool] = False

    def build_auth(self, config: ConnectionConfig) -> Auth:
        client_id = config.require(config.login, "login (client ID)", "OAuth client ID")
        secret = config.require(config.password, "password (client secret)", "OAuth client secret")
        token_url = str(config.get_extra("token_url") or f"{config.base_url}/auth/token").strip()
        if token_url.startswith("/"):
            token_url = f"{config.base_url}{token_url}"
        require_secure_url(
            token_url, conn_id=config.conn_id, allow_insecure=config.allow_insecure, what="extra token_url"
        )
        return InsiderOAuthAuth(token_url, client_id, secret, parse_scopes(config.get_extra("scopes")))
