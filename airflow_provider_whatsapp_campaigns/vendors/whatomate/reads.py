"""Whatomate's read flows (old and new server builds: paged or not, filtered or not)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from airflow_provider_whatsapp_campaigns._http.flow import Call, Emit, Flow
from airflow_provider_whatsapp_campaigns.exceptions import UnexpectedResponse, ValidationError
from airflow_provider_whatsapp_campaigns.stats import CampaignStats, to_count
from airflow_provider_whatsapp_campaigns.vendors.base import WhatsAppCampaignHook
from airflow_provider_whatsapp_campaigns.vendors.whatomate.tables import READ_COUNT_NOTE, unwrap_envelope
from airflow_provider_whatsapp_campaigns.vendors.whatomate.templates import list_templates_flow, pick_template

CAMPAIGNS = "/api/campaigns"
ACCOUNTS = "/api/accounts"
ONE_CAMPAIGN = CAMPAIGNS + "/{campaign_id}"


PAGE_LIMIT = 100  # newer servers cap ``limit`` at 100
MAX_PAGES = 10_000  # a server that pages badly must never make us loop forever


def _items(data: Mapping[str, Any], *keys: str) -> list[Mapping[str, Any]]:
    for key in keys:
        value = data.get(key)
        if isinstance(value, list):
            return [v for v in value if isinstance(v, Mapping)]
    return []


def _identity(item: Mapping[str, Any]) -> str:
    """A hashable key for de-duplicating pages: the id, else the whole item (ids may be any JSON)."""
    ident = item.get("id")
    return json.dumps(ident if ident is not None else item, sort_keys=True, default=str)


def marker_tag(marker: str) -> str:
    """How a marker appears in a campaign name: ``"Spring sale [af-1a2b3c4d5e6f]"``."""
    return f"[{marker}]"


def _matches(campaign: Mapping[str, Any], search: str | None, status: str | None, account: str | None) -> bool:
    # Older servers ignore the filters: apply them here as well (a no-op on newer servers).
    if search and search.lower() not in str(campaign.get("name") or "").lower():
        return False
    if status and str(campaign.get("status") or "").lower() != status.lower():
        return False
    return not (account and str(campaign.get("whatsapp_account") or "") != account)


class _WhatomateReads(WhatsAppCampaignHook):
    """Whatomate's read flows: one campaign, stats, defensive paging, lists and recipients."""

    # ------------------------------------------------------------------ flows: reads

    def _campaign_flow(self, campaign_id: str) -> Flow[dict[str, Any]]:
        response = yield Call("GET", ONE_CAMPAIGN, path_params={"campaign_id": campaign_id})
        campaign = unwrap_envelope(response.body)
        if not campaign:
            raise UnexpectedResponse(f"Whatomate answered without campaign {campaign_id}", vendor=self.vendor)
        return dict(campaign)

    def _stats_flow(self, campaign_id: str, **options: Any) -> Flow[CampaignStats]:
        campaign = yield from self._campaign_flow(campaign_id)
        stats = self.stats_mapping.build(campaign, campaign_id=campaign_id)
        pending = None
        if stats.total is not None and stats.sent is not None and stats.failed is not None:
            pending = max(0, stats.total - stats.sent - stats.failed)
        return stats.replace(pending=pending, details={**stats.details, "read_count_note": READ_COUNT_NOTE})

    def _paged_flow(
        self,
        path: str,
        key: str,
        params: Mapping[str, Any],
        *,
        emit: bool,
        path_params: Mapping[str, Any] | None = None,
        transform: Callable[[dict[str, Any]], dict[str, Any] | None] = lambda item: item,
    ) -> Flow[list[dict[str, Any]]]:
        """Page through ``path`` defensively: newer servers page (``page``/``limit``/``total``),
        older ones ignore ``page`` and return everything at once.

        Stops when we hold ``total`` items, when a page is empty or adds nothing new (a server
        ignoring ``page`` repeats itself), on a short page when no total is given, or at MAX_PAGES.
        ``emit`` streams items (``Emit``) instead of collecting them; ``transform`` → None drops one.
        """
        seen: set[Any] = set()
        collected: list[dict[str, Any]] = []
        for page in range(1, MAX_PAGES + 1):
            response = yield Call(
                "GET", path, params={**params, "page": page, "limit": PAGE_LIMIT}, path_params=path_params
            )
            data = unwrap_envelope(response.body)
            items = _items(data, key, "items")
            fresh = []
            for item in items:
                ident = _identity(item)
                if ident not in seen:
                    seen.add(ident)
                    fresh.append(dict(item))
            for item in fresh:
                shaped = transform(item)
                if shaped is None:
                    continue
                if emit:
                    yield Emit(shaped)
                else:
                    collected.append(shaped)
            total = to_count(data.get("total"))
            page_size = to_count(data.get("limit")) or PAGE_LIMIT
            if not fresh:
                if items and page > 1:
                    self.log.debug("whatomate: page %d of %s added nothing new; the server ignores paging", page, path)
                break
            if total is not None and len(seen) >= total:
                break
            if total is None and len(items) < page_size:
                break
        else:
            self.log.warning("whatomate: stopped paging %s after %d pages", path, MAX_PAGES)
        return collected

    def _list_flow(
        self, search: str | None, status: str | None, whatsapp_account: str | None
    ) -> Flow[list[dict[str, Any]]]:
        params = {"search": search, "status": status, "whatsapp_account": whatsapp_account}
        params = {k: v for k, v in params.items() if v}
        campaigns = yield from self._paged_flow(CAMPAIGNS, "campaigns", params, emit=False)
        return [c for c in campaigns if _matches(c, search, status, whatsapp_account)]

    def _contacts_flow(self, campaign_id: str, *, status: str | None = None, **options: Any) -> Flow[None]:
        """Recipients as rows ``{phone, phone_number, recipient_name, status, error_message, …}``.

        Real servers answer unpaged (one call); a server that pages them is paged through,
        streaming rows as they come. ``status`` (pending/sent/failed) filters client-side.
        """

        def shape(item: dict[str, Any]) -> dict[str, Any] | None:
            if status is not None and str(item.get("status") or "").lower() != status.lower():
                return None
            return {"phone": item.get("phone_number"), **item}

        yield from self._paged_flow(
            ONE_CAMPAIGN + "/recipients",
            "recipients",
            {},
            emit=True,
            transform=shape,
            path_params={"campaign_id": campaign_id},
        )

    def _probe_flow(self) -> Flow[Any]:
        """``GET /api/accounts``: its size does not grow with campaigns, recipients or templates (the
        campaign list would: 387cae4 ignores ``limit``), it sits behind the same role check as the
        campaign calls (a key that may not run campaigns fails here too), and it proves the
        connection's default ``whatsapp_account`` exists."""
        response = yield Call("GET", ACCOUNTS)
        names = [str(a.get("name")) for a in _items(unwrap_envelope(response.body), "accounts")]
        account = self.config.get_extra("whatsapp_account")
        if account and account not in names:
            raise ValidationError(
                f"the connection's whatsapp_account {account!r} is not an account on this server; "
                f"accounts: {', '.join(names) or 'none'} (Whatomate names accounts, not ids)",
                vendor=self.vendor,
            )

    def _template_flow(self, template: str, language: str | None, account: str) -> Flow[Mapping[str, Any]]:
        """The approved template ``template`` names (UUID or name); one listing per account and hook."""
        cache: dict[str, list[dict[str, Any]]] = self.__dict__.setdefault("_templates", {})
        if account not in cache:
            cache[account] = yield from list_templates_flow(account)
        return pick_template(cache[account], template, language, account)
