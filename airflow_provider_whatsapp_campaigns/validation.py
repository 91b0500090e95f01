"""Checks for what a DAG author passes in: one place, one message style, before any request.

Every check raises :class:`ValidationError` naming the field, showing the bad value and saying
what a valid value looks like. Values that Airflow fills in later (Jinja strings, XComArgs) are
let through at DAG parse time and checked again, rendered, in ``execute``.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from airflow_provider_whatsapp_campaigns.exceptions import ValidationError

#: Shortest wait between two polls of a vendor (sensor ``poke_interval``, ``poll_interval``).
MIN_POLL_INTERVAL = 1.0
MAX_SHOWN = 80
# POSIX limits every common filesystem has: one name, one whole path (bytes).
NAME_MAX, PATH_MAX = 255, 4096


def shown(value: Any) -> str:
    """The bad value as a message shows it: its repr, cut short."""
    try:
        text = repr(value)
    except ValueError:  # an int past Python's digit limit for str()
        return f"a {type(value).__name__} too large to show"
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"


def is_deferred(value: Any) -> bool:
    """True for what Airflow resolves at run time: a Jinja string, an XComArg or a mapped argument."""
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    return callable(getattr(value, "resolve", None))


def require_text(
    value: Any, field: str, example: str, *, vendor: str | None = None, numbers: bool = False
) -> str:
    """A non-blank string; with ``numbers`` an int is taken too (an id ``1001`` written in Python)."""
    kinds: tuple[type, ...] = (str, int) if numbers else (str,)
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise ValidationError(f"{field} must be a non-empty string such as {example}, got {shown(value)}", vendor=vendor)
    text = str(value).strip()
    if not text:
        raise ValidationError(f"{field} must not be empty or blank: pass e.g. {example}", vendor=vendor)
    return text


def optional_text(value: Any, field: str, example: str) -> str | None:
    return None if value is None else require_text(value, field, example)


def check_at_parse(value: Any, field: str, example: str, *, numbers: bool = False) -> None:
    """Parse-time check of a templated text field: refuse what no rendering can fix."""
    if not is_deferred(value):
        require_text(value, field, example, numbers=numbers)


@dataclass(frozen=True)
class IdFormat:
    """How one vendor's campaign ids look, with an example for the message."""

    description: str
    example: str
    pattern: re.Pattern[str]

    def check(self, value: Any, vendor: str, field: str = "campaign_id") -> str:
        text = str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""
        if not self.pattern.fullmatch(text):
            raise ValidationError(
                f"{field} must be {self.description} such as {self.example}, got {shown(value)}", vendor=vendor
            )
        return text


UUID_ID = IdFormat(
    "a campaign UUID",
    "5b1c7c9e-0000-4000-a000-000000000001",
    re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"),
)
POSITIVE_INT_ID = IdFormat("a positive integer", "1234", re.compile(r"[1-9][0-9]{0,18}"))
#: Vendors that document no format: any opaque token (UUIDs, integers, slugs), never a path piece.
TOKEN_ID = IdFormat(
    "letters, digits, '-' or '_' (at most 128)", "demo-campaign", re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
)


def seconds(value: Any, field: str, *, minimum: float, allow_equal: bool = True) -> float:
    """A finite number of seconds (or a timedelta) not below ``minimum``."""
    if isinstance(value, timedelta):
        number = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value) if isinstance(value, float) or abs(value) < 2**53 else math.inf
    else:
        raise ValidationError(f"{field} must be a number of seconds or a timedelta, got {shown(value)}")
    too_small = number < minimum if allow_equal else number <= minimum
    if not math.isfinite(number) or too_small:
        bound = f"at least {minimum:g}" if allow_equal else f"more than {minimum:g}"
        raise ValidationError(f"{field} must be a finite number of seconds, {bound}; got {shown(value)}")
    return number


def string_mapping(value: Any, field: str, *, at_parse: bool = False) -> dict[str, str]:
    """A mapping of strings; numbers are coerced (``{"1": 5}`` → ``{"1": "5"}``), nothing else is.

    ``at_parse``: values Airflow resolves later (Jinja, XComArgs) pass; the result is then only
    a check, the operator keeps its original value to render.
    """
    example = '{"1": "Ann", "2": "SPRING24"}'
    if not isinstance(value, Mapping):
        hint = " (rendered as text: set render_template_as_native_obj=True on the DAG)" if isinstance(value, str) else ""
        raise ValidationError(f"{field} must be a mapping such as {example}, got {shown(value)}{hint}")
    out: dict[str, str] = {}
    for key, item in value.items():
        if isinstance(key, bool) or not isinstance(key, str | int):
            raise ValidationError(f"{field} keys must be strings or integers, got key {shown(key)}")
        if at_parse and is_deferred(item):
            continue
        number = isinstance(item, int) or (isinstance(item, float) and math.isfinite(item))
        if isinstance(item, bool) or not (isinstance(item, str) or number):
            raise ValidationError(f"{field}[{str(key)!r}] must be a string or a number, got {shown(item)}; e.g. {example}")
        try:
            out[str(key)] = str(item)
        except ValueError:  # an int past Python's digit limit for str()
            raise ValidationError(f"{field}[{str(key)!r}] is a number too large to write out") from None
    return out


def mapping(value: Any, field: str, example: str) -> dict[str, Any]:
    """Options dicts (``stats_options``, ``vendor_options`` …): a mapping with string keys."""
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise ValidationError(f"{field} must be a mapping with string keys such as {example}, got {shown(value)}")
    return dict(value)


def one_of(value: Any, field: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValidationError(f"{field} must be one of {', '.join(map(repr, choices))}, got {shown(value)}")
    return str(value)


def known_options(options: Mapping[str, Any], field: str, accepted: frozenset[str], vendor: str) -> None:
    unknown = sorted(set(options) - accepted)
    if unknown:
        valid = ", ".join(sorted(accepted)) or "none"
        raise ValidationError(
            f"{field}: unknown option(s) {', '.join(unknown)} for {vendor}; accepted: {valid}", vendor=vendor
        )


def check_local_path(path: str, field: str) -> str:
    """A local file path the OS can take: no NUL byte, no name or path too long (checked, not tried)."""
    if "\x00" in path:
        raise ValidationError(f"{field}: a path cannot contain a NUL byte, got {shown(path)}")
    encoded = os.fsencode(path)
    if len(encoded) > PATH_MAX or any(len(part) > NAME_MAX for part in encoded.split(b"/")):
        raise ValidationError(
            f"{field}: path too long (at most {NAME_MAX} bytes per name, {PATH_MAX} in all), got {shown(path)}"
        )
    return path
