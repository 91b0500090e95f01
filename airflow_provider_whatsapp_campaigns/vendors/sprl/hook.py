"""SPRL's hook: tracking stats and contacts of campaigns made in SPRL's UI."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from airflow_provider_whatsapp_campaigns._http.auth import Auth, StaticHeaderAuth
from airflow_provider_whatsapp_campaigns._http.flow import Call, Emit, Flow
from airflow_provider_whatsapp_campaigns.config import ConnectionConfig
from airflow_provider_whatsapp_campaigns.exceptions import UnexpectedResponse, ValidationError
from airflow_provider_whatsapp_campaigns.phones import to_e164
from airflow_provider_whatsapp_campaigns.stats import CampaignStats, lookup, to_count
from airflow_provider_whatsapp_campaigns.vendors.base import WhatsAppCampaignHook
from airflow_provider_whatsapp_campaigns.vendors.sprl.tables import SPRL_ERRORS, SPRL_STATS

TRACKING_PATH = "/whatsapp/v1/campaigns/tracking"
CONTACT_STATUSES = frozenset({"pending", "sent", "delivered", "read", "failed", "replied"})
# A server that ignores the page parameter must not make us loop forever.
MAX_PAGES = 100_000


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
    stats_options: ClassVar[frozenset[str]] = frozenset({"account_id"})
    contact_options: ClassVar[frozenset[str]] = frozenset({"account_id", "status", "phone", "per_page"})

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
        data = tracking_data(response.body)
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
            data = tracking_data(response.body)
            listed = data.get("contacts")
            contacts = [c for c in listed if isinstance(c, Mapping)] if isinstance(listed, list) else []
            if not contacts:
                return
            first = contacts[0].get("message_id")
            if page > 1 and first is not None and first == previous_first:
                self.log.warning(
                    "SPRL returned page %d identical to the previous one; stopping (server ignores page)", page
                )
                return
            previous_first = first
            yield Emit(self.contact_rows(contacts))
            current, last = lookup(data, "pagination.current_page"), lookup(data, "pagination.last_page")
            current, last = to_count(current), to_count(last)
            if current is not None and last is not None and current >= last:
                return
        self.log.warning("SPRL pagination stopped after %d pages", MAX_PAGES)


def tracking_data(body: Any) -> Mapping[str, Any]:
    data = body.get("data") if isinstance(body, Mapping) else None
    return data if isinstance(data, Mapping) else {}
