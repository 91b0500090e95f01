"""Whatomate's recipients import rows: every phone validated to E.164 before anything is sent."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from airflow_provider_whatsapp_campaigns.phones import InvalidPhone, to_e164
from airflow_provider_whatsapp_campaigns.vendors.spec import Recipient


def _template_params(*sources: Mapping[str, Any] | None) -> dict[str, str]:
    merged: dict[str, str] = {}
    for source in sources:
        for key, value in (source or {}).items():
            if value is not None:
                merged[str(key)] = str(value)
    return merged


def recipient_rows(
    recipients: Iterable[Recipient | Mapping[str, Any] | str],
    *,
    default_region: str | None = None,
    template_params: Mapping[str, Any] | None = None,
) -> tuple[list[dict[str, Any]], list[InvalidPhone]]:
    """Validate and normalize every phone to E.164 *before* anything is sent.

    Accepts :class:`Recipient` objects, dicts (``phone``/``phone_number``, ``name``/``recipient_name``,
    ``params``/``template_params``) or bare phone strings. Returns the import body rows
    (``{phone_number, recipient_name, template_params{"1": …}}``) and the rejects with their
    0-based row index. Campaign-level ``template_params`` are defaults under each row's own.
    """
    rows: list[dict[str, Any]] = []
    invalid: list[InvalidPhone] = []
    for index, item in enumerate(recipients):
        if isinstance(item, Recipient):
            phone, name, params = item.phone, item.name, item.params
        elif isinstance(item, Mapping):
            phone = item.get("phone") or item.get("phone_number") or ""
            name = item.get("name") or item.get("recipient_name")
            params = item.get("params") or item.get("template_params") or {}
        else:
            phone, name, params = str(item), None, {}
        try:
            e164 = to_e164(str(phone), default_region)
        except ValueError as exc:
            invalid.append(InvalidPhone(index, str(phone), str(exc)))
            continue
        row: dict[str, Any] = {"phone_number": e164}
        if name:
            row["recipient_name"] = str(name)
        merged = _template_params(template_params, params if isinstance(params, Mapping) else None)
        if merged:
            row["template_params"] = merged
        rows.append(row)
    return rows, invalid


def invalid_rows_report(invalid: list[InvalidPhone]) -> list[dict[str, Any]]:
    from airflow_provider_whatsapp_campaigns.phones import mask_phone

    return [{"row": i.row, "phone": mask_phone(i.value), "reason": i.reason} for i in invalid]
