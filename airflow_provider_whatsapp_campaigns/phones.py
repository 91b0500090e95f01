"""Phone numbers: validated to E.164 before any request, masked in every log line."""

from __future__ import annotations

import re
from dataclasses import dataclass

# A run of 8+ digits, optionally with a leading + and single separators: what a phone looks like in text.
_PHONE_IN_TEXT = re.compile(r"(?<![\w.])\+?\d(?:[ \-.]?\d){7,15}(?![\w])")


def mask_phone(phone: str) -> str:
    """``+14155552671`` -> ``+14*******71``: enough to tell numbers apart, not to dial one."""
    digits = re.sub(r"\D", "", phone)
    if len(digits) < 6:
        return "*" * len(digits)
    plus = "+" if phone.strip().startswith("+") else ""
    return f"{plus}{digits[:2]}{'*' * (len(digits) - 4)}{digits[-2:]}"


def mask_phones_in_text(text: str) -> str:
    return _PHONE_IN_TEXT.sub(lambda m: mask_phone(m.group(0)), text)


@dataclass(frozen=True)
class InvalidPhone:
    row: int
    value: str
    reason: str

    def describe(self) -> str:
        return f"row {self.row}: {mask_phone(self.value)} ({self.reason})"


def to_e164(value: str, default_region: str | None = None) -> str:
    """Parse and validate one number; raise ``ValueError`` with a reason a person can act on."""
    import phonenumbers  # imported on first use: DAG files that only import operators never pay for it

    text = str(value).strip()
    if not text:
        raise ValueError("empty phone number")
    if text.isdigit() and not default_region:
        text = "+" + text  # WhatsApp numbers are commonly written without the plus
    try:
        parsed = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number: {exc._msg}") from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError("not a valid number for its country")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
