"""The Whatomate hooks: auth by connection type and the public API beyond the common verbs."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any, ClassVar

from airflow_provider_whatsapp_campaigns._http.auth import Auth, StaticHeaderAuth
from airflow_provider_whatsapp_campaigns.config import ConnectionConfig
from airflow_provider_whatsapp_campaigns.validation import UUID_ID
from airflow_provider_whatsapp_campaigns.vendors.spec import Recipient
from airflow_provider_whatsapp_campaigns.vendors.whatomate.auth import WhatomateJwtAuth
from airflow_provider_whatsapp_campaigns.vendors.whatomate.tables import WHATOMATE_ERRORS, WHATOMATE_STATS
from airflow_provider_whatsapp_campaigns.vendors.whatomate.writes import DEFAULT_BATCH_SIZE, _WhatomateWrites

log = logging.getLogger("airflow.providers.whatsapp_campaigns.whatomate")


class WhatomateHook(_WhatomateWrites):
    """Whatomate with an API key (``X-API-Key: whm_…``); also accepts a ``whatomate_jwt`` connection.

    Stats: ``read`` is not reported (``None``): real servers never update ``read_count`` (it stays
    0), so a number would be a made-up 0; the raw value is kept in ``details["read_count"]``.
    ``pending`` = ``total − sent − failed`` when all three are known, else ``None``. Resuming a
    paused campaign (``start`` after ``pause``) makes the server *reset* its sent/delivered/failed
    counters to count from the resume, so after a resume ``pending`` over-counts.
    """

    conn_type = "whatomate"
    default_conn_name = "whatomate_default"
    hook_name = "Whatomate (API key)"
    vendor = "whatomate"
    vendor_label = "Whatomate"
    # Self-hosted: no published limit; a gentle default that a user can raise with extra rate_limit.
    default_rate_limit = 20.0
    errors = WHATOMATE_ERRORS
    stats_mapping = WHATOMATE_STATS
    supported: ClassVar[frozenset[str]] = frozenset({"create", "start", "stats", "pause", "cancel", "contacts"})
    adopts_by_marker: ClassVar[bool] = True
    campaign_url_template = "{base}/campaigns/{campaign_id}"
    campaign_id_format = UUID_ID
    contact_options: ClassVar[frozenset[str]] = frozenset({"status"})
    contact_fields: ClassVar[dict[str, str | tuple[str, ...]]] = {
        "message_id": ("whatsapp_message_id", "message_id"),
        "sent_at": "sent_at",
        "delivered_at": "delivered_at",
        "read_at": "read_at",
    }

    @classmethod
    def accepted_conn_types(cls) -> tuple[str, ...]:
        return ("whatomate", "whatomate_jwt")

    def _scheme(self) -> str:
        conn = self.__dict__.get("connection")
        return str(getattr(conn, "conn_type", None) or self.conn_type)

    def build_auth(self, config: ConnectionConfig) -> Auth:
        if self._scheme() == "whatomate_jwt":
            email = config.require(config.login, "login (email)", "email")
            password = config.require(config.password, "password", "password")
            return WhatomateJwtAuth(email, password, config.base_url)
        key = config.require(config.password, "password (API key)", "API key")
        return StaticHeaderAuth("X-API-Key", key)

    # ------------------------------------------------------------------ extra public API

    def list_campaigns(
        self, search: str | None = None, status: str | None = None, whatsapp_account: str | None = None
    ) -> list[dict[str, Any]]:
        """Every campaign matching the filters, newest first (all pages; older servers: one page)."""
        return self._run(self._list_flow(search, status, whatsapp_account))  # type: ignore[no-any-return]

    async def alist_campaigns(
        self, search: str | None = None, status: str | None = None, whatsapp_account: str | None = None
    ) -> list[dict[str, Any]]:
        return await self._arun(self._list_flow(search, status, whatsapp_account))  # type: ignore[no-any-return]

    def get_campaign(self, campaign_id: str) -> dict[str, Any]:
        """The raw campaign object (unwrapped from the envelope)."""
        return self._run(self._campaign_flow(self.check_campaign_id(campaign_id)))  # type: ignore[no-any-return]

    async def aget_campaign(self, campaign_id: str) -> dict[str, Any]:
        return await self._arun(self._campaign_flow(self.check_campaign_id(campaign_id)))  # type: ignore[no-any-return]

    def update_campaign(self, campaign_id: str, **fields: Any) -> dict[str, Any]:
        """``PUT`` (drafts only: name, whatsapp_account, template_id, scheduled_at); returns the campaign."""
        return self._run(self._update_flow(self.check_campaign_id(campaign_id), fields))  # type: ignore[no-any-return]

    def delete_campaign(self, campaign_id: str) -> None:
        """Delete a campaign (not while queued/processing); a lost answer is judged by a lookup."""
        self._run(self._delete_flow(self.check_campaign_id(campaign_id)))

    def import_recipients(
        self,
        campaign_id: str,
        recipients: Iterable[Recipient | Mapping[str, Any] | str],
        batch_size: int = DEFAULT_BATCH_SIZE,
        default_region: str | None = None,
    ) -> dict[str, Any]:
        """Add recipients to a *draft* campaign in batches; invalid phones are reported, not sent.

        Returns ``{"campaign_id", "added_count", "total_recipients", "batches",
        "invalid": [{"row", "phone" (masked), "reason"}]}``.
        """
        return self._run(self._import_public_flow(self.check_campaign_id(campaign_id), recipients, batch_size, default_region))  # type: ignore[no-any-return]

    async def aimport_recipients(
        self,
        campaign_id: str,
        recipients: Iterable[Recipient | Mapping[str, Any] | str],
        batch_size: int = DEFAULT_BATCH_SIZE,
        default_region: str | None = None,
    ) -> dict[str, Any]:
        flow = self._import_public_flow(self.check_campaign_id(campaign_id), recipients, batch_size, default_region)
        return await self._arun(flow)  # type: ignore[no-any-return]

    def list_recipients(self, campaign_id: str, status: str | None = None) -> list[dict[str, Any]]:
        """Per-recipient rows in the export columns ``{recipient_id, phone, name, status, error, …}``."""
        return list(self.iter_contacts(campaign_id, status=status))

    async def alist_recipients(self, campaign_id: str, status: str | None = None) -> list[dict[str, Any]]:
        rows: AsyncIterator[dict[str, Any]] = self.aiter_contacts(campaign_id, status=status)
        return [row async for row in rows]


class WhatomateJwtHook(WhatomateHook):
    """Whatomate with email + password (JWT); tokens are shared per process and account, refreshed on 401."""

    conn_type = "whatomate_jwt"
    default_conn_name = "whatomate_jwt_default"
    hook_name = "Whatomate (email + password)"
