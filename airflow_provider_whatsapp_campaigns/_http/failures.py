"""What went wrong on the way to a vendor, as typed errors with a message a person can act on.

Each transport failure family maps to one error here, so the sync and async transports of
:class:`~airflow_provider_whatsapp_campaigns._http.core.RequestCore` classify alike.
"""

from __future__ import annotations

from dataclasses import dataclass

from airflow_provider_whatsapp_campaigns._http.flow import Call
from airflow_provider_whatsapp_campaigns._http.transport import UnreadableAnswer, certificate_failure, redirect_target
from airflow_provider_whatsapp_campaigns.exceptions import (
    UnexpectedResponse,
    ValidationError,
    VendorUnavailable,
    WhatsAppCampaignError,
)


@dataclass(frozen=True)
class Failures:
    """The errors one connection's requests can end in (``host`` is named, never a credential)."""

    vendor: str
    host: str

    def unreadable(self, exc: UnreadableAnswer, status: int | None = None) -> UnexpectedResponse:
        return UnexpectedResponse(f"{exc}; the vendor's answer cannot be used", vendor=self.vendor, http_status=status)

    def unbuildable(self, exc: BaseException) -> ValidationError:
        return ValidationError(
            f"the request could not be built ({type(exc).__name__}); check the connection's host and the "
            "campaign id",
            vendor=self.vendor,
        )

    def redirected(self, status: int, url: str, location: str | None) -> UnexpectedResponse:
        """Redirects are never followed: a credential must not reach another address."""
        return UnexpectedResponse(
            f"the vendor answered HTTP {status}, redirecting to {redirect_target(url, location)}; redirects are "
            "never followed, so no credential goes to another address. If the service moved, set the "
            "connection's host to its new URL",
            vendor=self.vendor,
            http_status=status,
        )

    def tls(self, call: Call, exc: BaseException) -> WhatsAppCampaignError:
        """A certificate that fails verification is permanent (retrying changes nothing); other TLS
        failures (handshake resets) are transient."""
        failure = certificate_failure(exc)
        if failure is None:
            return self.unreachable(call, exc, sent=False)
        reason = failure.verify_message or failure.reason or "unknown reason"
        return ValidationError(
            f"the TLS certificate of {self.host} failed verification ({reason}). If the server uses a "
            "private or self-signed CA, set the connection's extra verify to the path of that CA bundle (PEM "
            "file); otherwise the server's certificate must be fixed",
            vendor=self.vendor,
        )

    def unreachable(self, call: Call, exc: BaseException, *, sent: bool) -> VendorUnavailable:
        return VendorUnavailable(
            f"could not reach {self.host} ({type(exc).__name__}); check the host and the network",
            vendor=self.vendor,
            may_have_applied=sent and not call.idempotent,
        )
