"""The provider's metrics, through Airflow's own ``Stats`` (StatsD / OpenTelemetry as configured).

Every name is listed in :data:`METRICS` and in the README; the vendor (and outcome) is both in the
name, for plain StatsD, and in the tags, for backends that keep them. Emitted from the one request
core, the one auth mint, the one trigger loop and the operators that move rows — nowhere else.
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from typing import Any

from airflow.providers.common.compat.sdk import Stats

PREFIX = "whatsapp_campaigns"

#: name (without the prefix) -> (kind, what it counts); ``<vendor>``/``<outcome>`` are filled in.
METRICS: dict[str, tuple[str, str]] = {
    "requests.<vendor>.<outcome>": ("counter", "HTTP requests sent; outcome = ok or the error class (rate_limited …)"),
    "request_duration.<vendor>": ("timer", "one HTTP attempt, send to answer read (ms)"),
    "rate_limited.<vendor>": ("counter", "answers that were HTTP 429"),
    "retries.<vendor>": ("counter", "attempts retried by the retry policy (429, 5xx, resets)"),
    "token_mints.<vendor>": ("counter", "OAuth tokens minted / JWT logins (per process, under the mint lock)"),
    "poll_duration.<vendor>": ("timer", "one status poll of a deferred wait, retries included (ms)"),
    "waits_in_flight": ("gauge", "deferred waits running in this triggerer (delta gauge)"),
    "rows_exported.<vendor>": ("counter", "recipient rows written by WhatsAppExportContactsOperator"),
    "rows_imported.<vendor>": ("counter", "recipients sent to the vendor by a create"),
    "rows_written": ("counter", "stats rows written by WhatsAppStatsToSqlOperator"),
}


def _outcome(exc: BaseException | None) -> str:
    if exc is None:
        return "ok"
    name = type(exc).__name__
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def incr(name: str, count: int = 1, **tags: str) -> None:
    Stats.incr(f"{PREFIX}.{name}", count, tags=tags)


class _Metric:
    """What :func:`request` returns. Classes, not generator context managers: these wrap every
    HTTP attempt and every poll of every wait."""

    __slots__ = ("started", "vendor")

    def __init__(self, vendor: str) -> None:
        self.vendor = vendor

    def __enter__(self) -> None:
        self.started = time.monotonic()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        vendor, outcome = self.vendor, "ok" if exc is None else _outcome(exc)
        if exc is not None and getattr(exc, "http_status", None) == 429:
            incr(f"rate_limited.{vendor}", vendor=vendor)
        incr(f"requests.{vendor}.{outcome}", vendor=vendor, outcome=outcome)
        Stats.timing(
            f"{PREFIX}.request_duration.{vendor}", (time.monotonic() - self.started) * 1000, tags={"vendor": vendor}
        )


class _Poll(_Metric):
    """What :func:`poll` returns."""

    __slots__ = ()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        Stats.timing(
            f"{PREFIX}.poll_duration.{self.vendor}", (time.monotonic() - self.started) * 1000, tags={"vendor": self.vendor}
        )


def request(vendor: str) -> AbstractContextManager[None]:
    """Count one HTTP attempt by vendor and outcome and time it; a 429 also counts as rate_limited."""
    return _Metric(vendor)


def poll(vendor: str) -> AbstractContextManager[None]:
    """Time one poll of a deferred wait."""
    return _Poll(vendor)


class _InFlight(_Metric):
    """What :func:`wait_in_flight` returns (held by every waiting trigger: a class is smaller than a generator)."""

    __slots__ = ()

    def __enter__(self) -> None:
        Stats.gauge(f"{PREFIX}.waits_in_flight", 1, delta=True, tags={"vendor": self.vendor})

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        Stats.gauge(f"{PREFIX}.waits_in_flight", -1, delta=True, tags={"vendor": self.vendor})


def wait_in_flight(vendor: str) -> AbstractContextManager[None]:
    """+1 on the waits-in-flight gauge while a trigger runs, -1 when it ends for any reason."""
    return _InFlight(vendor)
