"""The provider's metrics, through Airflow's own ``Stats`` (StatsD / OpenTelemetry as configured).

Every name is listed in :data:`METRICS` and in the README; the vendor (and outcome) is both in the
name, for plain StatsD, and in the tags, for backends that keep them. Emitted from the one request
core, the one auth mint, the one trigger loop and the operators that move rows — nowhere else.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

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


@contextmanager
def request(vendor: str) -> Iterator[None]:
    """Count one HTTP attempt by vendor and outcome and time it; a 429 also counts as rate_limited."""
    started = time.monotonic()
    outcome = "ok"
    try:
        yield
    except BaseException as exc:
        outcome = _outcome(exc)
        if getattr(exc, "http_status", None) == 429:
            incr(f"rate_limited.{vendor}", vendor=vendor)
        raise
    finally:
        incr(f"requests.{vendor}.{outcome}", vendor=vendor, outcome=outcome)
        Stats.timing(f"{PREFIX}.request_duration.{vendor}", (time.monotonic() - started) * 1000, tags={"vendor": vendor})


@contextmanager
def poll(vendor: str) -> Iterator[None]:
    """Time one poll of a deferred wait."""
    started = time.monotonic()
    try:
        yield
    finally:
        Stats.timing(f"{PREFIX}.poll_duration.{vendor}", (time.monotonic() - started) * 1000, tags={"vendor": vendor})


@contextmanager
def wait_in_flight(vendor: str) -> Iterator[None]:
    """+1 on the waits-in-flight gauge while a trigger runs, -1 when it ends for any reason."""
    Stats.gauge(f"{PREFIX}.waits_in_flight", 1, delta=True, tags={"vendor": vendor})
    try:
        yield
    finally:
        Stats.gauge(f"{PREFIX}.waits_in_flight", -1, delta=True, tags={"vendor": vendor})
