"""Whatomate's recipients import rows: every phone validated to E.164 before anything is sent."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, overload

from airflow_provider_whatsapp_campaigns.phones import InvalidPhone, to_e164
from airflow_provider_whatsapp_campaigns.recipients import RecipientSpool, ValidatedRecipient
from airflow_provider_whatsapp_campaigns.vendors.spec import Recipient


def _template_params(*sources: Mapping[str, Any] | None) -> dict[str, str]:
    merged: dict[str, str] = {}
    for source in sources:
        for key, value in (source or {}).items():
            if value is not None:
                merged[str(key)] = str(value)
    return merged


class SpooledRows(Sequence[dict[str, Any]]):
    """Import rows built batch by batch from a validated :class:`RecipientSpool` (never all at once)."""

    def __init__(self, recipients: RecipientSpool, template_params: Mapping[str, Any] | None) -> None:
        self.recipients = recipients
        self.template_params = template_params

    def __len__(self) -> int:
        return len(self.recipients)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for recipient in self.recipients:
            yield _row(recipient.phone, recipient.name, recipient.params, self.template_params)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | Sequence[dict[str, Any]]:
        if isinstance(index, slice):
            return list(itertools.islice(self, *index.indices(len(self))))
        recipient = self.recipients[index]
        return _row(recipient.phone, recipient.name, recipient.params, self.template_params)


def _row(e164: str, name: Any, params: Any, template_params: Mapping[str, Any] | None) -> dict[str, Any]:
    row: dict[str, Any] = {"phone_number": e164}
    if name:
        row["recipient_name"] = str(name)
    merged = _template_params(template_params, params if isinstance(params, Mapping) else None)
    if merged:
        row["template_params"] = merged
    return row


def recipient_rows(
    recipients: Iterable[Recipient | Mapping[str, Any] | str],
    *,
    default_region: str | None = None,
    template_params: Mapping[str, Any] | None = None,
) -> tuple[Sequence[dict[str, Any]], list[InvalidPhone]]:
    """Validate and normalize every phone to E.164 *before* anything is sent.

    Accepts :class:`Recipient` objects, dicts (``phone``/``phone_number``, ``name``/``recipient_name``,
    ``params``/``template_params``) or bare phone strings. Returns the import body rows
    (``{phone_number, recipient_name, template_params{"1": …}}``) and the rejects with their
    0-based row index. Campaign-level ``template_params`` are defaults under each row's own.
    Recipients ``load_recipients`` already validated are not parsed again; a spooled file's rows
    are built lazily while they are sent.
    """
    if isinstance(recipients, RecipientSpool):
        return SpooledRows(recipients, template_params), []
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
        if isinstance(item, ValidatedRecipient):
            e164 = item.phone
        else:
            try:
                e164 = to_e164(str(phone), default_region)
            except ValueError as exc:
                invalid.append(InvalidPhone(index, str(phone), str(exc)))
                continue
        rows.append(_row(e164, name, params, template_params))
    return rows, invalid


def invalid_rows_report(invalid: list[InvalidPhone]) -> list[dict[str, Any]]:
    from airflow_provider_whatsapp_campaigns.phones import mask_phone

    return [{"row": i.row, "phone": mask_phone(i.value), "reason": i.reason} for i in invalid]
