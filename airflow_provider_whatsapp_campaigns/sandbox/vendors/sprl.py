"""SPRL campaign tracking fake (read-only API; campaigns come from the admin seed)."""

from __future__ import annotations

import math
import random
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from airflow_provider_whatsapp_campaigns.sandbox.common import (
    VendorSpec,
    digest,
    jresp,
    read_json,
    sql_time,
)
from airflow_provider_whatsapp_campaigns.sandbox.state import DEMO, Sandbox, sandbox_of

PREFIX = "/sprl/api"
# Contact levels; a contact's status is its highest level reached.
LEVELS = ("failed", "sent", "delivered", "read", "replied")
PENDING = "pending"
CONTACT_STATUSES = (PENDING, *LEVELS)

FLAGS = {
    101: (401, "INVALID_CREDENTIALS"),
    102: (422, "INVALID_PARAMETER"),
    103: (403, None),
    104: (400, "INSUFFICIENT_BALANCE"),
    105: (500, "UNEXPECTED_ERROR"),
    129: (429, None),
}


def error(code: int, flag: str | None = None, **body: Any) -> web.Response:
    """SPRL error envelope: ``status: false``, numeric ``code``, message/errors/error, flag."""
    status, default_flag = FLAGS.get(code, (500, "UNEXPECTED_ERROR"))
    payload: dict[str, Any] = {"status": False, "code": code, **body}
    if flag or default_flag:
        payload["flag"] = flag or default_flag
    return jresp(payload, status)


def generic_error(status: int, message: str) -> web.Response:
    code = {401: 101, 422: 102, 403: 103, 400: 104, 429: 129}.get(status, 105)
    if code == 105:
        return jresp({"status": False, "code": 105, "error": message, "flag": "UNEXPECTED_ERROR"}, status)
    return jresp({"status": False, "code": code, "message": message}, status)


def rate_limited(request: web.Request, retry_after: float, limit: float, reset: float) -> web.Response:
    # SPRL publishes no burst limit; when one is configured we answer a bare 429 (guess).
    return jresp(
        {"status": False, "code": 429, "message": "Too Many Requests"},
        429,
        {"Retry-After": str(max(1, math.ceil(retry_after)))},
    )


def rate_key(request: web.Request) -> str | None:
    auth = request.headers.get("Authorization", "")
    return auth[7:] if auth.startswith("Bearer ") else None


SPEC = VendorSpec("sprl", (PREFIX,), rate_key, generic_error, rate_limited)


def initial_data(sb: Sandbox) -> dict[str, Any]:
    demo = DEMO["sprl"]
    data: dict[str, Any] = {
        "clients": {
            demo["client_id"]: {
                "api_key": demo["api_key"],
                "accounts": [demo["account_id"]],
                "blocked": None,
                "insufficient_balance": False,
                "limit_reached": None,
            }
        },
        "campaigns": {},
    }
    _add_campaign(sb, data, {"campaign_uid": "demo-campaign", "name": "Demo campaign", "contact_count": 120})
    return data


def _add_campaign(sb: Sandbox, data: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    now = sb.now()
    uid = str(spec.get("campaign_uid") or sb.new_id("sprl"))
    contacts = spec.get("contacts")
    total = len(contacts) if contacts is not None else int(spec.get("contact_count", 100))
    status = spec.get("status", "completed")
    camp = {
        "campaign_uid": uid,
        "client_id": spec.get("client_id", DEMO["sprl"]["client_id"]),
        "account_id": spec.get("account_id", DEMO["sprl"]["account_id"]),
        "name": spec.get("name", f"Campaign {uid[:8]}"),
        "status": status,
        "total": total,
        "contacts": contacts,
        "ratios": {
            "failed": spec.get("failed_ratio", 0.02),
            "delivered": spec.get("delivered_ratio", 0.95),
            "read": spec.get("read_ratio", 0.6),
            "replied": spec.get("replied_ratio", 0.1),
        },
        "send_rate": spec.get("send_rate"),
        "queued_for": float(spec.get("queued_for", 0)),
        "processed": spec.get("processed"),
        "created_at": spec.get("created_at", now),
        "seeded_at": now,
    }
    data["campaigns"][uid] = camp
    sb.cache.pop(("sprl", uid), None)
    return camp


def seed(sb: Sandbox, body: dict[str, Any]) -> dict[str, Any]:
    """``{"clients": [{client_id, api_key, accounts, blocked, insufficient_balance,
    limit_reached}], "campaigns": [{campaign_uid?, name, account_id, client_id, status,
    contact_count | contacts[{phone, status}], failed_ratio, delivered_ratio, read_ratio,
    replied_ratio, send_rate, queued_for, processed}]}``"""
    data = sb.data["sprl"]
    for client in body.get("clients", []):
        current = data["clients"].setdefault(
            client["client_id"],
            {"api_key": "", "accounts": [], "blocked": None, "insufficient_balance": False, "limit_reached": None},
        )
        current.update({k: v for k, v in client.items() if k != "client_id"})
    ids = [_add_campaign(sb, data, c)["campaign_uid"] for c in body.get("campaigns", [])]
    return {"campaign_uids": ids}


def _levels(sb: Sandbox, camp: dict[str, Any]) -> bytearray:
    """Final level per contact (index into LEVELS), computed once per campaign and cached."""
    key = ("sprl", camp["campaign_uid"])
    cached = sb.cache.get(key)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    if camp["contacts"] is not None:
        levels = bytearray(
            LEVELS.index(c.get("status", "delivered")) if c.get("status", "delivered") in LEVELS else 1
            for c in camp["contacts"]
        )
    else:
        r = camp["ratios"]
        rng = random.Random(f"{sb.seed}:{camp['campaign_uid']}")
        levels = bytearray(camp["total"])
        for i in range(camp["total"]):
            if rng.random() < r["failed"]:
                level = 0
            elif rng.random() >= r["delivered"]:
                level = 1
            elif rng.random() >= r["read"]:
                level = 2
            elif rng.random() >= r["replied"]:
                level = 3
            else:
                level = 4
            levels[i] = level
    sb.cache[key] = levels
    return levels


def _progress(sb: Sandbox, camp: dict[str, Any]) -> tuple[str, int, float]:
    """(status, processed contacts, started_at) at sandbox ``now``."""
    total = camp["total"]
    started = camp["seeded_at"] + camp["queued_for"]
    if camp["send_rate"]:
        now = sb.now()
        if now < started:
            return "queued", 0, started
        done = min(total, int((now - started) * float(camp["send_rate"])))
        return ("completed" if done >= total else "running"), done, started
    status = camp["status"]
    if status == "completed":
        return status, total, started
    if status == "running":
        processed = camp["processed"]
        return status, total // 2 if processed is None else int(processed), started
    return status, 0, started


def _phone(camp: dict[str, Any], i: int) -> str:
    if camp["contacts"] is not None:
        return str(camp["contacts"][i]["phone"])
    return f"+9198{i:08d}"


def _contact(sb: Sandbox, camp: dict[str, Any], i: int, processed: int, started: float) -> dict[str, Any]:
    levels = _levels(sb, camp)
    status = LEVELS[levels[i]] if i < processed else PENDING
    rate = float(camp["send_rate"] or 100)
    sent_at = started + i / rate
    lvl = levels[i] if i < processed else -1
    return {
        "phone": _phone(camp, i),
        "status": status,
        "message_id": "wamid." + digest(sb.seed, camp["campaign_uid"], i, size=12),
        "created_at": sql_time(camp["created_at"]),
        "sent_at": sql_time(sent_at) if lvl >= 1 else None,
        "delivered_at": sql_time(sent_at + 2) if lvl >= 2 else None,
        "read_at": sql_time(sent_at + 60) if lvl >= 3 else None,
        "replied_at": sql_time(sent_at + 120) if lvl >= 4 else None,
    }


def _validate(body: dict[str, Any]) -> tuple[dict[str, list[str]], int, int]:
    errors: dict[str, list[str]] = {}
    for field in ("client_id", "account_id", "campaign_uid"):
        if not body.get(field):
            errors[field] = [f"The {field.replace('_', ' ')} field is required."]
    per_page = page = 0
    try:
        per_page = int(body.get("per_page", 50))
        if not 1 <= per_page <= 100:
            raise ValueError
    except (TypeError, ValueError):
        errors["per_page"] = ["The per page must be between 1 and 100."]
    try:
        page = int(body.get("page", 1))
        if page < 1:
            raise ValueError
    except (TypeError, ValueError):
        errors["page"] = ["The page must be at least 1."]
    status = body.get("status")
    if status not in (None, "") and status not in CONTACT_STATUSES:
        errors["status"] = ["The selected status is invalid."]
    return errors, per_page, page


async def tracking(request: web.Request) -> web.Response:
    sb = sandbox_of(request)
    if request.content_type == "application/x-www-form-urlencoded":
        body: Any = dict(parse_qsl((await request.read()).decode()))
    else:
        try:
            body = await read_json(request)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return error(102, errors={"body": ["The request body must be a JSON object."]})
    data = sb.data["sprl"]
    key = rate_key(request)
    client = data["clients"].get(str(body.get("client_id", "")))
    if not key or client is None or client["api_key"] != key:
        return error(101, message="Invalid credentials. Check the client id and API key.")
    if client["blocked"]:
        flag = "ACCOUNT_PERMANENT_BLOCKED" if client["blocked"] == "permanent" else "ACCOUNT_TEMP_BLOCKED"
        return error(103, flag, message="Your account is blocked.")
    if client["insufficient_balance"]:
        return error(104, message="Insufficient wallet balance.")
    if client["limit_reached"]:
        period = str(client["limit_reached"]).upper()
        return error(129, f"{period}_LIMIT_REACHED", message=f"Your {period.lower()} usage limit has been reached.")
    errors, per_page, page = _validate(body)
    if not errors and body["account_id"] not in client["accounts"]:
        errors["account_id"] = ["The selected account id is invalid."]
    camp = data["campaigns"].get(str(body.get("campaign_uid")))
    owned = camp is not None and (camp["client_id"], camp["account_id"]) == (body["client_id"], body["account_id"])
    if not errors and not owned:
        errors["campaign_uid"] = ["The selected campaign uid is invalid."]
    if errors:
        return error(102, errors=errors)
    assert camp is not None
    if sb.cfg("sprl_ignore_page"):
        page = 1
    status, processed, started = _progress(sb, camp)
    levels = _levels(sb, camp)
    done = levels[:processed]
    counts = {name: done.count(i) for i, name in enumerate(LEVELS)}
    sent = processed - counts["failed"]
    delivered = counts["delivered"] + counts["read"] + counts["replied"]
    indices: Any = range(camp["total"])
    if body.get("phone"):
        wanted = str(body["phone"]).lstrip("+")
        indices = [i for i in indices if _phone(camp, i).lstrip("+") == wanted]
    if body.get("status"):
        st = body["status"]
        if st == PENDING:
            indices = [i for i in indices if i >= processed]
        else:
            lvl = LEVELS.index(st)
            indices = [i for i in indices if i < processed and levels[i] == lvl]
    total = len(indices)
    contacts = [_contact(sb, camp, i, processed, started) for i in indices[(page - 1) * per_page : page * per_page]]
    campaign = {
        "campaign_id": camp["campaign_uid"],
        "name": camp["name"],
        "status": status,
        "total": camp["total"],
        "accepted": camp["total"],
        "sent": sent,
        "delivered": delivered,
        "delivery_rate": round(delivered * 100 / sent, 2) if sent else 0.0,
        "read": counts["read"] + counts["replied"],
        "replied": counts["replied"],
        "failed": counts["failed"],
        "created_at": sql_time(camp["created_at"]),
    }
    pagination = {
        "current_page": page,
        "last_page": max(1, math.ceil(total / per_page)),
        "per_page": per_page,
        "total": total,
    }
    data = {"campaign": campaign, "contacts": contacts, "pagination": pagination}
    return jresp({"status": True, "code": 100, "data": data})


def state(sb: Sandbox, ident: str) -> dict[str, Any] | None:
    camp = sb.data["sprl"]["campaigns"].get(ident)
    if camp is None:
        return None
    status, processed, _ = _progress(sb, camp)
    return {**{k: v for k, v in camp.items() if k != "contacts"}, "current_status": status, "processed": processed}


ROUTES = [web.post(f"{PREFIX}/whatsapp/v1/campaigns/tracking", tracking)]

