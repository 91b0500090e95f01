"""Connection settings parsed once into a frozen dataclass (P7: plain extra names, legacy prefixed names)."""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_provider_whatsapp_campaigns.connection_types import COMMON_EXTRAS, FORMS
from airflow_provider_whatsapp_campaigns.exceptions import ValidationError
from airflow_provider_whatsapp_campaigns.validation import shown

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Connection

log = logging.getLogger("airflow.providers.whatsapp_campaigns.config")

#: Seconds to wait for one HTTP answer (extra ``timeout``); a campaign wait has its own, in hours.
DEFAULT_REQUEST_TIMEOUT = 30.0
DEFAULT_MAX_RETRIES = 5
REDIS_SCHEMES = ("redis", "rediss", "unix")
#: Bounds of the numeric extras: the ones the connection forms declare, so form and parser agree.
EXTRA_BOUNDS: dict[str, tuple[float, float]] = {
    spec.name: (spec.minimum, spec.maximum)
    for spec in COMMON_EXTRAS
    if spec.minimum is not None and spec.maximum is not None
}


def _extra_dict(conn: Connection) -> dict[str, Any]:
    raw = conn.extra_dejson if hasattr(conn, "extra_dejson") else {}
    if isinstance(raw, str):  # pragma: no cover - defensive, some secrets backends
        raw = json.loads(raw or "{}")
    return dict(raw or {})


def read_extra(extra: Mapping[str, Any], conn_type: str, name: str, default: Any = None) -> Any:
    """``name`` first, then the pre-2.3 ``extra__<conn_type>__<name>``; empty strings count as unset."""
    for key in (name, f"extra__{conn_type}__{name}"):
        value = extra.get(key)
        if value is not None and value != "":
            return value
    return default


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ConnectionConfig:
    """Everything a request needs from an Airflow connection, validated up front."""

    conn_id: str
    conn_type: str
    base_url: str
    login: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = DEFAULT_REQUEST_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES
    rate_limit: float | None = None
    verify: bool | str = True  # or the path of a CA bundle
    allow_insecure: bool = False
    redis_url: str | None = field(default=None, repr=False)
    extra: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def get_extra(self, name: str, default: Any = None) -> Any:
        return read_extra(self.extra, self.conn_type, name, default)

    def require(self, value: Any, field_name: str, what: str) -> Any:
        """Return ``value`` or fail with a message naming the connection and the field to fill."""
        if value is None or value == "":
            raise ValidationError(
                f"Connection {self.conn_id!r} ({self.conn_type}) has no {what}: set the {field_name} field."
            )
        return value

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).hostname or ""

    @classmethod
    def from_connection(
        cls,
        conn: Connection,
        *,
        conn_type: str,
        default_host: str | None,
        default_rate_limit: float | None,
        extra: Mapping[str, Any] | None = None,
    ) -> ConnectionConfig:
        """``extra``: the connection's extra already read (the async path reads it without blocking)."""
        extra = dict(extra) if extra is not None else _extra_dict(conn)
        conn_id = str(conn.conn_id)

        def number(name: str, default: Any, *, integer: bool = False, off: float | None = None) -> Any:
            """A finite number within the bounds the connection form declares, named in the message."""
            value = read_extra(extra, conn_type, name, default)
            if value is None:
                return None
            low, high = EXTRA_BOUNDS[name]
            kind = "a whole number" if integer else "a number"
            bounds = f"between {low:g} and {high:g}"
            if off is not None:
                bounds += f", or {off:g} to switch it off"
            problem = ValidationError(
                f"Connection {conn_id!r}: extra {name!r} must be {kind} {bounds}; got {shown(value)}."
            )
            if isinstance(value, bool):
                raise problem
            try:
                parsed = float(value)
            except (TypeError, ValueError, OverflowError):  # OverflowError: an int beyond any float
                raise problem from None
            if integer and not parsed.is_integer():
                raise problem
            if off is not None and parsed == off:
                return int(parsed) if integer else parsed
            if not low <= parsed <= high:  # also false for nan; inf is above any bound
                raise problem
            return int(parsed) if integer else parsed

        def flag(name: str, default: bool) -> bool:
            value = read_extra(extra, conn_type, name, default)
            parsed = _as_bool(value)
            if parsed is None:
                raise ValidationError(f"Connection {conn_id!r}: extra {name!r} must be true or false, got {value!r}.")
            return parsed

        def trust() -> bool | str:
            """``verify``: true, false, or the path of a CA bundle (PEM file or a c_rehash directory)."""
            value = read_extra(extra, conn_type, "verify", True)
            parsed = _as_bool(value)
            if parsed is not None:
                return parsed
            path = os.path.expanduser(str(value).strip())
            if not os.path.exists(path):
                raise ValidationError(
                    f"Connection {conn_id!r}: extra 'verify' must be true, false or the path of a CA bundle "
                    f"(PEM file); {path!r} does not exist on this machine."
                )
            return path

        check_text_extras(extra, conn_type, conn_id)
        rate_limit = number("rate_limit", default_rate_limit, off=0)
        config = cls(
            conn_id=conn_id,
            conn_type=conn_type,
            base_url=build_base_url(conn, default_host, conn_id),
            login=conn.login or None,
            password=conn.password or None,
            timeout=number("timeout", DEFAULT_REQUEST_TIMEOUT),
            max_retries=number("max_retries", DEFAULT_MAX_RETRIES, integer=True),
            rate_limit=rate_limit or None,
            verify=trust(),
            allow_insecure=flag("allow_insecure", False),
            redis_url=check_redis_url(read_extra(extra, conn_type, "redis_url"), conn_id),
            extra=extra,
        )
        config.check_transport_security()
        return config

    def check_transport_security(self) -> None:
        require_secure_url(self.base_url, conn_id=self.conn_id, allow_insecure=self.allow_insecure)


#: Where HTTP clients disagree about which host a URL names (``http://api.example.invalid\@localhost/``
#: is ``localhost`` to ``urlsplit`` and ``api.example.invalid`` to requests): refused in any URL requested.
_AMBIGUOUS_IN_URL = re.compile(r"[\x00-\x20\x7f\\]")
_HOST_NAME = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)(?:\.(?!-)[a-z0-9_-]{1,63}(?<!-))*\.?")


def plain_url_text(text: str) -> bool:
    """True when ``text`` holds no character that makes HTTP clients disagree about a URL (see
    :func:`require_secure_url`)."""
    return _AMBIGUOUS_IN_URL.search(text) is None


def require_secure_url(url: str, *, conn_id: str, allow_insecure: bool, what: str = "host") -> None:
    """The one transport-security rule: HTTPS only, except loopback or a host the user explicitly
    marked ``allow_insecure`` (then warned about once per process: credentials cross in clear).

    The core applies it to the exact URL of every request (and the connection checks its host
    early). The URL must name its host unambiguously: no user info, backslash, whitespace or
    control character; a valid host name or IP address; a valid port.
    """
    if _AMBIGUOUS_IN_URL.search(url):
        raise ValidationError(
            f"Connection {conn_id!r}: the {what} contains a backslash, whitespace or a control character; "
            "HTTP clients disagree on which host such a URL names, so it is refused."
        )
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number in 0-65535
    except ValueError:
        raise ValidationError(
            f"Connection {conn_id!r}: the {what} is not a valid URL (malformed IPv6 address or port)."
        ) from None
    if "@" in parts.netloc:
        raise ValidationError(
            f"Connection {conn_id!r}: the {what} contains user info (user@host); put credentials in the "
            "connection's login and password, never in the URL."
        )
    if parts.hostname and not (_HOST_NAME.fullmatch(parts.hostname) or _is_ip(parts.hostname)):
        raise ValidationError(
            f"Connection {conn_id!r}: the {what} names no valid host ({parts.hostname!r}); use an ASCII host "
            "name (the xn-- form for an international one) or an IP address."
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(
            f"Connection {conn_id!r}: the {what} must be an http(s) URL such as https://example.com."
        )
    if parts.scheme != "http" or is_loopback(parts.hostname):
        return
    if not allow_insecure:
        raise ValidationError(
            f"Connection {conn_id!r}: refusing plain http:// to {parts.hostname} ({what}); credentials would "
            "cross the network unencrypted. Use https://, or set extra allow_insecure=true if this host "
            "is on a network you trust."
        )
    from airflow_provider_whatsapp_campaigns._http.state import STATE

    if STATE.first_time("insecure-warned", (conn_id, parts.hostname)):
        log.warning(
            "Connection %r talks plain http:// to %s (allow_insecure=true): credentials and recipient "
            "numbers cross the network unencrypted. Prefer https://.",
            conn_id,
            parts.hostname,
        )


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    return None


def check_text_extras(extra: Mapping[str, Any], conn_type: str, conn_id: str) -> None:
    """Every extra the connection form declares as text must be text (not a number, list or object)."""
    for spec in FORMS[conn_type].all_extras if conn_type in FORMS else ():
        value = read_extra(extra, conn_type, spec.name)
        if spec.type == "string" and value is not None and not isinstance(value, str):
            got = type(value).__name__ if spec.secret else repr(value)
            raise ValidationError(f"Connection {conn_id!r}: extra {spec.name!r} must be text ({spec.label}), got {got}.")


def check_redis_url(value: str | None, conn_id: str) -> str | None:
    if value is None or urlsplit(value).scheme in REDIS_SCHEMES:
        return value
    # The URL may carry a password: show only its scheme.
    raise ValidationError(
        f"Connection {conn_id!r}: extra 'redis_url' must start with redis://, rediss:// or unix://, "
        f"got a {urlsplit(value).scheme or 'scheme-less'} URL."
    )


def build_base_url(conn: Connection, default_host: str | None, conn_id: str) -> str:
    """Accept a full URL in host (recommended), or host + port + schema as Airflow URIs split them."""
    host = (conn.host or "").strip() or (default_host or "")
    if not host:
        raise ValidationError(f"Connection {conn_id!r} has no host: set the server URL, e.g. https://example.com.")
    schema = (conn.schema or "").strip()
    if "://" not in host:
        scheme = schema if schema in ("http", "https") else "https"
        host = f"{scheme}://{host}"
        if conn.port:
            host = f"{host}:{conn.port}"
        if schema and schema not in ("http", "https"):
            host = f"{host}/{schema.strip('/')}"
    elif conn.port and not urlsplit(host).port:
        parts = urlsplit(host)
        host = f"{parts.scheme}://{parts.hostname}:{conn.port}{parts.path}"
    return host.rstrip("/")
