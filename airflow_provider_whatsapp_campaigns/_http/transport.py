"""Transport pieces: the shared aiohttp sessions and the helpers both transports use.

What is read from a vendor is bounded (:data:`MAX_BODY_BYTES`, :data:`MAX_JSON_DEPTH`), what is
sent is checked (headers), and both transports trust the same CAs (:func:`ca_bundle`).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http.cookiejar import CookieJar
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import msgspec

from airflow_provider_whatsapp_campaigns import __version__
from airflow_provider_whatsapp_campaigns._http.state import STATE
from airflow_provider_whatsapp_campaigns.exceptions import VendorUnavailable

if TYPE_CHECKING:  # aiohttp is imported by the first async request, not by DAG files
    import aiohttp

USER_AGENT = f"airflow-provider-whatsapp-campaigns/{__version__}"


@dataclass
class _Lease:
    session: aiohttp.ClientSession
    users: int = 0


class _SessionUse:
    """What :func:`shared_session` returns. A class, not a generator context manager: every async
    request enters one, and every waiting trigger holds one for its whole wait."""

    __slots__ = ("key", "lease")

    def __init__(self, key: str) -> None:
        self.key = key

    async def __aenter__(self) -> aiohttp.ClientSession:
        lease = STATE.get("session", self.key, per_loop=True)
        if lease is None or lease.session.closed:
            import aiohttp

            session = aiohttp.ClientSession(
                cookie_jar=aiohttp.DummyCookieJar(),
                headers={"User-Agent": USER_AGENT},
                connector=aiohttp.TCPConnector(limit=100),
            )
            lease = STATE.put("session", self.key, _Lease(session), per_loop=True)
        lease.users += 1
        self.lease = lease
        return lease.session

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        lease = self.lease
        lease.users -= 1
        if lease.users == 0:
            STATE.discard("session", self.key, lease, per_loop=True)
            await lease.session.close()


def shared_session(key: str) -> contextlib.AbstractAsyncContextManager[aiohttp.ClientSession]:
    """One ``aiohttp`` session per event loop and connection, closed when its last user leaves."""
    return _SessionUse(key)


def open_session_count() -> int:
    """How many shared sessions the running loop holds (for tests and benchmarks)."""
    return STATE.size("session", per_loop=True)


def aiohttp_params(params: Mapping[str, Any] | None) -> dict[str, str] | None:
    # aiohttp (unlike requests) rejects non-str values and drops nothing: normalise like requests.
    if params is None:
        return None
    return {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in params.items() if v is not None}


def lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


# --------------------------------------------------------------------------- bounded reading

#: Larger answers are refused unread: no vendor page comes near it, and parsing has to fit in memory.
MAX_BODY_BYTES = 64 * 1024 * 1024
#: Vendor documents nest 4 levels; deeper ones are refused instead of recursing into them.
MAX_JSON_DEPTH = 64
_CHUNK = 64 * 1024


class UnreadableAnswer(ValueError):
    """An answer this provider refuses to parse (too large, nested too deeply)."""


def _too_large() -> UnreadableAnswer:
    return UnreadableAnswer(f"the answer is larger than {MAX_BODY_BYTES // (1024 * 1024)} MiB; refused unread")


def _check_declared(content_length: str | None) -> None:
    if content_length and content_length.strip().isdigit() and int(content_length) > MAX_BODY_BYTES:
        raise _too_large()


def read_capped(content_length: str | None, chunks: Iterable[bytes]) -> bytes:
    """The body, at most :data:`MAX_BODY_BYTES` (decoded) bytes, else :class:`UnreadableAnswer`."""
    _check_declared(content_length)
    body = bytearray()
    for chunk in chunks:
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise _too_large()
    return bytes(body)


async def aread_capped(raw: aiohttp.ClientResponse) -> bytes:
    """Async twin of :func:`read_capped`."""
    _check_declared(raw.headers.get("content-length"))
    body = bytearray()
    async for chunk in raw.content.iter_chunked(_CHUNK):
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise _too_large()
    return bytes(body)


class BodyStream(io.RawIOBase):
    """A response body read as it arrives (for ``Call.read_body``); not held, so not capped by
    :data:`MAX_BODY_BYTES`. A transfer that breaks off is a typed VendorUnavailable."""

    def __init__(self, raw: Any, vendor: str, host: str) -> None:
        super().__init__()
        self.raw, self.vendor, self.host = raw, vendor, host

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        import http.client

        import urllib3

        try:
            data = self.raw.read(len(buffer), decode_content=True)
        except (OSError, http.client.HTTPException, urllib3.exceptions.HTTPError) as exc:
            raise VendorUnavailable(
                f"the answer from {self.host} broke off ({type(exc).__name__}); try again", vendor=self.vendor
            ) from None
        if not data:
            self.raw.release_conn()  # read to its end: the connection can serve the next page
        buffer[: len(data)] = data
        return len(data)


_JSON = msgspec.json.Decoder()


def load_json(text: str | bytes) -> Any:
    """``json.loads`` that refuses documents nested deeper than :data:`MAX_JSON_DEPTH` levels.

    Used for every JSON this provider parses from outside (vendor answers, recipient lists): deep
    nesting would otherwise surface as ``RecursionError`` here or in any code walking the result.
    """
    try:
        value = json.loads(text)
    except RecursionError:
        raise UnreadableAnswer(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    if isinstance(text, str) and text.count("{") + text.count("[") <= MAX_JSON_DEPTH:
        return value  # too few brackets to nest that deep (a status poll): nothing to walk
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        for child in children:
            if isinstance(child, (dict, list)):
                if depth >= MAX_JSON_DEPTH:
                    raise UnreadableAnswer(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
                stack.append((child, depth + 1))
    return value


def decode_body(content: bytes) -> Any:
    """JSON when the body parses as JSON (whatever the content type claims), else the text."""
    if not content:
        return None
    if content.count(b"{") + content.count(b"[") <= MAX_JSON_DEPTH:
        # Too few brackets to pass the depth limit (every status poll): msgspec's C decoder first, 4x
        # json's speed; what it refuses (NaN, 1e400, lone surrogates, bad UTF-8 ...) gets json's verdict.
        try:
            return _JSON.decode(content)
        except ValueError:  # msgspec.DecodeError, or UnicodeDecodeError inside a string
            pass
    text = content.decode("utf-8", errors="replace")
    try:
        return load_json(text)
    except UnreadableAnswer:
        raise
    except ValueError:
        return text


def jar_dict(jar: CookieJar) -> dict[str, str]:
    """Cookie name -> value; with duplicate names (other paths or domains) the last one wins.

    ``dict(requests_jar)`` raises ``CookieConflictError`` on duplicates instead.
    """
    return {cookie.name: cookie.value or "" for cookie in jar}


# --------------------------------------------------------------------------- what is sent

_ILLEGAL_IN_HEADER = re.compile(r"[\r\n\x00]")


def header_problem(headers: Mapping[str, str]) -> str | None:
    """The name of a header whose value HTTP cannot carry (line break, NUL, non-Latin-1), if any."""
    for name, value in headers.items():
        if _ILLEGAL_IN_HEADER.search(value):
            return name
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            return name
    return None


def redirect_target(url: str, location: str | None) -> str:
    """Where a redirect points, as ``scheme://host:port`` (never a path, query or userinfo)."""
    if not location:
        return "nowhere (no Location header)"
    try:
        parts = urlsplit(urljoin(url, location))
        host = parts.hostname or "?"
        port = parts.port
    except ValueError:
        return "an unreadable Location"
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


# --------------------------------------------------------------------------- TLS trust (one for both transports)

CA_ENVIRONMENT = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR")


def ca_bundle(verify: bool | str) -> str | None:
    """The CA bundle (file or directory) both transports trust; None when verification is off.

    ``verify`` as a path wins; then the variables requests and OpenSSL read, in this order:
    ``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``, ``SSL_CERT_FILE``, ``SSL_CERT_DIR``; else certifi's
    bundle (requests' default). A task and its deferred trigger thus trust exactly the same CAs.
    """
    if verify is False:
        return None
    if isinstance(verify, str):
        return verify
    import certifi

    return next((os.environ[name] for name in CA_ENVIRONMENT if os.environ.get(name)), certifi.where())


def ssl_context(bundle: str) -> ssl.SSLContext:
    """A verifying client context for ``bundle``, built once per process in the process state
    (loading certifi takes milliseconds). Raises ``OSError`` (missing) or ``ssl.SSLError`` (not PEM).
    """

    def load() -> ssl.SSLContext:
        if os.path.isdir(bundle):
            return ssl.create_default_context(capath=bundle)
        return ssl.create_default_context(cafile=bundle)

    return STATE.setdefault("ssl-context", bundle, load)


def certificate_failure(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    """The certificate verification error somewhere in a transport exception's chain, if any."""
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        node = stack.pop()
        if not isinstance(node, BaseException) or id(node) in seen:
            continue
        seen.add(id(node))
        inner = getattr(node, "certificate_error", None)  # aiohttp's wrapper is a subclass too
        if isinstance(node, ssl.SSLCertVerificationError) and inner is None:
            return node
        stack += [inner, node.__cause__, node.__context__, getattr(node, "reason", None), *node.args]
    return None


def no_redirect_target(resp: Any) -> None:
    """The session's redirect target: none, ever.

    With ``allow_redirects=False`` requests still prepares the next hop of a 3xx, reading the
    whole body first (unbounded, and a broken encoding there raises ``RuntimeError``); the core
    turns every 3xx into an error itself, after reading at most ``MAX_BODY_BYTES``.
    """
    return None
