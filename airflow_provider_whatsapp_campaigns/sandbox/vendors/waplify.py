"""Waplify (hosted, FastAPI-style) fake: create, send, stats.

Auth follows FastAPI's ``HTTPBearer``: no ``Authorization`` header -> 403
``{"detail": "Not authenticated"}``; an unknown key -> 401 ``{"detail": "Invalid API key"}``.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

from aiohttp import web

from airflow_provider_whatsapp_campaigns.sandbox.common import (
    Reply,
    VendorSpec,
    count_hits,
    iso,
    jresp,
    phase,
    read_json,
    run_forward,
)
from airflow_provider_whatsapp_campaigns.sandbox.state import DEMO, Sandbox, sandbox_of

PREFIX = "/waplify"
API = f"{PREFIX}/api/v1"
MAX_CONTACTS = 10_000
RATIOS = ("failure", "delivered", "read", "click", "reply")


def fail(status: int, error: str, message: str) -> Reply:
    return Reply(jresp({"error": error, "message": message}, status))


def generic(status: int, message: str) -> web.Response:
    code = {400: "bad_request", 404: "not_found", 429: "rate_limited"}.get(status, "internal_error")
    return jresp({"error": code, "message": message}, status)


def rate_limited(request: web.Request, retry_after: float, limit: float, reset: float) -> web.Response:
    return jresp({"error": "rate_limited", "message": "Rate limit exceeded"}, 429, {
        "Retry-After": str(max(1, math.ceil(retry_after))),
        "X-RateLimit-Limit": str(int(limit)),
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(math.ceil(reset)),
    })


def rate_key(request: web.Request) -> str | None:
    auth = request.headers.get("Authorization", "")
    return auth[7:] if auth.startswith("Bearer ") else None


SPEC = VendorSpec("waplify", (PREFIX,), rate_key, generic, rate_limited)


def initial_data(sb: Sandbox) -> dict[str, Any]:
    demo = DEMO["waplify"]
    return {"keys": {demo["api_key"]: {"waba_phone_ids": [demo["waba_phone_id"]]}}, "campaigns": {}}


def _new(sb: Sandbox, key: str, body: dict[str, Any], contacts: list[dict[str, Any]]) -> dict[str, Any]:
    now = sb.now()
    cid = sb.new_id("waplify")
    camp = {
        "id": cid, "api_key": key, "name": body.get("name"), "description": body.get("description"),
        "template_name": body.get("template_name"), "waba_phone_id": body.get("waba_phone_id"),
        "body_data": body.get("body_data"), "header_data": body.get("header_data"),
        "media_url": body.get("media_url"), "scheduled_at": body.get("scheduled_at"),
        "scheduled_timezone": body.get("scheduled_timezone"),
        "status": "scheduled" if body.get("scheduled_at") else "draft",
        "contacts": contacts, "total": len(contacts), "created_at": now, "started_at": None,
        "completed_at": None, "processed": 0, "run_start": now, "rate": None,
        "ratios": {r: body.get(f"{r}_ratio") for r in RATIOS}, "phase": phase(sb.seed, cid),
    }
    sb.data["waplify"]["campaigns"][cid] = camp
    return camp


def seed(sb: Sandbox, body: dict[str, Any]) -> dict[str, Any]:
    """``{"keys": [{api_key, waba_phone_ids}], "campaigns": [{name, api_key="wapl_demo_key",
    contacts: N | [{phone, name}], status="draft"|"running"|..., send_rate, failure_ratio,
    delivered_ratio, read_ratio, click_ratio, reply_ratio}]}`` (no 10,000 cap when seeding)."""
    data = sb.data["waplify"]
    for key in body.get("keys", []):
        data["keys"][key["api_key"]] = {"waba_phone_ids": key.get("waba_phone_ids", [])}
    ids = []
    for spec in body.get("campaigns", []):
        contacts = spec.get("contacts", 10)
        if isinstance(contacts, int):
            contacts = [{"phone": f"+4477{i:08d}", "name": f"Contact {i + 1}"} for i in range(contacts)]
        camp = _new(sb, spec.get("api_key", DEMO["waplify"]["api_key"]), spec, contacts)
        camp["status"] = spec.get("status", camp["status"])
        if spec.get("send_rate"):
            camp["rate"] = spec["send_rate"]
        if camp["status"] == "running":
            _arm(sb, camp)
        ids.append(camp["id"])
    return {"campaign_ids": ids}


def _arm(sb: Sandbox, c: dict[str, Any]) -> None:
    now = sb.now()
    c["status"], c["started_at"], c["run_start"] = "running", now, now
    c["rate"] = c["rate"] or sb.cfg("waplify_send_rate")
    for r in RATIOS:
        if c["ratios"][r] is None:
            c["ratios"][r] = sb.cfg(f"waplify_{r}_ratio")


def _sync(sb: Sandbox, c: dict[str, Any]) -> dict[str, Any]:
    due = c.get("send_due")
    if due is not None and sb.now() >= due:
        c["send_due"] = None
        _arm(sb, c)
        c["started_at"] = c["run_start"] = due  # the worker picked it up then, not when someone looked
    if c["status"] == "running" and run_forward(c, c["total"], sb.now()):
        c["status"], c["completed_at"] = "completed", c["finished_at"]
    return c


def stats(c: dict[str, Any]) -> dict[str, Any]:
    """Funnel total -> sent -> delivered -> read -> clicked; failed and replied beside it."""
    r = c["ratios"]
    processed = c["processed"]
    failed = count_hits(0, processed, float(r["failure"] or 0.0), c["phase"])
    sent = processed - failed
    delivered = int(sent * float(r["delivered"] or 0.0))
    read = int(delivered * float(r["read"] or 0.0))
    return {
        "status": "success", "campaign_id": c["id"], "name": c["name"], "campaign_status": c["status"],
        "total_contacts": c["total"], "sent_count": sent, "delivered_count": delivered,
        "read_count": read, "clicked_count": int(read * float(r["click"] or 0.0)), "failed_count": failed,
        "replied_count": int(read * float(r["reply"] or 0.0)), "success_count": c["total"] - failed,
        "created_at": iso(c["created_at"]), "scheduled_at": c["scheduled_at"],
        "started_at": iso(c["started_at"]), "completed_at": iso(c["completed_at"]),
    }


def public(c: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": c["id"], "name": c["name"], "description": c["description"],
        "template_name": c["template_name"], "waba_phone_id": c["waba_phone_id"],
        "status": c["status"], "total_contacts": c["total"], "scheduled_at": c["scheduled_at"],
        "scheduled_timezone": c["scheduled_timezone"], "created_at": iso(c["created_at"]),
    }


def _auth(request: web.Request) -> str:
    key = rate_key(request)
    if key is None:
        raise Reply(jresp({"detail": "Not authenticated"}, 403))
    if key not in sandbox_of(request).data["waplify"]["keys"]:
        raise Reply(jresp({"detail": "Invalid API key"}, 401))
    return key


def _get(request: web.Request) -> dict[str, Any]:
    key = _auth(request)
    ident = request.match_info["id"]
    try:
        uuid.UUID(ident)
    except ValueError:
        raise fail(400, "bad_request", "Invalid campaign id") from None
    sb = sandbox_of(request)
    camp = sb.data["waplify"]["campaigns"].get(ident)
    if camp is None or camp["api_key"] != key:
        raise fail(404, "not_found", "Campaign not found")
    return _sync(sb, camp)


async def create(request: web.Request) -> web.Response:
    sb = sandbox_of(request)
    key = _auth(request)
    try:
        body = await read_json(request)
    except ValueError:
        raise fail(400, "bad_request", "Request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise fail(400, "bad_request", "Request body must be an object")
    if not body.get("name") or not body.get("template_name"):
        raise fail(400, "bad_request", "name and template_name are required")
    contacts = body.get("contacts")
    if not isinstance(contacts, list) or not 1 <= len(contacts) <= MAX_CONTACTS:
        raise fail(400, "bad_request", f"contacts must contain between 1 and {MAX_CONTACTS} items")
    if not all(isinstance(c, dict) and c.get("phone") for c in contacts):
        raise fail(400, "bad_request", "every contact needs a phone")
    waba = body.get("waba_phone_id")
    if waba is not None and waba not in sb.data["waplify"]["keys"][key]["waba_phone_ids"]:
        raise fail(400, "bad_request", "Unknown waba_phone_id for this API key")
    sb.counters.creates["waplify"][str(body["name"])] += 1
    rows = [{"phone": str(c["phone"]), "name": c.get("name")} for c in contacts]
    return jresp(public(_new(sb, key, body, rows)), 201)


async def send(request: web.Request) -> web.Response:
    sb = sandbox_of(request)
    camp = _get(request)
    if camp.get("send_due") is not None:
        raise fail(400, "bad_request", "Campaign has already been sent")
    if camp["status"] not in ("draft", "scheduled"):
        raise fail(400, "bad_request", f"Campaign cannot be sent: it is {camp['status']}")
    lag = float(sb.cfg("waplify_send_lag"))
    if lag > 0:
        camp["send_due"] = sb.now() + lag  # still `draft` until the background worker picks it up
    else:
        _arm(sb, camp)
    sb.counters.starts["waplify"][camp["id"]] += 1
    task_id = str(uuid.UUID(sb.new_id("waplify-task")))
    return jresp({"status": "accepted", "task_id": task_id}, 202)


async def get_stats(request: web.Request) -> web.Response:
    return jresp(stats(_get(request)))


def state(sb: Sandbox, ident: str) -> dict[str, Any] | None:
    camp = sb.data["waplify"]["campaigns"].get(ident)
    if camp is None:
        return None
    _sync(sb, camp)
    return {**{k: v for k, v in camp.items() if k != "contacts"}, "stats": stats(camp)}


ROUTES = [
    web.post(f"{API}/campaigns/", create),
    web.post(f"{API}/campaigns/{{id}}/send", send),
    web.get(f"{API}/campaigns/{{id}}/stats", get_stats),
]
