"""The single aiohttp application serving all five fake vendor APIs plus the admin API.

Every vendor request passes one shared middleware that counts it, applies injected faults
and enforces the per-key rate limit in the vendor's own dialect, so vendors cannot drift apart.

Admin API (JSON, under ``/__sandbox__/``):

- ``GET health``; ``POST reset {"seed"?}``; ``GET|POST config`` (``{"vendor": v, opt: x}`` or flat
  ``{"v_opt": x}``, see ``state.DEFAULT_CONFIG``); ``GET|POST|DELETE faults`` (one rule or
  ``{"rules": [...]}``, fields of ``common.FaultRule``); ``POST advance {"seconds"}``; ``GET clock``;
  ``POST seed/<vendor>`` (body per vendor module ``seed`` docstring); ``GET state/<vendor>/<id>``;
  ``GET counters`` (``total_requests`` counts every non-admin request); ``GET insider/transactional-total?start_time&end_time[&api_key][&accounts=a,b]``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from airflow_provider_whatsapp_campaigns.sandbox.common import (
    INSIDER_EPOCH,
    FaultRule,
    Reply,
    VendorSpec,
    drop_connection,
    jresp,
    read_json,
    sleep_ms,
)
from airflow_provider_whatsapp_campaigns.sandbox.state import (
    DEFAULT_CONFIG,
    SANDBOX_KEY,
    VENDORS,
    Sandbox,
    sandbox_of,
)
from airflow_provider_whatsapp_campaigns.sandbox.vendors import MODULES, insider

ADMIN = "/__sandbox__"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_SPECS: list[tuple[str, VendorSpec]] = [
    (prefix + "/", module.SPEC) for module in MODULES.values() for prefix in module.SPEC.prefixes
]


def _vendor_of(path: str) -> VendorSpec | None:
    for prefix, spec in _SPECS:
        if path.startswith(prefix):
            return spec
    return None


class _Dropped(web.StreamResponse):
    """Placeholder returned after the transport was aborted; nothing is ever written."""

    async def prepare(self, request: Any) -> None:  # type: ignore[override]
        return None

    async def write_eof(self, data: bytes = b"") -> None:
        return None


@web.middleware
async def vendor_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith(ADMIN + "/"):
        sandbox_of(request).counters.total_requests += 1
    spec = _vendor_of(request.path)
    if spec is None:
        try:
            return await handler(request)
        except Reply as reply:
            return reply.response
    sb = sandbox_of(request)
    route = request.match_info.route.resource
    endpoint = f"{request.method} {route.canonical if route is not None else request.path}"
    sb.counters.requests[spec.name][endpoint] += 1
    fault = sb.faults.take(spec.name, request.method, request.path)
    if fault is not None:
        sb.counters.faults[fault.mode] += 1
        if fault.mode == "slow":
            await sleep_ms(fault.delay_ms)
            if request.transport is None or request.transport.is_closing():
                # The client went away while we stalled (e.g. its process was killed): like a
                # Go server whose request context is cancelled, do not apply the request.
                sb.counters.abandoned[spec.name] += 1
                return _Dropped()
        elif fault.mode == "reset":
            drop_connection(request)
            return _Dropped()
        elif fault.mode == "error":
            return spec.error(fault.status, "Injected fault" if fault.status < 500 else "Internal server error")
    limit = sb.cfg(f"{spec.name}_rate_limit")
    key = spec.rate_key(request) if limit else None
    if key is not None:
        allowed, remaining, wait = sb.limiter.check((spec.name, key), float(limit), sb.now())
        if not allowed:
            sb.counters.rate_limited[spec.name] += 1
            return spec.rate_limited(request, wait, float(limit), sb.now() + wait)
        in_window = int(limit) - remaining
        sb.counters.peak_rps[spec.name] = max(sb.counters.peak_rps[spec.name], in_window)
    unrouted = getattr(request.match_info, "http_exception", None)
    response: web.StreamResponse
    try:
        if unrouted is not None and spec.unrouted is not None:
            response = spec.unrouted(unrouted.status)
        else:
            response = await handler(request)
    except Reply as reply:
        response = reply.response
    if request.method != "GET":
        sb.persist()
    if fault is not None and fault.mode == "lost":
        drop_connection(request)
        return _Dropped()
    return response


# ---------------------------------------------------------------- admin API


def _bad(message: str, status: int = 400) -> Reply:
    return Reply(jresp({"error": message}, status))


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        body = await read_json(request)
    except ValueError:
        raise _bad("body must be JSON") from None
    if not isinstance(body, dict):
        raise _bad("body must be a JSON object")
    return body


async def health(request: web.Request) -> web.Response:
    return jresp({"ok": True, "now": sandbox_of(request).now()})


async def reset(request: web.Request) -> web.Response:
    sb = sandbox_of(request)
    body = await _json(request)
    sb.reset(body.get("seed"))
    return jresp({"ok": True, "seed": sb.seed})


async def get_config(request: web.Request) -> web.Response:
    return jresp(sandbox_of(request).config)


async def set_config(request: web.Request) -> web.Response:
    sb = sandbox_of(request)
    try:
        config = sb.configure(await _json(request))
    except KeyError as exc:
        raise _bad(f"unknown setting {exc.args[0]!r}; known: {sorted(DEFAULT_CONFIG)}") from None
    except ValueError as exc:
        raise _bad(str(exc)) from None
    sb.persist()
    return jresp(config)


async def get_faults(request: web.Request) -> web.Response:
    return jresp({"rules": [r.to_dict() for r in sandbox_of(request).faults.rules]})


async def add_fault(request: web.Request) -> web.Response:
    """Body: one rule or ``{"rules": [...]}``; see :class:`FaultRule` for the fields."""
    sb = sandbox_of(request)
    body = await _json(request)
    try:
        rules = [FaultRule(**r) for r in body.get("rules", [body])]
    except (TypeError, ValueError) as exc:
        raise _bad(str(exc)) from None
    sb.faults.rules.extend(rules)
    return jresp({"rules": [r.to_dict() for r in sb.faults.rules]})


async def clear_faults(request: web.Request) -> web.Response:
    sandbox_of(request).faults.rules.clear()
    return jresp({"rules": []})


async def advance(request: web.Request) -> web.Response:
    sb = sandbox_of(request)
    body = await _json(request)
    seconds = body.get("seconds")
    if not isinstance(seconds, int | float) or seconds < 0:
        raise _bad("seconds must be a non-negative number")
    return jresp({"now": sb.clock.advance(float(seconds))})


async def clock(request: web.Request) -> web.Response:
    sb = sandbox_of(request)
    return jresp({"now": sb.now(), "speed": sb.clock.speed})


def _vendor(request: web.Request) -> str:
    vendor = request.match_info["vendor"]
    if vendor not in VENDORS:
        raise _bad(f"unknown vendor {vendor!r}; one of {VENDORS}", 404)
    return vendor


async def seed_vendor(request: web.Request) -> web.Response:
    sb = sandbox_of(request)
    vendor = _vendor(request)
    try:
        result = MODULES[vendor].seed(sb, await _json(request))
    except (KeyError, TypeError, ValueError) as exc:
        raise _bad(f"bad seed body: {exc!r}") from None
    sb.persist()
    return jresp(result)


async def state(request: web.Request) -> web.Response:
    sb = sandbox_of(request)
    result = MODULES[_vendor(request)].state(sb, request.match_info["id"])
    if result is None:
        raise _bad("no such campaign", 404)
    return jresp(result)


async def counters(request: web.Request) -> web.Response:
    sb = sandbox_of(request)
    return jresp(sb.counters.to_dict())


async def transactional_total(request: web.Request) -> web.Response:
    """Insider transactional totals for any range (no one-year cap): the reference for merges."""
    sb = sandbox_of(request)
    q = request.query
    try:
        start = int(q.get("start_time", INSIDER_EPOCH))
        end = int(q["end_time"]) if "end_time" in q else int(sb.now())
    except ValueError:
        raise _bad("start_time/end_time must be integers") from None
    api_key = q.get("api_key", "INS.demo-api-key")
    partner = next((p for p in sb.data["insider"]["partners"].values() if p["api_key"] == api_key), None)
    if partner is None:
        raise _bad("unknown api_key", 404)
    accounts = q.get("accounts")
    result = insider.transactional(sb, partner, start, end, accounts.split(",") if accounts else None)
    result["days"] = len(result["chart"]["dates"])
    return jresp(result)


def create_app(seed: int = 0, state_file: str | None = None) -> web.Application:
    """Build the sandbox app; ``state_file`` keeps campaigns across restarts."""
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    app = web.Application(middlewares=[vendor_middleware], client_max_size=64 * 1024**2)
    app[SANDBOX_KEY] = Sandbox(seed=seed, state_file=state_file)
    for module in MODULES.values():
        app.router.add_routes(module.ROUTES)
    app.router.add_routes([
        web.get(f"{ADMIN}/health", health),
        web.post(f"{ADMIN}/reset", reset),
        web.get(f"{ADMIN}/config", get_config),
        web.post(f"{ADMIN}/config", set_config),
        web.get(f"{ADMIN}/faults", get_faults),
        web.post(f"{ADMIN}/faults", add_fault),
        web.delete(f"{ADMIN}/faults", clear_faults),
        web.post(f"{ADMIN}/advance", advance),
        web.get(f"{ADMIN}/clock", clock),
        web.post(f"{ADMIN}/seed/{{vendor}}", seed_vendor),
        web.get(f"{ADMIN}/state/{{vendor}}/{{id}}", state),
        web.get(f"{ADMIN}/counters", counters),
        web.get(f"{ADMIN}/insider/transactional-total", transactional_total),
    ])
    return app
