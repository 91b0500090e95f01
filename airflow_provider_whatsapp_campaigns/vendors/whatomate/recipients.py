"""Whatomate's recipients import rows: every phone validated to E.164 before anything is sent."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, overload

from airflow_provider_whatsapp_campaigns.phones import InvalidPhone, mask_phone
from airflow_provider_whatsapp_campaigns.recipients import RecipientSpool, normalize_recipients
from airflow_provider_whatsapp_campaigns.vendors.spec import Recipient


def _template_params(*sources: Mapping[str, Any] | None) -> dict[str, str]:
    merged: dict[str, str] = {}
    for source in sources:
        for key, value in (source or {}).items():
            if value is not None:
                merged[str(key)] = str(value)
    return merged


class ImportRows(Sequence[dict[str, Any]]):
    """Import rows built batch by batch from validated recipients (a :class:`RecipientSpool` or a
    list), never all at once: 100,000 row dicts held beside their recipients were ~25 MB."""

    def __init__(self, recipients: Sequence[Recipient], template_params: Mapping[str, Any] | None) -> None:
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
    recipients: Iterable[Any],
    *,
    default_region: str | None = None,
    template_params: Mapping[str, Any] | None = None,
) -> tuple[Sequence[dict[str, Any]], list[InvalidPhone]]:
    """The import body rows (``{phone_number, recipient_name, template_params{"1": …}}``) and the rejects.

    Items are read by the one normalizer (:func:`~airflow_provider_whatsapp_campaigns.recipients.normalize_recipients`:
    every phone to E.164 before anything is sent, each number once); the rows are built lazily
    while they are sent. Campaign-level ``template_params`` are defaults under each row's own.
    """
    if isinstance(recipients, RecipientSpool):
        return ImportRows(recipients, template_params), []
    found = normalize_recipients(recipients, default_region=default_region)
    return ImportRows(found.valid, template_params), found.invalid


def invalid_rows_report(invalid: list[InvalidPhone]) -> list[dict[str, Any]]:
    return [{"row": i.row, "phone": mask_phone(i.value), "reason": i.reason} for i in invalid]
