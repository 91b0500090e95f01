"""``SandboxAdmin``: a thin ``requests`` wrapper over the sandbox admin API (tests, demo)."""

from __future__ import annotations

from typing import Any

import requests


class SandboxAdmin:
    """Drive ``/__sandbox__/``; every method returns the decoded JSON answer."""

    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        resp = self.session.request(method, f"{self.base_url}/__sandbox__/{path}", timeout=self.timeout, **kwargs)
        if resp.status_code >= 400:
            raise RuntimeError(f"sandbox admin {method} {path} -> {resp.status_code}: {resp.text}")
        return resp.json()

    def health(self) -> dict[str, Any]:
        return self._call("GET", "health")  # type: ignore[no-any-return]

    def reset(self, seed: int | None = None) -> dict[str, Any]:
        return self._call("POST", "reset", json={} if seed is None else {"seed": seed})  # type: ignore[no-any-return]

    def configure(self, vendor: str | None = None, **opts: Any) -> dict[str, Any]:
        """``configure("sprl", ignore_page=True)`` or ``configure(speed=10)``."""
        body = dict(opts)
        if vendor:
            body["vendor"] = vendor
        return self._call("POST", "config", json=body)  # type: ignore[no-any-return]

    def config(self) -> dict[str, Any]:
        return self._call("GET", "config")  # type: ignore[no-any-return]

    def fault(
        self,
        mode: str,
        *,
        vendor: str = "*",
        method: str = "*",
        path: str = ".*",
        status: int = 500,
        delay_ms: int = 0,
        times: int | None = None,
        probability: float = 1.0,
        skip: int = 0,
    ) -> dict[str, Any]:
        """Add a fault rule: mode ``error`` (status S), ``reset``, ``slow`` (delay_ms) or ``lost``;
        ``skip`` matching requests pass untouched first."""
        rule = {"mode": mode, "vendor": vendor, "method": method, "path": path, "status": status,
                "delay_ms": delay_ms, "times": times, "probability": probability, "skip": skip}
        return self._call("POST", "faults", json=rule)  # type: ignore[no-any-return]

    def faults(self) -> list[dict[str, Any]]:
        return self._call("GET", "faults")["rules"]  # type: ignore[no-any-return]

    def clear_faults(self) -> None:
        self._call("DELETE", "faults")

    def advance(self, seconds: float) -> float:
        """Jump the sandbox clock forward; returns the new sandbox time."""
        return float(self._call("POST", "advance", json={"seconds": seconds})["now"])

    def now(self) -> float:
        return float(self._call("GET", "clock")["now"])

    def seed(self, vendor: str, **body: Any) -> dict[str, Any]:
        return self._call("POST", f"seed/{vendor}", json=body)  # type: ignore[no-any-return]

    def seed_sprl(self, campaigns: list[dict[str, Any]] | None = None,
                  clients: list[dict[str, Any]] | None = None) -> list[str]:
        return self.seed("sprl", campaigns=campaigns or [], clients=clients or [])["campaign_uids"]  # type: ignore[no-any-return]

    def seed_insider(self, campaigns: list[dict[str, Any]] | None = None,
                     keys: list[dict[str, Any]] | None = None) -> list[int]:
        return self.seed("insider", campaigns=campaigns or [], keys=keys or [])["campaign_ids"]  # type: ignore[no-any-return]

    def seed_whatomate(self, campaigns: list[dict[str, Any]] | None = None, accounts: list[str] | None = None,
                       api_keys: list[str | dict[str, str]] | None = None, users: list[dict[str, str]] | None = None,
                       templates: list[dict[str, str]] | None = None) -> list[str]:
        """Campaign ids; seeded templates' ids are ``seed("whatomate", templates=…)["template_ids"]``."""
        return self.seed("whatomate", campaigns=campaigns or [], accounts=accounts or [],  # type: ignore[no-any-return]
                         api_keys=api_keys or [], users=users or [], templates=templates or [])["campaign_ids"]

    def seed_waplify(self, campaigns: list[dict[str, Any]] | None = None,
                     keys: list[dict[str, Any]] | None = None) -> list[str]:
        return self.seed("waplify", campaigns=campaigns or [], keys=keys or [])["campaign_ids"]  # type: ignore[no-any-return]

    def state(self, vendor: str, campaign_id: str | int) -> dict[str, Any]:
        return self._call("GET", f"state/{vendor}/{campaign_id}")  # type: ignore[no-any-return]

    def counters(self) -> dict[str, Any]:
        return self._call("GET", "counters")  # type: ignore[no-any-return]

    def transactional_total(self, start_time: int, end_time: int, api_key: str = "INS.demo-api-key",
                            accounts: list[str] | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"start_time": start_time, "end_time": end_time, "api_key": api_key}
        if accounts:
            params["accounts"] = ",".join(accounts)
        return self._call("GET", "insider/transactional-total", params=params)  # type: ignore[no-any-return]
