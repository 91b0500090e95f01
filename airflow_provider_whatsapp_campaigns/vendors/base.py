"""The vendor-neutral hook: verbs every operator calls, written once for sync and async.

A vendor hook only implements *flows* (``_stats_flow`` …) — generators yielding
:class:`~airflow_provider_whatsapp_campaigns._http.flow.Call` — and declares its tables. The public
sync methods and their async twins below run those flows through the one request core.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_whatsapp_campaigns._http.auth import Auth
from airflow_provider_whatsapp_campaigns._http.core import RequestCore
from airflow_provider_whatsapp_campaigns._http.errors import ErrorMap
from airflow_provider_whatsapp_campaigns._http.flow import Call, Flow, Response, adrive, adrive_iter, drive, drive_iter
from airflow_provider_whatsapp_campaigns._http.transport import shared_session
from airflow_provider_whatsapp_campaigns.config import ConnectionConfig
from airflow_provider_whatsapp_campaigns.connection_types import FORMS, ConnectionForm
from airflow_provider_whatsapp_campaigns.exceptions import (
    AuthenticationError,
    Interrupted,
    InvalidState,
    NotFound,
    PermissionDenied,
    UnsupportedOperation,
    ValidationError,
    VendorUnavailable,
    WhatsAppCampaignError,
)
from airflow_provider_whatsapp_campaigns.stats import CampaignStats, CampaignStatus, StatsMapping, lookup
from airflow_provider_whatsapp_campaigns.validation import TOKEN_ID, IdFormat, known_options
from airflow_provider_whatsapp_campaigns.vendors.spec import (
    CONTACT_COLUMNS,
    DEFAULT_CONTACT_FIELDS,
    CampaignSpec,
    ContactRow,
    CreatedCampaign,
)
from airflow_provider_whatsapp_campaigns.version_compat import AirflowNotFoundException, BaseHook

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Connection


class _HeldSession:
    """What :meth:`WhatsAppCampaignHook.async_session` returns (a class: every waiting trigger holds
    one for its whole wait, and a generator context manager is several times its size)."""

    __slots__ = ("hook", "use")

    def __init__(self, hook: WhatsAppCampaignHook) -> None:
        self.hook = hook

    async def __aenter__(self) -> WhatsAppCampaignHook:
        core = await self.hook.acore()
        self.use = shared_session(core.config.conn_id)
        await self.use.__aenter__()
        return self.hook

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        await self.use.__aexit__(exc_type, exc, tb)


def _undefined(conn_id: str) -> ValidationError:
    return ValidationError(
        f"Connection {conn_id!r} is not defined: add it (Admin → Connections, `airflow connections add`) "
        f"or set the environment variable AIRFLOW_CONN_{conn_id.upper()}."
    )


def read_connection(conn_id: str) -> Connection:
    """The Airflow connection; an undefined one is a typed error naming it, not Airflow's own."""
    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        raise _undefined(conn_id) from None


async def aread_connection(conn_id: str, hook: BaseHook | None = None) -> Connection:
    """Async twin of :func:`read_connection` (the triggerer's event loop must not block)."""
    from airflow.providers.common.compat.connection import get_async_connection

    try:
        return await get_async_connection(conn_id, hook=hook)
    except AirflowNotFoundException:
        raise _undefined(conn_id) from None


class WhatsAppCampaignHook(BaseHook):
    """Base of the vendor hooks. ``__init__`` does no I/O: the connection is read on first use."""

    conn_name_attr = "conn_id"
    default_conn_name: ClassVar[str] = "whatsapp_default"
    conn_type: ClassVar[str] = ""
    hook_name: ClassVar[str] = ""

    vendor: ClassVar[str] = ""
    vendor_label: ClassVar[str] = ""  # how people write the vendor's name, for messages
    default_rate_limit: ClassVar[float | None] = None
    errors: ClassVar[ErrorMap]
    stats_mapping: ClassVar[StatsMapping]
    supported: ClassVar[frozenset[str]] = frozenset({"stats"})
    # Vendor UI page of one campaign, when the vendor has one ("{base}" = the connection's host URL).
    campaign_url_template: ClassVar[str | None] = None
    # Per-campaign recipient cap, where the vendor has one (the create operator splits or refuses).
    max_recipients_per_campaign: ClassVar[int | None] = None
    # create_campaign(marker=...) finds and adopts the campaign an earlier try made (a searchable list).
    adopts_by_marker: ClassVar[bool] = False
    # Contact export columns: normalized name -> vendor field(s), first present wins.
    contact_fields: ClassVar[dict[str, str | tuple[str, ...]]] = {}
    # What a campaign id looks like; checked before any request (ids also go into URL paths).
    campaign_id_format: ClassVar[IdFormat] = TOKEN_ID
    # Keyword options get_campaign_stats / iter_contacts accept (anything else is refused).
    stats_options: ClassVar[frozenset[str]] = frozenset()
    contact_options: ClassVar[frozenset[str]] = frozenset()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        form = FORMS.get(cls.__dict__.get("conn_type", ""))
        if form is not None:
            # Airflow 2.11 reads these only from the class's own __dict__ (style.md P6).
            cls.get_connection_form_widgets = classmethod(lambda c: FORMS[c.conn_type].widgets())  # type: ignore[method-assign,assignment]
            cls.get_ui_field_behaviour = classmethod(  # type: ignore[method-assign,assignment]
                lambda c: FORMS[c.conn_type].ui_field_behaviour(snake_case=True)
            )

    def __init__(self, conn_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id or self.default_conn_name
        # A flag, not a threading.Event: on_kill's thread only sets it, and a triggerer holds a
        # hook per wait (an Event is a lock and a condition, ~1 KB each).
        self._stopped = False

    def stop(self) -> None:
        """Send no further request (an operator's ``on_kill``: Airflow 3 only calls it, the task goes on)."""
        self._stopped = True

    # ------------------------------------------------------------------ connection and core

    @classmethod
    def form(cls) -> ConnectionForm:
        return FORMS[cls.conn_type]

    @cached_property
    def connection(self) -> Connection:
        return read_connection(self.conn_id)

    async def aconnection(self) -> Connection:
        """Async twin of :attr:`connection`, filling the same cache (sync lookups deadlock triggers)."""
        if "connection" not in self.__dict__:
            self.__dict__["connection"] = await aread_connection(self.conn_id, hook=self)
        return self.__dict__["connection"]

    def _config_from(self, conn: Connection, extra: Mapping[str, Any] | None = None) -> ConnectionConfig:
        actual = getattr(conn, "conn_type", None)
        if actual and actual not in self.accepted_conn_types():
            raise ValidationError(
                f"Connection {self.conn_id!r} is of type {actual!r}, but {type(self).__name__} needs "
                f"{' or '.join(self.accepted_conn_types())}; use get_hook() to pick the hook from the connection."
            )
        return ConnectionConfig.from_connection(
            conn,
            conn_type=self.conn_type,
            default_host=self.form().default_host,
            default_rate_limit=self.default_rate_limit,
            extra=extra,
        )

    @classmethod
    def accepted_conn_types(cls) -> tuple[str, ...]:
        return (cls.conn_type,)

    @cached_property
    def config(self) -> ConnectionConfig:
        return self._config_from(self.connection)

    @cached_property
    def core(self) -> RequestCore:
        core = RequestCore(self.config, self.build_auth(self.config), self.errors)
        core.mask_known_secrets()
        return core

    async def acore(self) -> RequestCore:
        """The core for an event loop: connection and extras read with the async API (a slow secrets
        backend must not block every trigger), and no synchronous secret masking (they are masked)."""
        if "core" not in self.__dict__:
            config = self.__dict__.get("config")
            if config is None:
                from airflow.providers.common.compat.connection import get_async_extra_dejson

                conn = await self.aconnection()
                config = self._config_from(conn, extra=await get_async_extra_dejson(conn))
            self.__dict__["config"] = config
            self.__dict__["core"] = RequestCore(config, self.build_auth(config), self.errors)
        return self.__dict__["core"]

    def build_auth(self, config: ConnectionConfig) -> Auth:
        raise NotImplementedError

    def async_session(self) -> contextlib.AbstractAsyncContextManager[WhatsAppCampaignHook]:
        """Hold the shared aiohttp session open across many calls (a trigger's whole wait)."""
        return _HeldSession(self)

    def close(self) -> None:
        if "core" in self.__dict__:
            self.core.close()

    def scrub(self, text: str) -> str:
        """``text`` with every form of this connection's secrets and every phone number masked."""
        core = self.__dict__.get("core")
        return text if core is None else core.scrub(text)

    # ------------------------------------------------------------------ running flows

    def _send(self, call: Call) -> Response:
        if self._stopped:
            where = call.path.split("?")[0]
            raise Interrupted(f"the task was killed: {self.vendor} {call.method} {where} was not sent", vendor=self.vendor)
        return self.core.request(call)

    def _run(self, flow: Flow[Any]) -> Any:
        """Run a flow; its result and any error it raises leave here scrubbed of every secret form."""
        core = self.core
        try:
            return core.scrub_result(drive(flow, self._send))
        except WhatsAppCampaignError as exc:
            exc.scrubbed(core.scrub)
            raise

    async def _arun(self, flow: Flow[Any]) -> Any:
        core = await self.acore()
        try:
            return core.scrub_result(await adrive(flow, core.arequest))
        except WhatsAppCampaignError as exc:
            exc.scrubbed(core.scrub)
            raise

    def check_campaign_id(self, campaign_id: Any) -> str:
        """The id as the vendor's API takes it; anything else is refused before any request."""
        return self.campaign_id_format.check(campaign_id, self.vendor)

    def require_supported(self, verb: str) -> None:
        """Raise before any request when the vendor's API has no such verb."""
        if verb not in self.supported:
            raise UnsupportedOperation(
                f"{self.vendor} has no API to {verb} a campaign (supported here: {', '.join(sorted(self.supported))})",
                vendor=self.vendor,
            )

    # ------------------------------------------------------------------ vendor-neutral verbs

    def create_campaign(self, spec: CampaignSpec, *, marker: str | None = None) -> CreatedCampaign:
        """Create a campaign; ``marker`` makes a retried call adopt the campaign it already made."""
        self.require_supported("create")
        return self._run(self._create_flow(spec, marker))  # type: ignore[no-any-return]

    async def acreate_campaign(self, spec: CampaignSpec, *, marker: str | None = None) -> CreatedCampaign:
        self.require_supported("create")
        return await self._arun(self._create_flow(spec, marker))  # type: ignore[no-any-return]

    def start_campaign(self, campaign_id: str) -> CampaignStats:
        """Start (or send) a campaign; one that is already running or done counts as started."""
        self.require_supported("start")
        return self._run(self._start_flow(self.check_campaign_id(campaign_id)))  # type: ignore[no-any-return]

    async def astart_campaign(self, campaign_id: str) -> CampaignStats:
        self.require_supported("start")
        return await self._arun(self._start_flow(self.check_campaign_id(campaign_id)))  # type: ignore[no-any-return]

    def get_campaign_stats(self, campaign_id: str, **options: Any) -> CampaignStats:
        known_options(options, "stats_options", self.stats_options, self.vendor)
        return self._run(self._stats_flow(self.check_campaign_id(campaign_id), **options))  # type: ignore[no-any-return]

    async def aget_campaign_stats(self, campaign_id: str, **options: Any) -> CampaignStats:
        known_options(options, "stats_options", self.stats_options, self.vendor)
        return await self._arun(self._stats_flow(self.check_campaign_id(campaign_id), **options))  # type: ignore[no-any-return]

    def pause_campaign(self, campaign_id: str) -> CampaignStats:
        self.require_supported("pause")
        return self._run(self._pause_flow(self.check_campaign_id(campaign_id)))  # type: ignore[no-any-return]

    async def apause_campaign(self, campaign_id: str) -> CampaignStats:
        self.require_supported("pause")
        return await self._arun(self._pause_flow(self.check_campaign_id(campaign_id)))  # type: ignore[no-any-return]

    def cancel_campaign(self, campaign_id: str) -> CampaignStats:
        self.require_supported("cancel")
        return self._run(self._cancel_flow(self.check_campaign_id(campaign_id)))  # type: ignore[no-any-return]

    async def acancel_campaign(self, campaign_id: str) -> CampaignStats:
        self.require_supported("cancel")
        return await self._arun(self._cancel_flow(self.check_campaign_id(campaign_id)))  # type: ignore[no-any-return]

    def iter_contact_pages(self, campaign_id: str, **options: Any) -> Iterator[list[ContactRow]]:
        """Every recipient as :class:`ContactRow` pages, one vendor page at a time (bounded memory)."""
        for rows, lines in self.iter_contact_lines(campaign_id, **options):
            del lines  # not kept while the next page is read (see the export operator)
            yield rows

    def iter_contact_lines(self, campaign_id: str, **options: Any) -> Iterator[tuple[list[ContactRow], bytes]]:
        """Each page as rows and as JSON lines (one :class:`ContactRow` object a line), both checked
        for secrets: a JSON-lines export writes the lines as they are."""
        self.require_supported("contacts")
        known_options(options, "contact_options", self.contact_options, self.vendor)
        flow = self._contacts_flow(self.check_campaign_id(campaign_id), **options)
        core = self.core
        try:
            for page in drive_iter(flow, self._send):
                yield core.scrub_page(page)
        except WhatsAppCampaignError as exc:
            exc.scrubbed(core.scrub)
            raise

    def iter_contacts(self, campaign_id: str, **options: Any) -> Iterator[dict[str, Any]]:
        """Per-recipient rows in the export columns (:data:`CONTACT_COLUMNS`), page by page."""
        for page in self.iter_contact_pages(campaign_id, **options):
            for row in page:
                yield row.to_dict()

    async def aiter_contacts(self, campaign_id: str, **options: Any) -> AsyncIterator[dict[str, Any]]:
        self.require_supported("contacts")
        known_options(options, "contact_options", self.contact_options, self.vendor)
        core = await self.acore()
        pages = adrive_iter(self._contacts_flow(self.check_campaign_id(campaign_id), **options), core.arequest)
        try:
            async for page in pages:
                rows, _ = core.scrub_page(page)
                for row in rows:
                    yield row.to_dict()
        except WhatsAppCampaignError as exc:
            exc.scrubbed(core.scrub)
            raise
        finally:
            await pages.aclose()

    def contact_rows(self, items: Iterable[Any]) -> list[ContactRow]:
        """Vendor recipient objects → export rows through ``contact_fields`` (objects that are not
        mappings are skipped): the tolerant path, for pages a typed decoder did not take."""
        fields = {**DEFAULT_CONTACT_FIELDS, **self.contact_fields}
        paths = [fields.get(column, column) for column in CONTACT_COLUMNS]
        return [ContactRow(*(lookup(item, path) for path in paths)) for item in items if isinstance(item, Mapping)]

    def campaign_url(self, campaign_id: str) -> str | None:
        if not self.campaign_url_template:
            return None
        return self.campaign_url_template.format(base=self.config.base_url, campaign_id=campaign_id)

    # ------------------------------------------------------------------ connection test

    def test_connection(self) -> tuple[bool, str]:
        """One cheap authenticated read; the message says what to fix."""
        label = self.vendor_label or self.vendor
        try:
            self._run(self._probe_flow())
        except AuthenticationError as exc:
            return False, f"Authentication failed: {label} rejected the credentials. {exc.message}"
        except PermissionDenied as exc:
            return False, self.explain_denied(exc)
        except VendorUnavailable as exc:
            return False, f"Could not reach {label}: {exc.message}"
        except WhatsAppCampaignError as exc:
            return False, f"{label}: {exc.message}"
        return True, f"Connection to {label} at {self.config.base_url} works."

    def explain_denied(self, exc: PermissionDenied) -> str:
        """What a person should do about a refusal (vendors with specific codes say more)."""
        return f"The credentials work but {self.vendor_label or self.vendor} denies access: {exc.message}"

    # ------------------------------------------------------------------ shared flow pieces

    def _transition_flow(
        self,
        campaign_id: str,
        call: Call,
        *,
        allowed_from: frozenset[CampaignStatus],
        already_done: frozenset[CampaignStatus],
        action: str,
        refusal_means_done: Callable[[WhatsAppCampaignError], bool] = lambda exc: False,
    ) -> Flow[CampaignStats]:
        """Read the state, act only if needed, and judge a refused or lost answer by the state after.

        Vendors offer no idempotency keys, so "already started" (or a start whose answer was
        lost on the wire) is recognised by the campaign's status, never by resending blindly.
        ``refusal_means_done``: the vendor's refusal itself says the action already happened
        (Waplify: "already been sent" while its status still reads ``draft``).
        """
        stats = yield from self._stats_flow(campaign_id)
        if stats.status in already_done:
            self.log.info(
                "%s campaign %s is already %s: nothing to %s", self.vendor, campaign_id, stats.vendor_status, action
            )
            return stats
        if stats.status not in allowed_from:
            raise InvalidState(
                f"cannot {action} campaign {campaign_id} while it is {stats.vendor_status!r}",
                vendor=self.vendor,
            )
        try:
            yield call
        except (ValidationError, InvalidState, VendorUnavailable) as exc:
            if isinstance(exc, VendorUnavailable) and not exc.may_have_applied:
                raise
            after = yield from self._stats_flow(campaign_id)
            if refusal_means_done(exc):
                self.log.info(
                    "%s campaign %s: the vendor says an earlier %s took effect (%s); its status reads %s",
                    self.vendor, campaign_id, action, exc.message, self.scrub(str(after.vendor_status)),
                )
                return after
            if after.status not in already_done:
                raise
            self.log.info(
                "%s campaign %s is now %s: the %s took effect", self.vendor, campaign_id, after.vendor_status, action
            )
            return after
        return (yield from self._stats_flow(campaign_id))

    # ------------------------------------------------------------------ flows (vendor hooks override)

    def _probe_flow(self) -> Flow[Any]:
        """Cheapest authenticated call; a NotFound answer still proves the credentials work."""
        with contextlib.suppress(NotFound):
            yield from self._stats_flow("1")

    def _stats_flow(self, campaign_id: str, **options: Any) -> Flow[CampaignStats]:
        raise NotImplementedError
        yield  # pragma: no cover

    def _create_flow(self, spec: CampaignSpec, marker: str | None) -> Flow[CreatedCampaign]:
        raise NotImplementedError
        yield  # pragma: no cover

    def _start_flow(self, campaign_id: str) -> Flow[CampaignStats]:
        raise NotImplementedError
        yield  # pragma: no cover

    def _pause_flow(self, campaign_id: str) -> Flow[CampaignStats]:
        raise NotImplementedError
        yield  # pragma: no cover

    def _cancel_flow(self, campaign_id: str) -> Flow[CampaignStats]:
        raise NotImplementedError
        yield  # pragma: no cover

    def _contacts_flow(self, campaign_id: str, **options: Any) -> Flow[None]:
        """Emit every recipient as pages: ``Emit(list[ContactRow])``."""
        raise NotImplementedError
        yield  # pragma: no cover
