"""Helpers shared by every fake vendor: clock, rate limiter, faults, counters, envelopes.

Kept vendor-neutral on purpose so that each vendor module only describes what differs
(paths, bodies, error shapes) and the behaviour under test (limits, faults) is identical.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import random
import re
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

#: 2018-01-01T00:00:00Z, Insider's documented lower bound for statistics windows.
INSIDER_EPOCH = 1514764800
DAY = 86400


class Reply(Exception):
    """Raised by handlers/helpers to short-circuit with a ready vendor response."""

    def __init__(self, response: web.StreamResponse) -> None:
        super().__init__(response.status)
        self.response = response


def jresp(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """JSON response without aiohttp's slower defaults."""
    return web.Response(
        text=json.dumps(data), status=status, content_type="application/json", headers=headers
    )


async def read_json(request: web.Request) -> Any:
    """Parse the JSON body; raise ``ValueError`` when it is not JSON (vendors answer differently)."""
    raw = await request.read()
    if not raw:
        return {}
    return json.loads(raw)


# --------------------------------------------------------------------------- clock


class SandboxClock:
    """Unix-like seconds = real monotonic time x ``speed`` + manual offset.

    It starts at the wall clock so timestamps look real, but only moves by monotonic time
    (scaled) and explicit ``advance`` calls, so tests can jump minutes ahead instantly.
    """

    def __init__(self, start: float | None = None, speed: float = 1.0) -> None:
        self._base_value = time.time() if start is None else start
        self._base_mono = time.monotonic()
        self.speed = speed

    def now(self) -> float:
        return self._base_value + (time.monotonic() - self._base_mono) * self.speed

    def advance(self, seconds: float) -> float:
        self._base_value += seconds
        return self.now()

    def set_speed(self, speed: float) -> None:
        """Rebase first, so changing the speed never makes the clock jump."""
        self._base_value = self.now()
        self._base_mono = time.monotonic()
        self.speed = speed


def iso(ts: float | None) -> str | None:
    """RFC 3339 UTC with a Z, as Go and FastAPI servers print it."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sql_time(ts: float | None) -> str | None:
    """``YYYY-MM-DD HH:MM:SS`` as PHP/Laravel APIs (SPRL) print it."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def day_start(ts: float) -> int:
    return int(ts // DAY * DAY)


def day_str(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def parse_date(value: str, end_of_day: bool = False) -> float:
    """Accept ``YYYY-MM-DD`` or RFC 3339; a bare date used as an upper bound covers the whole day."""
    if len(value) == 10:
        ts = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
        return ts + DAY - 1 if end_of_day else ts
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


# --------------------------------------------------------------------------- determinism


def digest(*parts: Any, size: int = 16) -> str:
    """Stable hex digest of the parts (ids, message ids, phases)."""
    return hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=size).hexdigest()


def stable_uuid(*parts: Any) -> str:
    h = digest(*parts, size=16)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


def phase(*parts: Any) -> float:
    """A seed-derived offset in [0, 1) for :func:`count_hits`."""
    return int(digest(*parts, size=8), 16) / 2**64


def count_hits(start: int, end: int, ratio: float, ph: float) -> int:
    """How many of items ``start..end-1`` are hits for a low-discrepancy pattern.

    Item ``i`` is a hit iff ``floor((i+1)r + ph) > floor(i r + ph)``: deterministic, evenly spread
    and O(1) to count, which keeps 100,000-recipient campaigns cheap.
    """
    if end <= start or ratio <= 0:
        return 0
    ratio = min(ratio, 1.0)
    return math.floor(end * ratio + ph) - math.floor(start * ratio + ph)


def is_hit(i: int, ratio: float, ph: float) -> bool:
    return count_hits(i, i + 1, ratio, ph) == 1


# --------------------------------------------------------------------------- rate limiting


class RateLimiter:
    """Sliding-window limiter keyed by anything hashable; times come from the sandbox clock."""

    def __init__(self) -> None:
        self._hits: dict[Any, deque[float]] = defaultdict(deque)

    def check(self, key: Any, limit: float, now: float, window: float = 1.0) -> tuple[bool, int, float]:
        """Record a hit if allowed; return ``(allowed, remaining, seconds_until_a_slot_frees)``."""
        hits = self._hits[key]
        while hits and hits[0] <= now - window:
            hits.popleft()
        if len(hits) >= limit:
            return False, 0, max(hits[0] + window - now, 0.0)
        hits.append(now)
        reset = hits[0] + window - now
        return True, int(limit - len(hits)), reset

    def clear(self) -> None:
        self._hits.clear()


# --------------------------------------------------------------------------- faults

FAULT_MODES = ("error", "reset", "slow", "lost")


@dataclass
class FaultRule:
    """One injected fault; ``times=None`` means "until cleared" (then ``probability`` applies).

    ``skip``: let that many matching requests through first (e.g. stall only the second batch).
    """

    mode: str
    vendor: str = "*"
    method: str = "*"
    path: str = ".*"
    status: int = 500
    delay_ms: int = 0
    times: int | None = None
    probability: float = 1.0
    skip: int = 0
    _rx: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.mode not in FAULT_MODES:
            raise ValueError(f"mode must be one of {FAULT_MODES}")
        self.method = self.method.upper()
        self._rx = re.compile(self.path)

    def matches(self, vendor: str, method: str, path: str) -> bool:
        return (
            self.vendor in ("*", vendor)
            and self.method in ("*", method)
            and self._rx.search(path) is not None
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            k: getattr(self, k)
            for k in ("mode", "vendor", "method", "path", "status", "delay_ms", "times", "probability", "skip")
        }


class FaultBook:
    """Ordered fault rules; the first matching rule that fires wins."""

    def __init__(self, seed: int) -> None:
        self.rules: list[FaultRule] = []
        self.rng = random.Random(seed)
        self.fired: dict[str, int] = defaultdict(int)

    def take(self, vendor: str, method: str, path: str) -> FaultRule | None:
        for rule in self.rules:
            if not rule.matches(vendor, method, path):
                continue
            if rule.skip > 0:
                rule.skip -= 1
                continue
            if rule.probability < 1.0 and self.rng.random() >= rule.probability:
                continue
            if rule.times is not None:
                rule.times -= 1
                if rule.times <= 0:
                    self.rules.remove(rule)
            self.fired[rule.mode] += 1
            return rule
        return None


def drop_connection(request: web.Request) -> None:
    """Abort the TCP connection: the client sees a reset / disconnect and no HTTP response."""
    if request.transport is not None:
        request.transport.abort()


async def sleep_ms(ms: int) -> None:
    if ms > 0:
        await asyncio.sleep(ms / 1000)


# --------------------------------------------------------------------------- counters


class Counters:
    """What tests assert on: requests, 429s, creates, accepted starts, mints, logins.

    ``peak_rps``: most requests one rate-limit key had in any one-second window (limited vendors
    only); ``abandoned``: requests not applied because the client left during an injected stall;
    ``mints_refused``: Insider token requests refused by the mint limit (also in ``rate_limited``);
    ``total_requests``: every request outside the admin API, under a vendor prefix or not (a
    client bug that escapes a vendor's path, e.g. with ``..``, is still counted).
    """

    def __init__(self) -> None:
        self.total_requests = 0
        self.requests: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.rate_limited: dict[str, int] = defaultdict(int)
        self.creates: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.starts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.tokens_minted: dict[str, int] = defaultdict(int)
        self.logins: dict[str, int] = defaultdict(int)
        self.refreshes: dict[str, int] = defaultdict(int)
        self.faults: dict[str, int] = defaultdict(int)
        self.peak_rps: dict[str, int] = defaultdict(int)
        self.abandoned: dict[str, int] = defaultdict(int)
        self.mints_refused: dict[str, int] = defaultdict(int)

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(self.__dict__))


@dataclass
class VendorSpec:
    """How the shared middleware talks one vendor's dialect."""

    name: str
    prefixes: tuple[str, ...]
    #: credential used as the rate-limit key (``None``: not limited, auth will fail anyway)
    rate_key: Callable[[web.Request], str | None]
    #: generic vendor error body for an HTTP status (used by injected faults)
    error: Callable[[int, str], web.Response]
    #: the vendor's 429: ``(request, retry_after_s, limit, reset_epoch)``
    rate_limited: Callable[[web.Request, float, float, float], web.Response]
    #: the vendor's own answer to an unknown route (404) or method (405); ``None``: aiohttp's
    unrouted: Callable[[int], web.Response] | None = None


def run_forward(c: dict[str, Any], total: int, now: float) -> bool:
    """Advance a sending job: ``c`` holds ``processed``, ``run_start`` and ``rate`` (items/s).

    ``run_start`` moves with the whole items sent so rounding never drifts; returns True once
    every item is processed and records the exact finish time in ``finished_at``.
    """
    rate = float(c["rate"]) or 1.0
    done = min(total, c["processed"] + max(0, int((now - c["run_start"]) * rate)))
    if done > c["processed"]:
        c["run_start"] += (done - c["processed"]) / rate
        c["processed"] = done
    if c["processed"] >= total:
        c["finished_at"] = c["run_start"]
        return True
    return False
