"""Secret scrubbing: every form in which a credential can come back inside a vendor's answer.

A hostile or careless vendor may echo request headers or bodies in its error text: the API key
literally, JSON-escaped (a password with ``"`` or ``\\``), URL-encoded, or base64 (Basic auth,
``user:secret``). Everything vendor-sourced passes through one :class:`Scrubber` before it can
reach an error message, a log line, XCom or a trigger event.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "***"
#: Encoded forms shorter than this would match ordinary text; the literal secret is always scrubbed.
MIN_FORM = 6


def _json_escape(text: str) -> str:
    return json.dumps(text)[1:-1]


def _repr_escape(text: str) -> str:
    return repr(text)[1:-1]


def _base64_cores(data: bytes) -> Iterable[str]:
    """The base64 characters that depend only on ``data`` at each of the three alignments a prefix
    (``login:`` in Basic auth, a JSON envelope …) can put it in; standard and URL-safe alphabets."""
    for pad in range(3):
        start, end = -(-8 * pad // 6), (8 * (pad + len(data))) // 6
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            yield encode(b"\0" * pad + data).decode()[start:end]


def secret_forms(secret: str) -> set[str]:
    """Literal; JSON- and Python-escaped (two levels, either order); URL-encoded (quote, quote_plus,
    either hex case); HTML-escaped; base64 of the secret anywhere inside a larger base64 text."""
    escaped = {secret}
    for _ in range(2):
        escaped |= {escape(form) for form in escaped for escape in (_json_escape, _repr_escape)}
    escaped.add(json.dumps(secret, ensure_ascii=False)[1:-1])
    forms = set(escaped)
    for encoded in (quote(secret, safe=""), quote(secret), quote_plus(secret)):
        forms |= {encoded, re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), encoded)}
    forms.add(html.escape(secret))
    forms.update(_base64_cores(secret.encode()))
    return {form for form in forms if form == secret or len(form) >= MIN_FORM}


class Scrubber:
    """Replaces every form of the registered secrets with ``***`` (one compiled pattern); finds them
    in encoded results with one multi-pattern search."""

    def __init__(self) -> None:
        self._secrets: list[str] = []
        self._forms: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._matcher: Any = None

    def add(self, secret: str | None) -> set[str]:
        """Register a secret; returns its new forms (empty when it was known already or empty)."""
        if not secret or secret in self._secrets:
            return set()
        self._secrets.append(secret)
        new = secret_forms(secret) - self._forms
        import ahocorasick_rs

        self._forms = self._forms | new
        self._pattern = re.compile("|".join(map(re.escape, sorted(self._forms, key=len, reverse=True))))
        # Replaced, never changed: a thread in ``found`` keeps the matcher it read.
        self._matcher = ahocorasick_rs.BytesAhoCorasick([form.encode() for form in self._forms])
        return new

    def __call__(self, text: str) -> str:
        return text if self._pattern is None else self._pattern.sub(MASK, text)

    def found(self, data: bytes) -> bool:
        """Whether any form occurs in UTF-8 ``data``: one Aho-Corasick pass (ahocorasick_rs) for every
        form of every secret. A substring search per form read a 250 KB export page once per form
        (4 for an API key, dozens with OAuth), 200 µs and more a page; the pattern's alternation is
        tried at every offset, slower still (measured, ``benchmarks/bench.py --only export``)."""
        matcher = self._matcher
        return matcher is not None and bool(matcher.find_matches_as_indexes(data))
