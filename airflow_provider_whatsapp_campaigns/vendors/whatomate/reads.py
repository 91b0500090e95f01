"""Whatomate's read flows (old and new server builds: paged or not, filtered or not)."""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any

import msgspec

from airflow_provider_whatsapp_campaigns._http.flow import Call, Emit, Flow
from airflow_provider_whatsapp_campaigns._http.transport import decode_body
from airflow_provider_whatsapp_campaigns.exceptions import UnexpectedResponse, ValidationError
from airflow_provider_whatsapp_campaigns.stats import CampaignStats, to_count
from airflow_provider_whatsapp_campaigns.vendors.base import WhatsAppCampaignHook
from airflow_provider_whatsapp_campaigns.vendors.spec import ContactRow
from airflow_provider_whatsapp_campaigns.vendors.whatomate.tables import READ_COUNT_NOTE, unwrap_envelope
from airflow_provider_whatsapp_campaigns.vendors.whatomate.templates import list_templates_flow, pick_template

CAMPAIGNS = "/api/campaigns"
ACCOUNTS = "/api/accounts"
ONE_CAMPAIGN = CAMPAIGNS + "/{campaign_id}"


LIST_PAGE_LIMIT = 100  # newer servers cap a campaign list page at 100
RECIPIENTS_PAGE_LIMIT = 1_000  # and a recipients page at 1,000 (older servers send every recipient at once)
MAX_PAGES = 10_000  # a server that pages badly must never make us loop forever


@dataclass(frozen=True)
class _Page:
    """One page as the paging loop needs it; ``number``/``limit`` are what the server echoed, if anything.

    ``streamed``: ``items`` is a lazy iterator of item lists parsed while a huge answer arrives
    (everything the server has, in one response).
    """

    items: Any
    total: int | None
    number: int | None
    limit: int | None
    streamed: bool = False


class _Recipient(
    msgspec.Struct,
    rename={
        "recipient_id": "id",
        "phone": "phone_number",
        "name": "recipient_name",
        "error": "error_message",
        "message_id": "whatsapp_message_id",
    },
):
    """A recipient as the server names its fields, in :class:`ContactRow`'s field order."""

    recipient_id: Any = None
    phone: Any = None
    name: Any = None
    status: Any = None
    error: Any = None
    message_id: Any = None
    sent_at: Any = None
    delivered_at: Any = None
    read_at: Any = None
    replied_at: Any = None


class _RecipientsData(msgspec.Struct):
    recipients: list[_Recipient] | None = None
    total: Any = None
    page: Any = None
    limit: Any = None


class _RecipientsBody(msgspec.Struct):
    status: Any = None
    data: _RecipientsData | None = None


_RECIPIENTS_DECODER = msgspec.json.Decoder(_RecipientsBody)


#: A page of 1,000 recipients is about 300 KB. A bigger answer is an older server sending every
#: recipient at once: it is parsed as it streams in (ijson), so memory stays flat in its size.
IN_MEMORY_BODY = 16 * 2**20
STREAMED_PAGE = 1_000
#: The body is read in chunks of at most this: a buffered stream asked for IN_MEMORY_BODY bytes at
#: once allocates all of them for every 300 KB page (half of a page's read time, measured).
READ_CHUNK = 2**20


def read_recipients_body(stream: IO[bytes]) -> Any:
    """``Call.read_body`` for recipients: a page decoded straight into typed rows (msgspec), or a
    huge one-shot answer streamed; any other shape goes to the generic decoder."""
    chunks: list[bytes] = []
    size = 0
    while size < IN_MEMORY_BODY:
        chunk = stream.read(min(IN_MEMORY_BODY - size, READ_CHUNK))
        if not chunk:
            content = b"".join(chunks)
            return _decode_page(content) or decode_body(content)
        chunks.append(chunk)
        size += len(chunk)
    return _StreamedRecipients(_Prefixed(b"".join(chunks), stream))


def _typed_rows(recipients: list[_Recipient]) -> list[ContactRow]:
    return [ContactRow(*msgspec.structs.astuple(r)) for r in recipients]


def _streamed_rows(items: list[Any], tolerant: Callable[[list[Any]], list[ContactRow]]) -> list[ContactRow]:
    """A batch of a streamed answer's recipients as rows: converted in C when every item is an
    object (about 20× faster than the tolerant path, which a batch holding anything else takes)."""
    try:
        return _typed_rows(msgspec.convert(items, list[_Recipient]))
    except msgspec.ValidationError:
        return tolerant(items)


def _decode_page(content: bytes) -> _RecipientsData | None:
    try:
        body = _RECIPIENTS_DECODER.decode(content)
    except msgspec.MsgspecError:
        return None
    if body.data is None or body.data.recipients is None or str(body.status).lower() == "error":
        return None
    return body.data


class _Prefixed(io.RawIOBase):
    """The bytes already read, then the rest of the stream."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        super().__init__()
        self.head, self.rest = memoryview(head), rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.head:
            n = min(len(buffer), len(self.head))
            buffer[:n] = self.head[:n]
            self.head = self.head[n:]
            return n
        data = self.rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class _StreamedRecipients:
    """Every recipient of an older server's one-shot answer, parsed while it arrives."""

    def __init__(self, stream: io.RawIOBase) -> None:
        self.stream = stream

    def pages(self, to_rows: Callable[[list[Any]], list[ContactRow]]) -> Iterator[list[ContactRow]]:
        import ijson

        batch: list[Any] = []
        try:
            for item in ijson.items(self.stream, "data.recipients.item"):
                batch.append(item)
                if len(batch) >= STREAMED_PAGE:
                    yield to_rows(batch)
                    batch = []
        except ijson.JSONError as exc:
            raise UnexpectedResponse(
                f"Whatomate's recipients answer is not valid JSON ({type(exc).__name__})", vendor="whatomate"
            ) from None
        if batch:
            yield to_rows(batch)


def _items(data: Mapping[str, Any], *keys: str) -> list[Mapping[str, Any]]:
    for key in keys:
        value = data.get(key)
        if isinstance(value, list):
            return [v for v in value if isinstance(v, Mapping)]
    return []


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
        params: Mapping[str, Any],
        *,
        limit: int,
        read: Callable[[Any], _Page],
        identity: Callable[[Any], Any],
        emit: bool,
        path_params: Mapping[str, Any] | None = None,
        read_body: Callable[[IO[bytes]], Any] | None = None,
        select: Callable[[list[Any]], list[Any]] | None = None,
    ) -> Flow[list[Any]]:
        """Page through ``path`` defensively, judging each page by itself (memory stays flat).

        Newer servers page (``page``/``limit``, echoed with ``total``); older ones ignore ``page``
        and send everything at once. Stops on an empty page, once ``total`` items arrived, on a
        short page when no total is given (a server may cap ``limit`` without saying so), when the server echoes another page number than asked, or when a page starts
        with the previous page's first item (a server ignoring ``page`` repeats itself) — or at
        MAX_PAGES. ``emit`` streams each page (``Emit(list)``) instead of collecting the items;
        ``select`` filters a page's items on the way out (after the stop rules counted them).
        Page reads are sequential and not throttled (``Call.throttled``).
        """
        collected: list[Any] = []
        count = 0
        previous_first: Any = None
        for number in range(1, MAX_PAGES + 1):
            call = Call(
                "GET",
                path,
                params={**params, "page": number, "limit": limit},
                path_params=path_params,
                read_body=read_body,
                throttled=False,
            )
            response = yield call
            page = read(response.body)
            if page.streamed:  # everything the server has, in one answer
                for items in page.items:
                    chosen = items if select is None else select(items)
                    if emit:
                        yield Emit(chosen)
                    else:
                        collected.extend(chosen)
                break
            if not page.items:
                break
            first = identity(page.items[0])
            repeated = first is not None and first == previous_first
            if number > 1 and (repeated or (page.number is not None and page.number != number)):
                self.log.debug("whatomate: %s ignores paging (page %d repeats an earlier one)", path, number)
                break
            previous_first = first
            count += len(page.items)
            chosen = page.items if select is None else select(page.items)
            if emit:
                yield Emit(chosen)
            else:
                collected.extend(chosen)
            if page.total is not None and count >= page.total:
                break
            if page.total is None and len(page.items) < (page.limit or limit):
                break
        else:
            self.log.warning("whatomate: stopped paging %s after %d pages", path, MAX_PAGES)
        return collected

    def _list_flow(
        self, search: str | None, status: str | None, whatsapp_account: str | None
    ) -> Flow[list[dict[str, Any]]]:
        params = {"search": search, "status": status, "whatsapp_account": whatsapp_account}
        params = {k: v for k, v in params.items() if v}

        def read(body: Any) -> _Page:
            data = unwrap_envelope(body)
            items = [dict(item) for item in _items(data, "campaigns", "items")]
            return _Page(items, to_count(data.get("total")), to_count(data.get("page")), to_count(data.get("limit")))

        campaigns = yield from self._paged_flow(
            CAMPAIGNS, params, limit=LIST_PAGE_LIMIT, read=read, identity=lambda c: c.get("id"), emit=False
        )
        return [c for c in campaigns if _matches(c, search, status, whatsapp_account)]

    def _contacts_flow(self, campaign_id: str, *, status: str | None = None, **options: Any) -> Flow[None]:
        """Recipients as :class:`ContactRow` pages (``recipient_id`` is the server's recipient id).

        Pages of 1,000 are decoded straight into rows (msgspec); a page that is not the expected
        shape goes through the generic decoder and ``contact_rows``. Real servers answer unpaged
        (one call: parsed while it streams in when it is big); newer ones are paged through.
        ``status`` (pending/sent/failed) filters here.
        """
        wanted = status.lower() if status is not None else None

        def read(body: Any) -> _Page:
            if isinstance(body, _StreamedRecipients):
                rows_of = functools.partial(_streamed_rows, tolerant=self.contact_rows)
                return _Page(body.pages(rows_of), None, None, None, streamed=True)
            if isinstance(body, _RecipientsData):
                rows = _typed_rows(body.recipients or [])
                data: Any = body
                total, number, limit = to_count(data.total), to_count(data.page), to_count(data.limit)
            else:
                mapping = unwrap_envelope(body)
                rows = self.contact_rows(_items(mapping, "recipients", "items"))
                total, number, limit = (to_count(mapping.get(k)) for k in ("total", "page", "limit"))
            return _Page(rows, total, number, limit)

        def select(rows: list[ContactRow]) -> list[ContactRow]:
            return rows if wanted is None else [row for row in rows if str(row.status or "").lower() == wanted]

        yield from self._paged_flow(
            ONE_CAMPAIGN + "/recipients",
            {},
            limit=RECIPIENTS_PAGE_LIMIT,
            read=read,
            identity=lambda row: (row.recipient_id, row.phone),
            emit=True,
            read_body=read_recipients_body,
            select=select,
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
