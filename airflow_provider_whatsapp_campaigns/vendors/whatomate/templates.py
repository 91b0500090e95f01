"""Whatomate templates: a DAG author names one (``welcome_v2``, optionally a language), the server
wants its UUID. Resolved against ``GET /api/templates`` of the campaign's WhatsApp account."""

from __future__ import annotations

import difflib
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from airflow_provider_whatsapp_campaigns._http.flow import Call, Flow
from airflow_provider_whatsapp_campaigns.exceptions import UnexpectedResponse, ValidationError
from airflow_provider_whatsapp_campaigns.vendors.whatomate.tables import unwrap_envelope

TEMPLATES = "/api/templates"
APPROVED = "APPROVED"
MAX_LISTED = 20  # templates named in one error message


def list_templates_flow(account: str) -> Flow[list[dict[str, Any]]]:
    """The account's templates (the server filters by ``account``; filtered here too, in case a
    build ignores it)."""
    response = yield Call("GET", TEMPLATES, params={"account": account})
    rows = unwrap_envelope(response.body).get("templates")
    if not isinstance(rows, (list, type(None))):
        raise UnexpectedResponse(
            f"Whatomate's template list holds {type(rows).__name__} where a list was expected", vendor="whatomate"
        )
    return [dict(t) for t in rows or [] if isinstance(t, Mapping) and str(t.get("whatsapp_account")) == account]


def _label(template: Mapping[str, Any]) -> str:
    return f"{template.get('name')} ({template.get('language')})"


def _listing(templates: Sequence[Mapping[str, Any]]) -> str:
    labels = sorted(_label(t) for t in templates)
    more = f" and {len(labels) - MAX_LISTED} more" if len(labels) > MAX_LISTED else ""
    return (", ".join(labels[:MAX_LISTED]) + more) or "none"


def _as_uuid(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def pick_template(
    templates: Sequence[Mapping[str, Any]], wanted: str, language: str | None, account: str
) -> Mapping[str, Any]:
    """The one approved template ``wanted`` (a UUID or a name, plus ``language`` if given) names.

    Several approved languages and no ``language`` given, a template not approved, or no match
    at all are :class:`ValidationError` s that list what the account does have.
    """
    approved = [t for t in templates if str(t.get("status", "")).upper() == APPROVED]
    as_id = _as_uuid(wanted.strip())
    if as_id is not None:
        found = [t for t in templates if _as_uuid(str(t.get("id", ""))) == as_id]
    else:
        found = [t for t in templates if str(t.get("name", "")).lower() == wanted.strip().lower()]
    if language:
        found = [t for t in found if str(t.get("language", "")).lower() == language.lower()]
    ready = [t for t in found if t in approved]
    if len(ready) == 1:
        return ready[0]
    what = f"template {wanted!r}" + (f" in language {language!r}" if language else "")
    if ready:
        raise ValidationError(
            f"{what} exists in several languages on WhatsApp account {account!r}: {_listing(ready)}; "
            "choose one with vendor_options={'template_language': '…'}",
            vendor="whatomate",
        )
    if found:
        states = ", ".join(sorted(f"{_label(t)} is {t.get('status')}" for t in found))
        raise ValidationError(
            f"{what} on WhatsApp account {account!r} is not approved ({states}); WhatsApp sends only approved "
            f"templates. Approved: {_listing(approved)}",
            vendor="whatomate",
        )
    names = sorted({str(t.get("name")) for t in templates})
    close = difflib.get_close_matches(wanted.strip().lower(), names, n=3, cutoff=0.6)
    hint = f" Close matches: {', '.join(close)}." if close else ""
    raise ValidationError(
        f"WhatsApp account {account!r} has no {what}.{hint} Approved templates: {_listing(approved)}",
        vendor="whatomate",
    )
