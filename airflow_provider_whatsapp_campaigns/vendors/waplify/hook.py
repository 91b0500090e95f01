"""Waplify's hook: create (contacts validated first), send, stats."""

from __future__ import annotations

import contextlib
from typing import Any, ClassVar

from airflow_provider_whatsapp_campaigns._http.auth import Auth, StaticHeaderAuth
from airflow_provider_whatsapp_campaigns._http.flow import Call, Flow
from airflow_provider_whatsapp_campaigns.config import ConnectionConfig
from airflow_provider_whatsapp_campaigns.exceptions import NotFound, UnexpectedResponse, ValidationError
from airflow_provider_whatsapp_campaigns.recipients import normalize_recipients
from airflow_provider_whatsapp_campaigns.stats import CampaignStats, CampaignStatus, lookup
from airflow_provider_whatsapp_campaigns.vendors.base import WhatsAppCampaignHook
from airflow_provider_whatsapp_campaigns.vendors.spec import CampaignSpec, CreatedCampaign, tagged_name
from airflow_provider_whatsapp_campaigns.vendors.waplify.tables import (
    WAPLIFY_ERRORS,
    WAPLIFY_STATS,
    refused_as_already_sent,
)

MAX_CONTACTS = 10_000


class WaplifyHook(WhatsAppCampaignHook):
    """Waplify has no list, pause or cancel API; poll stats every 30–60 s as the vendor advises."""

    conn_type = "waplify"
    default_conn_name = "waplify_default"
    hook_name = "Waplify"
    vendor = "waplify"
    vendor_label = "Waplify"
    default_rate_limit = 10.0
    errors = WAPLIFY_ERRORS
    stats_mapping = WAPLIFY_STATS
    supported: ClassVar[frozenset[str]] = frozenset({"create", "start", "stats"})
    max_recipients_per_campaign: ClassVar[int] = MAX_CONTACTS

    def build_auth(self, config: ConnectionConfig) -> Auth:
        key = config.require(config.password, "password (API key)", "API key")
        return StaticHeaderAuth("Authorization", key, "Bearer {}")

    def contacts_body(self, spec: CampaignSpec) -> list[dict[str, Any]]:
        """Validate every number before anything is sent: 1–10,000 contacts, E.164."""
        count = len(spec.recipients)
        if not 1 <= count <= MAX_CONTACTS:
            raise ValidationError(
                f"Waplify campaigns take 1 to {MAX_CONTACTS:,} contacts, got {count:,}; "
                "split them (split='parts' on the create operator) instead of truncating.",
                vendor=self.vendor,
            )
        found = normalize_recipients(spec.recipients)
        if found.invalid_count:
            raise ValidationError(
                f"{found.invalid_count} invalid phone number(s), nothing was sent: {found.describe_invalid()}",
                vendor=self.vendor,
            )
        return [{"phone": r.phone, **({"name": r.name} if r.name else {})} for r in found.valid]

    def _create_flow(self, spec: CampaignSpec, marker: str | None) -> Flow[CreatedCampaign]:
        contacts = self.contacts_body(spec)
        waba_phone_id = spec.account or self.config.get_extra("waba_phone_id")
        body: dict[str, Any] = {
            "name": tagged_name(spec.name, marker),  # no list API: the tag lets a person spot a duplicate
            "template_name": spec.template,
            "contacts": contacts,
            "waba_phone_id": self.config.require(waba_phone_id, "extra waba_phone_id", "WABA phone ID"),
        }
        optional = {
            "description": spec.description,
            "scheduled_at": spec.scheduled_at,
            "body_data": dict(spec.template_params) or None,
            **dict(spec.options),
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        # No idempotency key and no list API: a create is never resent blindly (idempotent=False).
        response = yield Call("POST", "/api/v1/campaigns/", json=body, idempotent=False)
        campaign_id = lookup(response.body, ("id", "campaign_id", "data.id"))
        if not isinstance(campaign_id, (str, int)) or isinstance(campaign_id, bool) or str(campaign_id) == "":
            raise UnexpectedResponse(
                "Waplify answered the create without a campaign id; check in Waplify whether the campaign exists "
                "before running the task again",
                vendor=self.vendor,
            )
        return CreatedCampaign(str(campaign_id), recipients_added=len(contacts))

    def _probe_flow(self) -> Flow[None]:
        with contextlib.suppress(NotFound):  # a well-formed id nobody has: NotFound proves the key works
            yield from self._stats_flow("00000000-0000-0000-0000-000000000000")

    def _stats_flow(self, campaign_id: str, **options: Any) -> Flow[CampaignStats]:
        response = yield Call("GET", "/api/v1/campaigns/{campaign_id}/stats", path_params={"campaign_id": campaign_id})
        return self.stats_mapping.build(response.body, campaign_id=campaign_id)

    def _start_flow(self, campaign_id: str) -> Flow[CampaignStats]:
        return (
            yield from self._transition_flow(
                campaign_id,
                Call(
                    "POST",
                    "/api/v1/campaigns/{campaign_id}/send",
                    idempotent=False,
                    path_params={"campaign_id": campaign_id},
                ),
                allowed_from=frozenset({CampaignStatus.DRAFT, CampaignStatus.SCHEDULED}),
                already_done=frozenset({CampaignStatus.QUEUED, CampaignStatus.RUNNING, CampaignStatus.COMPLETED}),
                action="start",
                refusal_means_done=refused_as_already_sent,
            )
        )
