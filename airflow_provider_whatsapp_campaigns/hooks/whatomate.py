"""Whatomate (self-hosted, open source): the full lifecycle — create, import, start, pause, cancel, stats.

Two auth schemes, one hook family: ``whatomate`` (``X-API-Key: whm_…``) and ``whatomate_jwt``
(email + password → short-lived access token, refreshed on 401). Old and new server builds are
both supported (see ``vendors.md`` §4): the list endpoint may or may not paginate or filter, the
login may return its tokens in the body or as cookies, ``start`` may go to ``queued`` or straight
to ``processing``. Everything vendor-specific is in the tables at the top of this module.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlsplit

from airflow_provider_whatsapp_campaigns._http import (
    Auth,
    Call,
    Emit,
    ErrorMap,
    ErrorRule,
    Flow,
    MintedAuth,
    RequestCore,
    StaticHeaderAuth,
    iter_chunks,
)
from airflow_provider_whatsapp_campaigns.config import ConnectionConfig, is_loopback
from airflow_provider_whatsapp_campaigns.exceptions import (
    AuthenticationError,
    InvalidState,
    NotFound,
    PermissionDenied,
    UnexpectedResponse,
    ValidationError,
    VendorUnavailable,
)
from airflow_provider_whatsapp_campaigns.hooks.base import (
    CampaignSpec,
    CreatedCampaign,
    Recipient,
    WhatsAppCampaignHook,
)
from airflow_provider_whatsapp_campaigns.phones import InvalidPhone, to_e164
from airflow_provider_whatsapp_campaigns.stats import CampaignStats, CampaignStatus, StatsMapping, to_count

log = logging.getLogger("airflow.providers.whatsapp_campaigns.whatomate")

CAMPAIGNS = "/api/campaigns"
LOGIN = "/api/auth/login"
REFRESH = "/api/auth/refresh"
DEFAULT_BATCH_SIZE = 1_000
PAGE_LIMIT = 100  # newer servers cap ``limit`` at 100
MAX_PAGES = 10_000  # a server that pages badly must never make us loop forever

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
#: The message is classified here, in this one table (first match wins), into a stable code.
WHATOMATE_MESSAGE_CODES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"invalid api key", re.I), "invalid_api_key"),
    (re.compile(r"cannot be (started|paused|cancell?ed|resumed) in (the )?current state", re.I), "invalid_state"),
    (re.compile(r"no (pending )?recipients", re.I), "no_recipients"),
    (re.compile(r"only (be added to )?draft campaigns|can only be added to draft", re.I), "not_draft"),
    (re.compile(r"cannot delete a running campaign", re.I), "running"),
)


def _extract(body: Any) -> tuple[Any, Any]:
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
    },
    statuses={
        400: ErrorRule(ValidationError),
        401: ErrorRule(AuthenticationError, "check the connection's credentials"),
        403: ErrorRule(PermissionDenied, "this user or key may not access this resource"),
        404: ErrorRule(NotFound, "check the campaign id"),
        # 5xx fall through to VendorUnavailable (retried). Note: the real server answers an
        # *empty* recipients import with a 500 — this hook never sends an empty batch.
    },
    extract=_extract,
    body_is_error=_body_is_error,
)

# --------------------------------------------------------------------------- auth

#: Cookie names newer servers use for the tokens (first present wins), then plausible variants.
ACCESS_COOKIES = ("whm_access_token", "access_token", "whatomate_access_token", "accessToken", "jwt", "token")
REFRESH_COOKIES = ("whm_refresh_token", "refresh_token", "whatomate_refresh_token", "refreshToken")


def _body_token(body: Any, keys: tuple[str, ...]) -> str | None:
    for node in (_data(body), body if isinstance(body, Mapping) else {}):
        for key in keys:
            value = node.get(key)
            if isinstance(value, str) and value:
                return value
    return None


def _cookie(cookies: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    return next((name for name in names if cookies.get(name)), None)


@dataclass
class _JwtTokens:
    access: str | None = None
    refresh: str | None = None
    refresh_cookie: str | None = None  # set when the server handed tokens over as cookies


# (server URL, email, sha256(password)) -> tokens: one login per process and account, shared by
# every hook instance — a triggerer holding 1,000 deferred waits logs in once, not 1,000 times.
_JWT_TOKENS: dict[tuple[str, str, str], _JwtTokens] = {}
_JWT_GUARD = threading.Lock()


def clear_jwt_cache() -> None:
    """Forget every cached Whatomate token (tests; a password change needs nothing: it is in the key)."""
    _JWT_TOKENS.clear()


class WhatomateJwtAuth(MintedAuth):
    """Email + password → access/refresh tokens, cached per process and account.

    On a 401: refresh once; if the refresh is refused, log in again once; if that fails the
    :class:`AuthenticationError` propagates. Tokens are registered with the secret masker and
    never logged. The first login happens under a lock (thread lock sync, asyncio lock per loop).
    """

    def __init__(self, email: str, password: str, server: str = "") -> None:
        self.email, self.password = email, password
        self.key = (server, email, hashlib.sha256(password.encode()).hexdigest())
        with _JWT_GUARD:
            self.tokens = _JWT_TOKENS.setdefault(self.key, _JwtTokens())
        self.logins = 0
        self.refreshes = 0

    def ready(self) -> bool:
        return self.tokens.access is not None

    def obtain(self, core: RequestCore) -> Flow[None]:
        return self._login(core)

    def secrets(self) -> list[str]:
        return [self.password]

    def headers(self, core: RequestCore) -> Flow[dict[str, str]]:
        if self.tokens.access is None:
            yield from self._login(core)
        return {"Authorization": f"Bearer {self.tokens.access}"}

    def recover(self, core: RequestCore, error: AuthenticationError) -> Flow[bool]:
        if self.tokens.refresh:
            try:
                yield from self._refresh(core)
                return True
            except AuthenticationError:
                log.info("whatomate: token refresh refused; logging in again")
        yield from self._login(core)
        return True

    def _login(self, core: RequestCore) -> Flow[None]:
        self.logins += 1
        call = Call("POST", LOGIN, json={"email": self.email, "password": self.password}, authenticated=False)
        try:
            response = yield call
        except AuthenticationError as exc:
            raise AuthenticationError(
                f"Whatomate login failed ({exc.message}); check the connection's email (login) and password",
                vendor=exc.vendor,
                http_status=exc.http_status,
                vendor_code=exc.vendor_code,
            ) from None
        self._store(core, response.body, response.cookies, "login")

    def _refresh(self, core: RequestCore) -> Flow[None]:
        self.refreshes += 1
        tokens = self.tokens
        headers = {"Cookie": f"{tokens.refresh_cookie}={tokens.refresh}"} if tokens.refresh_cookie else None
        response = yield Call(
            "POST", REFRESH, json={"refresh_token": tokens.refresh}, headers=headers, authenticated=False
        )
        self._store(core, response.body, response.cookies, "refresh")

    def _store(self, core: RequestCore, body: Any, cookies: Mapping[str, str], what: str) -> None:
        """Tokens from the JSON body or, on newer servers, from the cookies."""
        access = _body_token(body, ("access_token", "token"))
        if access is None and (name := _cookie(cookies, ACCESS_COOKIES)):
            access = cookies[name]
        refresh, refresh_cookie = _body_token(body, ("refresh_token",)), None
        if refresh is None and (refresh_cookie := _cookie(cookies, REFRESH_COOKIES)):
            refresh = cookies[refresh_cookie]
        if not access:
            raise UnexpectedResponse(
                f"Whatomate {what} succeeded but returned no access token (neither in the body nor as a cookie)",
                vendor="whatomate",
            )
        core.add_secret(access)
        core.add_secret(refresh)
        self.tokens.access = access
        # A refresh that returns no new refresh token leaves the old one valid.
        if refresh:
            self.tokens.refresh, self.tokens.refresh_cookie = refresh, refresh_cookie


# --------------------------------------------------------------------------- helpers


def _data(body: Any) -> Mapping[str, Any]:
    """The ``data`` of the success envelope, or the body itself when it is not wrapped."""
    if not isinstance(body, Mapping):
        return {}
    data = body.get("data")
    if isinstance(data, Mapping):
        return data
    return body


def _items(data: Mapping[str, Any], *keys: str) -> list[Mapping[str, Any]]:
    for key in keys:
        value = data.get(key)
        if isinstance(value, list):
            return [v for v in value if isinstance(v, Mapping)]
    return []


def _identity(item: Mapping[str, Any]) -> Any:
    ident = item.get("id")
    return ident if ident is not None else repr(sorted(item.items(), key=lambda kv: str(kv[0])))


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


def _template_params(*sources: Mapping[str, Any] | None) -> dict[str, str]:
    merged: dict[str, str] = {}
    for source in sources:
        for key, value in (source or {}).items():
            if value is not None:
                merged[str(key)] = str(value)
    return merged


def recipient_rows(
    recipients: Iterable[Recipient | Mapping[str, Any] | str],
    *,
    default_region: str | None = None,
    template_params: Mapping[str, Any] | None = None,
) -> tuple[list[dict[str, Any]], list[InvalidPhone]]:
    """Validate and normalize every phone to E.164 *before* anything is sent.

    Accepts :class:`Recipient` objects, dicts (``phone``/``phone_number``, ``name``/``recipient_name``,
    ``params``/``template_params``) or bare phone strings. Returns the import body rows
    (``{phone_number, recipient_name, template_params{"1": …}}``) and the rejects with their
    0-based row index. Campaign-level ``template_params`` are defaults under each row's own.
    """
    rows: list[dict[str, Any]] = []
    invalid: list[InvalidPhone] = []
    for index, item in enumerate(recipients):
        if isinstance(item, Recipient):
            phone, name, params = item.phone, item.name, item.params
        elif isinstance(item, Mapping):
            phone = item.get("phone") or item.get("phone_number") or ""
            name = item.get("name") or item.get("recipient_name")
            params = item.get("params") or item.get("template_params") or {}
        else:
            phone, name, params = str(item), None, {}
        try:
            e164 = to_e164(str(phone), default_region)
        except ValueError as exc:
            invalid.append(InvalidPhone(index, str(phone), str(exc)))
            continue
        row: dict[str, Any] = {"phone_number": e164}
        if name:
            row["recipient_name"] = str(name)
        merged = _template_params(template_params, params if isinstance(params, Mapping) else None)
        if merged:
            row["template_params"] = merged
        rows.append(row)
    return rows, invalid


_insecure_warned: set[tuple[str, str]] = set()


def _warn_if_insecure(config: ConnectionConfig) -> None:
    parts = urlsplit(config.base_url)
    if parts.scheme != "http" or is_loopback(parts.hostname or ""):
        return
    key = (config.conn_id, parts.hostname or "")
    if key not in _insecure_warned:
        _insecure_warned.add(key)
        log.warning(
            "Connection %r talks plain http:// to %s (allow_insecure=true): credentials and recipient "
            "numbers cross the network unencrypted. Prefer https://.",
            config.conn_id,
            parts.hostname,
        )


# --------------------------------------------------------------------------- the hook


class WhatomateHook(WhatsAppCampaignHook):
    """Whatomate with an API key (``X-API-Key: whm_…``); also accepts a ``whatomate_jwt`` connection.

    Stats: ``read`` is reported as the server gives it, but real servers never update
    ``read_count`` (it stays 0), so ``read_rate`` is not meaningful (noted in ``details``).
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
    campaign_url_template = "{base}/campaigns/{campaign_id}"
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
        _warn_if_insecure(config)
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
        return self._run(self._campaign_flow(str(campaign_id)))  # type: ignore[no-any-return]

    async def aget_campaign(self, campaign_id: str) -> dict[str, Any]:
        return await self._arun(self._campaign_flow(str(campaign_id)))  # type: ignore[no-any-return]

    def update_campaign(self, campaign_id: str, **fields: Any) -> dict[str, Any]:
        """``PUT`` (drafts only: name, whatsapp_account, template_id, scheduled_at); returns the campaign."""
        return self._run(self._update_flow(str(campaign_id), fields))  # type: ignore[no-any-return]

    async def aupdate_campaign(self, campaign_id: str, **fields: Any) -> dict[str, Any]:
        return await self._arun(self._update_flow(str(campaign_id), fields))  # type: ignore[no-any-return]

    def delete_campaign(self, campaign_id: str) -> None:
        """Delete a campaign (not while queued/processing); a lost answer is judged by a lookup."""
        self._run(self._delete_flow(str(campaign_id)))

    async def adelete_campaign(self, campaign_id: str) -> None:
        await self._arun(self._delete_flow(str(campaign_id)))

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
        return self._run(self._import_public_flow(str(campaign_id), recipients, batch_size, default_region))  # type: ignore[no-any-return]

    async def aimport_recipients(
        self,
        campaign_id: str,
        recipients: Iterable[Recipient | Mapping[str, Any] | str],
        batch_size: int = DEFAULT_BATCH_SIZE,
        default_region: str | None = None,
    ) -> dict[str, Any]:
        flow = self._import_public_flow(str(campaign_id), recipients, batch_size, default_region)
        return await self._arun(flow)  # type: ignore[no-any-return]

    def list_recipients(self, campaign_id: str, status: str | None = None) -> list[dict[str, Any]]:
        """Per-recipient rows ``{phone, phone_number, recipient_name, status, error_message, …}``."""
        return list(self.iter_contacts(campaign_id, status=status))

    async def alist_recipients(self, campaign_id: str, status: str | None = None) -> list[dict[str, Any]]:
        rows: AsyncIterator[dict[str, Any]] = self.aiter_contacts(campaign_id, status=status)
        return [row async for row in rows]

    # ------------------------------------------------------------------ flows: reads

    def _campaign_flow(self, campaign_id: str) -> Flow[dict[str, Any]]:
        response = yield Call("GET", f"{CAMPAIGNS}/{campaign_id}")
        campaign = _data(response.body)
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
            response = yield Call("GET", path, params={**params, "page": page, "limit": PAGE_LIMIT})
            data = _data(response.body)
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
            f"{CAMPAIGNS}/{campaign_id}/recipients", "recipients", {}, emit=True, transform=shape
        )

    def _probe_flow(self) -> Flow[Any]:
        """The cheapest authenticated read: one campaign of the list."""
        yield Call("GET", CAMPAIGNS, params={"page": 1, "limit": 1})

    # ------------------------------------------------------------------ flows: writes

    def _update_flow(self, campaign_id: str, fields: Mapping[str, Any]) -> Flow[dict[str, Any]]:
        if not fields:
            raise ValidationError("update_campaign needs at least one field to change", vendor=self.vendor)
        response = yield Call("PUT", f"{CAMPAIGNS}/{campaign_id}", json=dict(fields))
        campaign = _data(response.body)
        if campaign.get("id") is None:  # some builds answer with a message only
            return (yield from self._campaign_flow(campaign_id))
        return dict(campaign)

    def _delete_flow(self, campaign_id: str) -> Flow[None]:
        try:
            yield Call("DELETE", f"{CAMPAIGNS}/{campaign_id}", idempotent=False)
        except VendorUnavailable as exc:
            if not exc.may_have_applied:
                raise
            try:
                yield Call("GET", f"{CAMPAIGNS}/{campaign_id}")
            except NotFound:
                self.log.info("whatomate: campaign %s is gone: the delete took effect", campaign_id)
                return
            raise

    def _import_public_flow(
        self,
        campaign_id: str,
        recipients: Iterable[Recipient | Mapping[str, Any] | str],
        batch_size: int,
        default_region: str | None,
    ) -> Flow[dict[str, Any]]:
        _check_batch_size(batch_size)
        rows, invalid = recipient_rows(recipients, default_region=default_region)
        result: dict[str, Any] = {
            "campaign_id": campaign_id,
            "added_count": 0,
            "total_recipients": None,
            "batches": 0,
            "invalid": _invalid_rows(invalid),
        }
        if invalid:
            self.log.warning(
                "whatomate: %d invalid phone number(s) not sent: %s",
                len(invalid),
                "; ".join(i.describe() for i in invalid[:10]),
            )
        if not rows:
            return result
        campaign = yield from self._campaign_flow(campaign_id)
        _require_draft(campaign, campaign_id)
        added, total, batches = yield from self._import_flow(
            campaign_id, rows, batch_size, to_count(campaign.get("total_recipients"))
        )
        result.update(added_count=added, total_recipients=total, batches=batches)
        return result

    def _import_flow(
        self, campaign_id: str, rows: list[dict[str, Any]], batch_size: int, total: int | None
    ) -> Flow[tuple[int, int | None, int]]:
        """POST the rows in batches (never an empty one). Import is not idempotent on the server,
        so a batch whose answer was lost is judged by the campaign's recipient count: applied →
        carry on; unchanged → resend once; anything else → raise."""
        added = 0
        batches = 0
        path = f"{CAMPAIGNS}/{campaign_id}/recipients/import"
        for batch in iter_chunks(rows, batch_size):
            call = Call("POST", path, json={"recipients": batch}, idempotent=False)
            try:
                response = yield call
            except VendorUnavailable as exc:
                if not exc.may_have_applied or total is None:
                    raise
                after = yield from self._campaign_flow(campaign_id)
                now = to_count(after.get("total_recipients"))
                if now == total + len(batch):
                    self.log.info("whatomate: import batch %d was applied although its answer was lost", batches + 1)
                    added, total, batches = added + len(batch), now, batches + 1
                    continue
                if now != total:
                    raise
                self.log.info("whatomate: import batch %d was not applied; sending it once more", batches + 1)
                response = yield call
            data = _data(response.body)
            count = to_count(data.get("added_count"))
            count = len(batch) if count is None else count
            added += count
            batches += 1
            server_total = to_count(data.get("total_recipients"))
            total = server_total if server_total is not None else (None if total is None else total + count)
        return added, total, batches

    def _find_by_marker(self, marker: str) -> Flow[dict[str, Any] | None]:
        tag = marker_tag(marker)
        found = yield from self._list_flow(marker, None, None)
        mine = [c for c in found if tag in str(c.get("name") or "")]
        if not mine:
            return None
        if len(mine) > 1:
            self.log.warning(
                "whatomate: %d campaigns carry marker %s; adopting the oldest (%s)",
                len(mine),
                marker,
                mine[-1].get("id"),
            )
        return mine[-1]  # the list is newest first

    def _create_flow(self, spec: CampaignSpec, marker: str | None) -> Flow[CreatedCampaign]:
        """Create a draft, then import its recipients.

        Idempotent with ``marker``: the name carries ``[marker]``; before creating, campaigns
        are listed (``search=marker``) and one carrying the marker is adopted. A create whose
        answer is lost is looked up again by marker. On adoption recipients are imported only
        while the campaign is still draft: none yet → all; exactly N full batches (an earlier
        try stopped between batches) → the rest; all present → none; any other count →
        :class:`InvalidState` (a person must look). Remaining window: two *concurrent* runs
        with the same marker can both create (list-then-create is not atomic on the server).
        ``spec.options``: ``batch_size`` (1,000), ``default_region`` for numbers without ``+``;
        any other option is sent in the create body.
        """
        options = dict(spec.options)
        batch_size = int(options.pop("batch_size", DEFAULT_BATCH_SIZE))
        default_region = options.pop("default_region", None)
        _check_batch_size(batch_size)
        name = _required(spec.name, "name")
        template = _required(spec.template, "template")
        account = spec.account or self.config.get_extra("whatsapp_account")
        if not account:
            raise ValidationError(
                f"Connection {self.conn_id!r} has no WhatsApp account: pass account=… or set the "
                "connection's extra 'whatsapp_account' (the account's name in Whatomate).",
                vendor=self.vendor,
            )
        rows, invalid = recipient_rows(
            spec.recipients, default_region=default_region, template_params=spec.template_params
        )
        if spec.recipients and not rows:
            shown = "; ".join(i.describe() for i in invalid[:10])
            raise ValidationError(
                f"no valid phone number among the recipients, nothing was sent: {shown}", vendor=self.vendor
            )
        if invalid:
            self.log.warning(
                "whatomate: %d invalid phone number(s) left out: %s",
                len(invalid),
                "; ".join(i.describe() for i in invalid[:10]),
            )
        if marker:
            existing = yield from self._find_by_marker(marker)
            if existing is not None:
                return (yield from self._adopt_flow(existing, rows, invalid, batch_size))
        body: dict[str, Any] = {
            "name": f"{name} {marker_tag(marker)}" if marker else name,
            "whatsapp_account": account,
            "template_id": template,
        }
        if spec.scheduled_at:
            body["scheduled_at"] = spec.scheduled_at
        body.update({k: v for k, v in options.items() if v is not None})
        try:
            response = yield Call("POST", CAMPAIGNS, json=body, idempotent=False)
        except VendorUnavailable as exc:
            if not (marker and exc.may_have_applied):
                raise
            existing = yield from self._find_by_marker(marker)
            if existing is None:
                raise
            self.log.warning(
                "whatomate: the create answer was lost but campaign %s exists; adopting it", existing.get("id")
            )
            return (yield from self._adopt_flow(existing, rows, invalid, batch_size))
        campaign = _data(response.body)
        campaign_id = campaign.get("id")
        if campaign_id is None:
            raise UnexpectedResponse("Whatomate created a campaign but returned no id", vendor=self.vendor)
        added, _, _ = yield from self._import_flow(str(campaign_id), rows, batch_size, 0)
        return CreatedCampaign(str(campaign_id), recipients_added=added, invalid=tuple(invalid))

    def _adopt_flow(
        self, found: Mapping[str, Any], rows: list[dict[str, Any]], invalid: list[InvalidPhone], batch_size: int
    ) -> Flow[CreatedCampaign]:
        campaign_id = str(found.get("id"))
        campaign = yield from self._campaign_flow(campaign_id)  # the list entry may be stale
        status = str(campaign.get("status") or "").lower()
        have = to_count(campaign.get("total_recipients")) or 0
        self.log.info(
            "whatomate: adopting campaign %s (%s, %d recipients) made by an earlier try", campaign_id, status, have
        )
        if status != "draft" or not rows or have == len(rows):
            return CreatedCampaign(campaign_id, adopted=True, recipients_added=have, invalid=tuple(invalid))
        if have % batch_size != 0 or have > len(rows):
            raise InvalidState(
                f"adopted campaign {campaign_id} holds {have} recipients but {len(rows)} were expected; "
                "an earlier try stopped mid-import. Check it in Whatomate (delete it to start over).",
                vendor=self.vendor,
            )
        _, total, _ = yield from self._import_flow(campaign_id, rows[have:], batch_size, have)
        return CreatedCampaign(campaign_id, adopted=True, recipients_added=total, invalid=tuple(invalid))

    # ------------------------------------------------------------------ flows: transitions

    def _start_flow(self, campaign_id: str) -> Flow[CampaignStats]:
        """Start (or resume) a campaign; already queued/processing/completed counts as started.

        Resuming a paused campaign resets the server's sent/delivered/failed counters.
        """
        return (
            yield from self._transition_flow(
                campaign_id,
                Call("POST", f"{CAMPAIGNS}/{campaign_id}/start", idempotent=False),
                allowed_from=frozenset({CampaignStatus.DRAFT, CampaignStatus.SCHEDULED, CampaignStatus.PAUSED}),
                already_done=frozenset({CampaignStatus.QUEUED, CampaignStatus.RUNNING, CampaignStatus.COMPLETED}),
                action="start",
            )
        )

    def _pause_flow(self, campaign_id: str) -> Flow[CampaignStats]:
        return (
            yield from self._transition_flow(
                campaign_id,
                Call("POST", f"{CAMPAIGNS}/{campaign_id}/pause", idempotent=False),
                allowed_from=frozenset({CampaignStatus.QUEUED, CampaignStatus.RUNNING}),
                already_done=frozenset({CampaignStatus.PAUSED}),
                action="pause",
            )
        )

    def _cancel_flow(self, campaign_id: str) -> Flow[CampaignStats]:
        return (
            yield from self._transition_flow(
                campaign_id,
                Call("POST", f"{CAMPAIGNS}/{campaign_id}/cancel", idempotent=False),
                allowed_from=frozenset(CampaignStatus) - {CampaignStatus.COMPLETED, CampaignStatus.CANCELLED},
                already_done=frozenset({CampaignStatus.CANCELLED}),
                action="cancel",
            )
        )


class WhatomateJwtHook(WhatomateHook):
    """Whatomate with email + password (JWT); tokens are cached per hook and refreshed on 401."""

    conn_type = "whatomate_jwt"
    default_conn_name = "whatomate_jwt_default"
    hook_name = "Whatomate (email + password)"


# --------------------------------------------------------------------------- small checks


def _required(value: Any, what: str) -> str:
    if value is None or not str(value).strip():
        raise ValidationError(f"Whatomate campaigns need a {what}", vendor="whatomate")
    return str(value)


def _check_batch_size(batch_size: int) -> None:
    if not 1 <= int(batch_size) <= 100_000:
        raise ValidationError(f"batch_size must be between 1 and 100,000, got {batch_size}", vendor="whatomate")


def _require_draft(campaign: Mapping[str, Any], campaign_id: str) -> None:
    status = str(campaign.get("status") or "")
    if status.lower() != "draft":
        raise InvalidState(
            f"recipients can only be added while campaign {campaign_id} is draft; it is {status!r}",
            vendor="whatomate",
        )


def _invalid_rows(invalid: list[InvalidPhone]) -> list[dict[str, Any]]:
    from airflow_provider_whatsapp_campaigns.phones import mask_phone

    return [{"row": i.row, "phone": mask_phone(i.value), "reason": i.reason} for i in invalid]


__all__ = [
    "WHATOMATE_ERRORS",
    "WHATOMATE_STATS",
    "WHATOMATE_STATUS",
    "WhatomateHook",
    "WhatomateJwtAuth",
    "WhatomateJwtHook",
    "recipient_rows",
]
