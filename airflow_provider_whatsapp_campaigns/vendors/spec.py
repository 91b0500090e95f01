"""What a DAG author asks of any vendor (a campaign, its recipients) and what comes back."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from airflow_provider_whatsapp_campaigns.phones import InvalidPhone
from airflow_provider_whatsapp_campaigns.validation import mapping, optional_text, require_text, string_mapping


def marker_tag(marker: str) -> str:
    """How a marker appears in a campaign name: ``"Spring sale [af-1a2b3c4d5e6f]"``."""
    return f"[{marker}]"


def tagged_name(name: str, marker: str | None) -> str:
    """The campaign name a create sends: tagged, so a person (or a list call) finds a retry's duplicate."""
    return f"{name} {marker_tag(marker)}" if marker else name


@dataclass(frozen=True, slots=True)
class Recipient:
    phone: str
    name: str | None = None
    params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CampaignSpec:
    """What a DAG author asks for, whatever the vendor; each hook maps it to its own body."""

    name: str
    template: str
    account: str | None = None
    recipients: Sequence[Recipient] = ()
    template_params: Mapping[str, Any] = field(default_factory=dict)
    scheduled_at: str | None = None
    description: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Checked here so every caller (operator or hook user) is refused before any request.
        require_text(self.name, "name", "'Spring sale'")
        require_text(self.template, "template", "'welcome_v2' (or the template's id)")
        optional_text(self.account, "account", "'main-account'")
        optional_text(self.scheduled_at, "scheduled_at", "'2026-12-01T09:00:00Z'")
        optional_text(self.description, "description", "'Winter promo'")
        object.__setattr__(self, "template_params", string_mapping(self.template_params, "template_params"))
        object.__setattr__(self, "options", mapping(self.options, "vendor_options", '{"batch_size": 500}'))


@dataclass(frozen=True)
class CreatedCampaign:
    campaign_id: str
    adopted: bool = False  # True when an earlier attempt had already created it
    recipients_added: int | None = None
    invalid: tuple[InvalidPhone, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "campaign_id": self.campaign_id,
            "adopted": self.adopted,
            "recipients_added": self.recipients_added,
            "invalid_recipients": [{"row": i.row, "reason": i.reason} for i in self.invalid],
        }


class ContactRow(msgspec.Struct):
    """One recipient in the export columns, whatever the vendor; values as the vendor sent them.

    A msgspec struct so that a page of a thousand rows decodes and encodes in C: exports of a
    million recipients are bound by the network, not by per-row Python.
    """

    recipient_id: Any = None  # the vendor's id of this recipient (to join back); None where it has none
    phone: Any = None
    name: Any = None
    status: Any = None
    error: Any = None
    message_id: Any = None
    sent_at: Any = None
    delivered_at: Any = None
    read_at: Any = None
    replied_at: Any = None

    def to_dict(self) -> dict[str, Any]:
        return msgspec.structs.asdict(self)


CONTACT_COLUMNS: tuple[str, ...] = ContactRow.__struct_fields__
DEFAULT_CONTACT_FIELDS: dict[str, str | tuple[str, ...]] = {
    "recipient_id": ("recipient_id", "id"),
    "phone": ("phone", "phone_number"),
    "name": ("name", "recipient_name"),
    "error": ("error_message", "error"),
}
