"""The sandbox's in-memory state (optionally persisted to one JSON file) and its settings."""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

from aiohttp import web

from airflow_provider_whatsapp_campaigns.sandbox.common import (
    Counters,
    FaultBook,
    RateLimiter,
    SandboxClock,
    stable_uuid,
)

# Sandbox-only demo credentials. They are NOT real vendor secrets; they only open this fake.
DEMO = {
    "sprl": {"client_id": "demo-client", "api_key": "sprl_demo_key", "account_id": "demo-account"},
    "insider": {
        "api_key": "INS.demo-api-key",
        "client_id": "demo-client",
        "client_secret": "demo-secret",
    },
    "whatomate": {
        "api_key": "whm_demo_key",
        "email": "demo@example.com",
        "password": "demo-password",
        "whatsapp_account": "demo-account",
    },
    "waplify": {"api_key": "wapl_demo_key", "waba_phone_id": "demo-waba"},
}

VENDORS = ("sprl", "insider", "whatomate", "waplify")

#: Every setting with its default. ``None`` rate limit = unlimited. Keys are ``<vendor>_<option>``.
DEFAULT_CONFIG: dict[str, Any] = {
    "speed": 1.0,
    # SPRL
    "sprl_rate_limit": None,
    "sprl_ignore_page": False,
    # Insider
    "insider_rate_limit": 100,
    "insider_token_ttl": 3600,
    "insider_mint_limit": 10,
    "insider_error_style": "auto",  # auto | string | object
    "insider_drain_rate": 1.0,  # deliveryPending drained per sandbox second (seed may override)
    # Whatomate
    "whatomate_rate_limit": None,
    "whatomate_build": "387cae4",  # 387cae4 (verified real server) | paginated (newer builds)
    "whatomate_login_tokens": "body",  # body | cookies
    "whatomate_access_ttl": 900,
    "whatomate_refresh_ttl": 7 * 86400,
    "whatomate_send_rate": 50.0,
    "whatomate_failure_ratio": 0.0,
    "whatomate_delivered_ratio": 1.0,
    "whatomate_queue_delay": 0.05,  # build 387cae4: seconds in `queued` before `processing`
    # None: recipients unpaged, as the verified server (387cae4) answers; N: a build that pages them
    # (`page`, `limit` up to N, default 50) — what benchmarks and paging tests use.
    "whatomate_recipients_page_max": None,
    # Waplify
    "waplify_rate_limit": 10,
    "waplify_send_rate": 20.0,
    # Seconds between a send's 202 and the campaign leaving `draft` (the real background worker's lag);
    # a second send meanwhile answers 400 "Campaign has already been sent".
    "waplify_send_lag": 0.0,
    "waplify_failure_ratio": 0.02,
    "waplify_delivered_ratio": 0.95,
    "waplify_read_ratio": 0.6,
    "waplify_click_ratio": 0.1,
    "waplify_reply_ratio": 0.05,
}

#: Settings that name a behaviour: a typo must fail instead of silently meaning the default.
CHOICES: dict[str, tuple[str, ...]] = {
    "insider_error_style": ("auto", "string", "object"),
    "whatomate_build": ("387cae4", "paginated"),
    "whatomate_login_tokens": ("body", "cookies"),
}


class Sandbox:
    """Everything one sandbox process knows. ``data`` is the JSON-serialisable part."""

    def __init__(self, seed: int = 0, state_file: str | None = None) -> None:
        self.state_file = state_file
        restore = bool(state_file and os.path.exists(state_file))
        self.reset(seed, persist=not restore)
        if restore:
            self.load()

    def reset(self, seed: int | None = None, persist: bool = True) -> None:
        """Back to the demo data and default settings (``persist=False`` while loading a file)."""
        from airflow_provider_whatsapp_campaigns.sandbox import vendors

        if seed is not None:
            self.seed = seed
        self.config: dict[str, Any] = dict(DEFAULT_CONFIG)
        self.clock = SandboxClock()
        self.faults = FaultBook(self.seed)
        self.limiter = RateLimiter()
        self.counters = Counters()
        self.cache: dict[Any, Any] = {}
        self.data: dict[str, Any] = {"ids": {}}
        for name, module in vendors.MODULES.items():
            self.data[name] = module.initial_data(self)
        if persist:
            self.persist()

    def now(self) -> float:
        return self.clock.now()

    def cfg(self, key: str) -> Any:
        return self.config[key]

    def configure(self, opts: dict[str, Any]) -> dict[str, Any]:
        """Apply ``{"vendor": v, opt: value}`` or flat ``{"v_opt": value}`` settings."""
        vendor = opts.pop("vendor", None)
        for key, value in opts.items():
            full = f"{vendor}_{key}" if vendor and not key.startswith(f"{vendor}_") else key
            if full not in DEFAULT_CONFIG:
                raise KeyError(full)
            if full in CHOICES and value not in CHOICES[full]:
                raise ValueError(f"{full} must be one of {CHOICES[full]}, got {value!r}")
            self.config[full] = value
            if full == "speed":
                self.clock.set_speed(float(value))
        return self.config

    def new_id(self, vendor: str) -> str:
        """Deterministic UUID per (seed, vendor, n): same seed, same ids."""
        n = self.data["ids"].get(vendor, 0) + 1
        self.data["ids"][vendor] = n
        return stable_uuid(self.seed, vendor, n)

    # ---------------------------------------------------------------- persistence

    def persist(self) -> None:
        """Write atomically (temp file + rename) so a crash never leaves half a file."""
        if not self.state_file:
            return
        payload = {"seed": self.seed, "now": self.now(), "config": self.config, "data": self.data}
        directory = os.path.dirname(os.path.abspath(self.state_file))
        fd, tmp = tempfile.mkstemp(prefix=".sandbox-", dir=directory)
        try:
            with os.fdopen(fd, "w") as fh:
                json.dump(payload, fh)
            os.replace(tmp, self.state_file)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def load(self) -> None:
        assert self.state_file
        with open(self.state_file) as fh:
            payload = json.load(fh)
        self.seed = payload["seed"]
        self.config.update(payload["config"])
        self.data = payload["data"]
        # The clock never goes backwards across a restart (campaign timestamps stay ordered).
        self.clock = SandboxClock(start=max(payload["now"], self.clock.now()), speed=self.config["speed"])
        self.faults = FaultBook(self.seed)


SANDBOX_KEY = web.AppKey("sandbox", Sandbox)


def sandbox_of(request: web.Request) -> Sandbox:
    return request.app[SANDBOX_KEY]
