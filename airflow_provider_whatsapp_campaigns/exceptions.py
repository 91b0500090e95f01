"""Typed errors: one class per thing a user can act on.

Permanent errors also inherit ``AirflowFailException`` so Airflow does not burn task retries on
them; only :class:`RateLimited` and :class:`VendorUnavailable` are transient.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from airflow_provider_whatsapp_campaigns.version_compat import AirflowException, AirflowFailException


class WhatsAppCampaignError(AirflowException):
    """Base of every error this provider raises; carries where it came from."""

    transient: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        vendor: str | None = None,
        http_status: int | None = None,
        vendor_code: str | None = None,
        retry_after: float | None = None,
        may_have_applied: bool = False,
    ) -> None:
        self.message = message
        self.vendor = vendor
        self.http_status = http_status
        self.vendor_code = None if vendor_code is None else str(vendor_code)
        self.retry_after = retry_after
        # True when a non-idempotent request may have been applied although no answer arrived.
        self.may_have_applied = may_have_applied
        super().__init__(self._render())

    def add_context(self, note: str) -> None:
        """Append what happened to the error after it was raised (e.g. how often it was retried)."""
        self.message = f"{self.message.rstrip('.')}; {note}"
        self.args = (self._render(),)

    def _render(self) -> str:
        where = [w for w in (self.vendor, self.http_status and f"HTTP {self.http_status}") if w]
        if self.vendor_code is not None:
            where.append(f"code {self.vendor_code}")
        prefix = f"[{', '.join(str(w) for w in where)}] " if where else ""
        return f"{prefix}{self.message}"

    def scrubbed(self, scrub: Callable[[str], str]) -> WhatsAppCampaignError:
        """Pass the message and vendor code through ``scrub`` and cap them, in place.

        Flows may quote vendor values (a status word, a name) in a message; the hook runs every
        error it raises through its core's scrubber so no echoed credential reaches a user.
        """
        self.message = cap_text(scrub(self.message), MAX_MESSAGE)
        if self.vendor_code is not None:
            self.vendor_code = cap_text(scrub(self.vendor_code), MAX_CODE)
        self.args = (self._render(),)
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self).__name__, self.to_dict()))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form, used in trigger events."""
        return {
            "error_class": type(self).__name__,
            "message": self.message,
            "vendor": self.vendor,
            "http_status": self.http_status,
            "vendor_code": self.vendor_code,
            "retry_after": self.retry_after,
            "may_have_applied": self.may_have_applied,
        }

    @staticmethod
    def from_dict(data: dict[str, Any]) -> WhatsAppCampaignError:
        """Rebuild the typed error from :meth:`to_dict` output (unknown classes become the base)."""
        cls = ERROR_CLASSES.get(str(data.get("error_class")), WhatsAppCampaignError)
        return cls(
            str(data.get("message") or "unknown error"),
            vendor=data.get("vendor"),
            http_status=data.get("http_status"),
            vendor_code=data.get("vendor_code"),
            retry_after=data.get("retry_after"),
            may_have_applied=bool(data.get("may_have_applied", False)),
        )


#: Longest message and vendor code an error carries (vendor text inside is capped shorter).
MAX_MESSAGE = 800
MAX_CODE = 64


def cap_text(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters (marked with …)."""
    return text if len(text) <= limit else text[:limit] + "…"


def _rebuild(name: str, data: dict[str, Any]) -> WhatsAppCampaignError:
    return WhatsAppCampaignError.from_dict({**data, "error_class": name})


class _Permanent(WhatsAppCampaignError, AirflowFailException):
    """Retrying cannot help: fail the task now."""


class AuthenticationError(_Permanent):
    """Credentials missing, wrong or expired beyond refresh."""


class PermissionDenied(_Permanent):
    """Credentials are fine but the account may not do this (blocked, IP allow-list, product off)."""


class QuotaExceeded(_Permanent):
    """A daily/monthly/total usage quota is used up; waiting seconds will not help."""


class InsufficientBalance(_Permanent):
    """The vendor wallet has no money for the send."""


class ValidationError(_Permanent):
    """The request (or the connection's configuration) is invalid; nothing was sent."""


class NotFound(_Permanent):
    """The campaign (or account) does not exist for these credentials."""


class InvalidState(_Permanent):
    """The campaign's state does not allow this action (e.g. pause a draft)."""


class Interrupted(_Permanent):
    """The task was killed (``on_kill``): the provider stopped before its next request."""


class UnexpectedResponse(_Permanent):
    """The vendor answered with something this provider does not understand."""


class UnsupportedOperation(_Permanent):
    """The vendor's API has no such verb (e.g. SPRL cannot create campaigns)."""


class RateLimited(WhatsAppCampaignError):
    """A burst limit was hit (HTTP 429 that is not a quota); idempotent requests are retried with backoff."""

    transient = True


class VendorUnavailable(WhatsAppCampaignError):
    """5xx, timeouts, connection resets; idempotent requests are retried with backoff."""

    transient = True


ERROR_CLASSES: dict[str, type[WhatsAppCampaignError]] = {
    cls.__name__: cls
    for cls in (
        WhatsAppCampaignError,
        AuthenticationError,
        PermissionDenied,
        QuotaExceeded,
        InsufficientBalance,
        ValidationError,
        NotFound,
        InvalidState,
        Interrupted,
        UnexpectedResponse,
        UnsupportedOperation,
        RateLimited,
        VendorUnavailable,
    )
}


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, WhatsAppCampaignError) and exc.transient


__all__ = [
    "AuthenticationError",
    "InsufficientBalance",
    "Interrupted",
    "InvalidState",
    "NotFound",
    "PermissionDenied",
    "QuotaExceeded",
    "RateLimited",
    "UnexpectedResponse",
    "UnsupportedOperation",
    "ValidationError",
    "VendorUnavailable",
    "WhatsAppCampaignError",
    "is_transient",
]
