"""Flows and their drivers: logic written once as generators of steps (HTTP calls, or the wait loop's polls
and sleeps), run by a sync or an async driver that performs each step and throws typed errors back in."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, TypeVar
from urllib.parse import quote

from airflow_provider_whatsapp_campaigns.exceptions import UnexpectedResponse, ValidationError, WhatsAppCampaignError

T = TypeVar("T")


@dataclass(frozen=True)
class Call:
    """One HTTP request as a vendor flow describes it (no auth, no URL base, no I/O).

    ``path`` is a template: values for its ``{name}`` placeholders go in ``path_params`` and are
    percent-encoded here, so no id can add a segment, climb with ``..`` or start a query string.
    """

    method: str
    path: str
    json: Any = None
    params: Mapping[str, Any] | None = None
    data: Mapping[str, Any] | None = None
    authenticated: bool = True
    # False for requests that change state: after an ambiguous failure (5xx, reset after sending)
    # they are not resent blindly; the flow decides (e.g. by looking the campaign up).
    idempotent: bool = True
    headers: Mapping[str, str] | None = None
    path_params: Mapping[str, Any] | None = None
    # Reads a success body itself, from a binary file: the socket as the body arrives (sync) or the
    # received bytes (async). What it returns is Response.body and may be lazy (a huge answer parsed
    # while it streams): the flow must consume it before its next call. Bulk reads use it for a
    # typed fast path and for flat memory; anything it does not recognise goes to decode_body.
    read_body: Callable[[IO[bytes]], Any] | None = None
    # False for the sequential page reads of a bulk export: one request in flight at a time, not
    # counted against the connection's rate limit (which paces polls and state changes).
    throttled: bool = True

    def __post_init__(self) -> None:
        if self.path.startswith(("http://", "https://")):
            return  # a full URL from the connection (token URL), not built from ids
        path = build_path(self.path, self.path_params or {})
        object.__setattr__(self, "path", path)
        object.__setattr__(self, "path_params", None)


def build_path(template: str, params: Mapping[str, Any]) -> str:
    """Fill ``{name}`` placeholders with percent-encoded values, each exactly one path segment.

    The result is checked too: a ``.``/``..`` segment, ``?`` or ``#`` means a value reached the
    path without going through ``params`` (an f-string), and is refused before any request.
    """
    encoded: dict[str, str] = {}
    for name, value in params.items():
        text = "" if value is None else str(value)
        if not text.strip() or text in (".", ".."):
            raise ValidationError(f"{name} {value!r} cannot name a resource in a URL path: pass a non-empty id")
        encoded[name] = quote(text, safe="")
    path = template.format_map(encoded)
    if "?" in path or "#" in path or any(segment in (".", "..") for segment in path.split("/")):
        raise ValidationError(f"unsafe request path {path!r}: ids must be passed as path_params")
    return path


@dataclass(frozen=True)
class Response:
    status: int
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)
    cookies: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Emit:
    """Yielded by a streaming flow to hand one item to the consumer."""

    item: Any


Flow = Generator[Any, Any, T]


def _step(flow: Flow[Any], value: Any, error: BaseException | None) -> Any:
    return flow.throw(error) if error is not None else flow.send(value)


def drive_iter(flow: Flow[T], send: Callable[[Any], Any]) -> Generator[Any, None, T]:
    """Run a flow synchronously; yields what it emits and returns what it returns."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = _step(flow, value, error)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        value, error = None, None
        if isinstance(step, Emit):
            yield step.item
            continue
        try:
            value = send(step)
        except WhatsAppCampaignError as exc:
            error = exc


def drive(flow: Flow[T], send: Callable[[Any], Any]) -> T:
    runner = drive_iter(flow, send)
    while True:
        try:
            item = next(runner)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        raise UnexpectedResponse(f"flow emitted {type(item).__name__} where a single result was expected")


async def adrive_iter(flow: Flow[Any], send: Callable[[Any], Any]) -> AsyncGenerator[Any, None]:
    """Async twin of :func:`drive_iter` for what a flow emits (its return value is dropped: async
    generators cannot return one; use :func:`adrive` for results)."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = _step(flow, value, error)
        except StopIteration:
            return
        value, error = None, None
        if isinstance(step, Emit):
            yield step.item
            continue
        try:
            value = await send(step)
        except WhatsAppCampaignError as exc:
            error = exc


async def adrive(flow: Flow[T], send: Callable[[Any], Any]) -> T:
    """Run a flow to its result. A plain coroutine, not built on :func:`adrive_iter`: an async
    generator abandoned after its result would be finalized through the event loop on every call."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = _step(flow, value, error)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        value, error = None, None
        if isinstance(step, Emit):
            flow.close()
            raise UnexpectedResponse(f"flow emitted {type(step.item).__name__} where a single result was expected")
        try:
            value = await send(step)
        except WhatsAppCampaignError as exc:
            error = exc


def iter_chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Fixed-size batches; never yields an empty batch."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
