"""Whatomate (self-hosted, Go) fake following what the real server does, newer build by default.

``whatomate_legacy: true`` switches to the older build: unpaginated list ignoring ``page``,
start -> ``queued`` (for ``whatomate_queue_delay`` s) -> ``processing``. With
``whatomate_cookie_tokens: true`` login/refresh return the tokens only as the cookies
``whm_access_token`` and ``whm_refresh_token``; the access cookie is also accepted as auth.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

from aiohttp import web

from airflow_provider_whatsapp_campaigns.sandbox.common import (
    Reply,
    VendorSpec,
    count_hits,
    digest,
    is_hit,
    iso,
    jresp,
    parse_date,
    phase,
    read_json,
    run_forward,
    stable_uuid,
)
from airflow_provider_whatsapp_campaigns.sandbox.state import DEMO, Sandbox, sandbox_of

PREFIX = "/whatomate"
API = f"{PREFIX}/api"
ACCESS_COOKIE = "whm_access_token"
REFRESH_COOKIE = "whm_refresh_token"
FAIL_MESSAGE = "(#131026) Message undeliverable"


def ok(data: Any, status: int = 200) -> web.Response:
    return jresp({"status": "success", "data": data}, status)


def err(status: int, message: str) -> web.Response:
    return jresp({"status": "error", "message": message, "data": None}, status)


def fail(status: int, message: str) -> Reply:
    return Reply(err(status, message))


def rate_limited(request: web.Request, retry_after: float, limit: float, reset: float) -> web.Response:
    return err(429, "Too many requests")  # Whatomate sends no rate-limit headers


def rate_key(request: web.Request) -> str | None:
    auth = request.headers.get("Authorization", "")
    return (request.headers.get("X-API-Key") or (auth[7:] if auth.startswith("Bearer ") else None)
            or request.cookies.get(ACCESS_COOKIE))


SPEC = VendorSpec("whatomate", (PREFIX,), rate_key, err, rate_limited)


def initial_data(sb: Sandbox) -> dict[str, Any]:
    demo = DEMO["whatomate"]
    return {"accounts": [demo["whatsapp_account"]], "api_keys": [demo["api_key"]],
            "users": {demo["email"]: demo["password"]}, "campaigns": {}, "tokens": {}, "refresh": {},
            "seq": 0}


# ---------------------------------------------------------------- campaign model


def _new_campaign(sb: Sandbox, spec: dict[str, Any]) -> dict[str, Any]:
    data = sb.data["whatomate"]
    now = sb.now()
    data["seq"] += 1
    cid = sb.new_id("whatomate")
    camp = {
        "id": cid, "name": spec["name"], "whatsapp_account": spec["whatsapp_account"],
        "template_id": spec["template_id"], "status": spec.get("status", "draft"),
        "scheduled_at": spec.get("scheduled_at"), "created_at": float(spec.get("created_at", now)),
        "updated_at": now, "started_at": None, "completed_at": None, "seq": data["seq"],
        "generated": int(spec.get("recipients", 0)), "imported": [],
        "processed": int(spec.get("processed", 0)), "counter_base": 0, "run_start": now,
        "queued_until": None, "rate": spec.get("send_rate"), "failure_ratio": spec.get("failure_ratio"),
        "delivered_ratio": spec.get("delivered_ratio"), "phase": phase(sb.seed, cid),
    }
    data["campaigns"][cid] = camp
    return camp


def _total(c: dict[str, Any]) -> int:
    return int(c["generated"]) + len(c["imported"])


def _sync(sb: Sandbox, c: dict[str, Any]) -> dict[str, Any]:
    """Bring a campaign up to sandbox ``now``: queued -> processing -> completed."""
    now = sb.now()
    if c["status"] == "queued" and c["queued_until"] is not None and now >= c["queued_until"]:
        c["status"], c["run_start"], c["queued_until"] = "processing", c["queued_until"], None
    if c["status"] == "processing" and run_forward(c, _total(c), now):
        c["status"], c["completed_at"] = "completed", c["finished_at"]
        c["updated_at"] = c["finished_at"]
    return c


def _failed(c: dict[str, Any], start: int, end: int) -> int:
    return count_hits(start, end, float(c["failure_ratio"] or 0.0), c["phase"])


def public(c: dict[str, Any]) -> dict[str, Any]:
    """The campaign as the real server serialises it; counters count since the last start."""
    run = c["processed"] - c["counter_base"]
    failed = _failed(c, c["counter_base"], c["processed"])
    sent = run - failed
    return {
        "id": c["id"], "name": c["name"], "whatsapp_account": c["whatsapp_account"],
        "template_id": c["template_id"], "status": c["status"],
        "total_recipients": _total(c), "sent_count": sent,
        "delivered_count": int(sent * float(c["delivered_ratio"] if c["delivered_ratio"] is not None else 1.0)),
        "read_count": 0, "failed_count": failed,
        "scheduled_at": c["scheduled_at"], "started_at": iso(c["started_at"]),
        "completed_at": iso(c["completed_at"]), "created_at": iso(c["created_at"]),
        "updated_at": iso(c["updated_at"]),
    }


def _recipient(sb: Sandbox, c: dict[str, Any], i: int) -> dict[str, Any]:
    if i < c["generated"]:
        phone, name, params = f"+1555{i:07d}", f"Recipient {i + 1}", {"1": f"Recipient {i + 1}"}
    else:
        r = c["imported"][i - c["generated"]]
        phone, name, params = r["phone_number"], r.get("recipient_name", ""), r.get("template_params") or {}
    status, message, sent_at = "pending", "", None
    if i < c["processed"]:
        failed = is_hit(i, float(c["failure_ratio"] or 0.0), c["phase"])
        status, message = ("failed", FAIL_MESSAGE) if failed else ("sent", "")
        sent_at = iso(c["started_at"])
    return {"id": stable_uuid(c["id"], i), "campaign_id": c["id"], "phone_number": phone,
            "recipient_name": name, "template_params": params, "status": status,
            "error_message": message, "sent_at": sent_at}


def seed(sb: Sandbox, body: dict[str, Any]) -> dict[str, Any]:
    """``{"accounts": [name], "api_keys": [key], "users": [{email, password}], "campaigns":
    [{name, whatsapp_account="demo-account", template_id="tpl-demo", status="draft",
    recipients=N (generated), created_at, send_rate, failure_ratio, delivered_ratio}]}``"""
    data = sb.data["whatomate"]
    data["accounts"] += [a for a in body.get("accounts", []) if a not in data["accounts"]]
    data["api_keys"] += [k for k in body.get("api_keys", []) if k not in data["api_keys"]]
    for user in body.get("users", []):
        data["users"][user["email"]] = user["password"]
    ids = []
    for spec in body.get("campaigns", []):
        spec = {"whatsapp_account": DEMO["whatomate"]["whatsapp_account"], "template_id": "tpl-demo", **spec}
        camp = _new_campaign(sb, spec)
        if camp["status"] in ("queued", "processing"):
            _arm(sb, camp, legacy=camp["status"] == "queued")
        ids.append(camp["id"])
    return {"campaign_ids": ids}


def _arm(sb: Sandbox, c: dict[str, Any], legacy: bool) -> None:
    """Start sending the pending recipients; counters restart from here (real-server quirk)."""
    now = sb.now()
    for key, opt in (("rate", "send_rate"), ("failure_ratio", "failure_ratio"), ("delivered_ratio", "delivered_ratio")):
        if c[key] is None:
            c[key] = sb.cfg(f"whatomate_{opt}")
    c["counter_base"], c["run_start"], c["started_at"], c["updated_at"] = c["processed"], now, now, now
    if legacy:
        c["status"], c["queued_until"] = "queued", now + float(sb.cfg("whatomate_queue_delay"))
    else:
        c["status"] = "processing"


# ---------------------------------------------------------------- auth


def _b64(obj: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()).rstrip(b"=").decode()


def _mint(sb: Sandbox, email: str, kind: str, ttl: float) -> str:
    """JWT-looking but opaque: the sandbox validates it by lookup, clients must not parse it."""
    data = sb.data["whatomate"]
    data["seq"] += 1
    exp = sb.now() + ttl
    token = ".".join((_b64({"alg": "HS256", "typ": "JWT"}),
                      _b64({"sub": email, "type": kind, "exp": int(exp), "jti": data["seq"]}),
                      digest(sb.seed, email, kind, data["seq"], size=16)))
    data["tokens" if kind == "access" else "refresh"][token] = {"email": email, "expires_at": exp}
    return token


def _auth(request: web.Request) -> str:
    sb = sandbox_of(request)
    data = sb.data["whatomate"]
    key = request.headers.get("X-API-Key")
    if key is not None:
        if key not in data["api_keys"]:
            raise fail(401, "Invalid API key")
        return f"key:{key}"
    auth = request.headers.get("Authorization", "")
    token = auth[7:] if auth.startswith("Bearer ") else request.cookies.get(ACCESS_COOKIE)
    if not token:
        raise fail(401, "Authorization header or API key required")
    info = data["tokens"].get(token)
    if info is None or info["expires_at"] <= sb.now():
        raise fail(401, "Invalid or expired token")
    return str(info["email"])


def _token_response(sb: Sandbox, email: str) -> web.Response:
    access = _mint(sb, email, "access", float(sb.cfg("whatomate_access_ttl")))
    refresh = _mint(sb, email, "refresh", float(sb.cfg("whatomate_refresh_ttl")))
    user = {"email": email, "full_name": email.split("@")[0]}
    if sb.cfg("whatomate_cookie_tokens"):
        resp = ok({"user": user, "expires_in": int(sb.cfg("whatomate_access_ttl"))})
        resp.set_cookie(ACCESS_COOKIE, access, httponly=True, path="/", max_age=int(sb.cfg("whatomate_access_ttl")))
        resp.set_cookie(REFRESH_COOKIE, refresh, httponly=True, path="/", max_age=int(sb.cfg("whatomate_refresh_ttl")))
        return resp
    return ok({"access_token": access, "refresh_token": refresh, "token_type": "Bearer",
               "expires_in": int(sb.cfg("whatomate_access_ttl")), "user": user})


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await read_json(request)
    except ValueError:
        raise fail(400, "Invalid request body") from None
    if not isinstance(body, dict):
        raise fail(400, "Invalid request body")
    return body


async def login(request: web.Request) -> web.Response:
    sb = sandbox_of(request)
    body = await _body(request)
    email, password = body.get("email"), body.get("password")
    if not email or not password:
        raise fail(400, "Email and password are required")
    sb.counters.logins[str(email)] += 1
    if sb.data["whatomate"]["users"].get(email) != password:
        raise fail(401, "Invalid email or password")
    return _token_response(sb, email)


async def refresh(request: web.Request) -> web.Response:
    sb = sandbox_of(request)
    body = await _body(request)
    token = body.get("refresh_token") or request.cookies.get(REFRESH_COOKIE)
    info = sb.data["whatomate"]["refresh"].get(token) if token else None
    if info is None or info["expires_at"] <= sb.now():
        raise fail(401, "Invalid or expired refresh token")
    sb.counters.refreshes[info["email"]] += 1
    return _token_response(sb, info["email"])


# ---------------------------------------------------------------- campaigns


def _get(request: web.Request) -> dict[str, Any]:
    _auth(request)
    ident = request.match_info["id"]
    try:
        uuid.UUID(ident)
    except ValueError:
        raise fail(400, "Invalid campaign ID") from None
    sb = sandbox_of(request)
    camp = sb.data["whatomate"]["campaigns"].get(ident)
    if camp is None:
        raise fail(404, "Campaign not found")
    return _sync(sb, camp)


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


async def list_campaigns(request: web.Request) -> web.Response:
    _auth(request)
    sb = sandbox_of(request)
    camps = [_sync(sb, c) for c in sb.data["whatomate"]["campaigns"].values()]
    camps.sort(key=lambda c: (c["created_at"], c["seq"]), reverse=True)
    if sb.cfg("whatomate_legacy"):
        return ok({"campaigns": [public(c) for c in camps], "total": len(camps)})
    q = request.query
    if q.get("search"):
        needle = q["search"].lower()
        camps = [c for c in camps if needle in c["name"].lower()]
    if q.get("status"):
        camps = [c for c in camps if c["status"] == q["status"]]
    if q.get("whatsapp_account"):
        camps = [c for c in camps if c["whatsapp_account"] == q["whatsapp_account"]]
    try:
        if q.get("from"):
            lo = parse_date(q["from"])
            camps = [c for c in camps if c["created_at"] >= lo]
        if q.get("to"):
            hi = parse_date(q["to"], end_of_day=True)
            camps = [c for c in camps if c["created_at"] <= hi]
    except ValueError:
        raise fail(400, "Invalid date format") from None
    page = max(1, _int(q.get("page"), 1))
    limit = min(100, max(1, _int(q.get("limit"), 50)))
    chunk = camps[(page - 1) * limit : page * limit]
    return ok({"campaigns": [public(c) for c in chunk], "total": len(camps), "page": page, "limit": limit})


async def create(request: web.Request) -> web.Response:
    sb = sandbox_of(request)
    _auth(request)
    body = await _body(request)
    if not body.get("name") or not body.get("whatsapp_account") or not body.get("template_id"):
        raise fail(400, "name, whatsapp_account and template_id are required")
    if body["whatsapp_account"] not in sb.data["whatomate"]["accounts"]:
        raise fail(400, "WhatsApp account not found")
    sb.counters.creates["whatomate"][str(body["name"])] += 1
    camp = _new_campaign(sb, {k: body.get(k) for k in ("name", "whatsapp_account", "template_id", "scheduled_at")})
    return ok(public(camp), 201)


async def get_campaign(request: web.Request) -> web.Response:
    return ok(public(_get(request)))


async def update(request: web.Request) -> web.Response:
    camp = _get(request)
    body = await _body(request)
    if camp["status"] != "draft":
        raise fail(400, "Only draft campaigns can be updated")
    if "whatsapp_account" in body and body["whatsapp_account"] not in sandbox_of(request).data["whatomate"]["accounts"]:
        raise fail(400, "WhatsApp account not found")
    for key in ("name", "whatsapp_account", "template_id", "scheduled_at"):
        if body.get(key) is not None:
            camp[key] = body[key]
    camp["updated_at"] = sandbox_of(request).now()
    return ok(public(camp))


async def delete(request: web.Request) -> web.Response:
    camp = _get(request)
    if camp["status"] in ("queued", "processing"):
        raise fail(400, "Cannot delete a running campaign")
    del sandbox_of(request).data["whatomate"]["campaigns"][camp["id"]]
    return ok({"message": "Campaign deleted"})


async def import_recipients(request: web.Request) -> web.Response:
    camp = _get(request)
    body = await _body(request)
    if camp["status"] != "draft":
        raise fail(400, "Recipients can only be added to draft campaigns")
    recipients = body.get("recipients")
    if not isinstance(recipients, list):
        raise fail(400, "Invalid request body")
    if not recipients:
        # The real server issues an INSERT with no rows and surfaces the DB error as a 500.
        raise fail(500, "Failed to add recipients")
    rows = []
    for r in recipients:
        if not isinstance(r, dict) or not r.get("phone_number"):
            raise fail(400, "phone_number is required for every recipient")
        rows.append({"phone_number": str(r["phone_number"]), "recipient_name": r.get("recipient_name", ""),
                     "template_params": r.get("template_params") or {}})
    camp["imported"].extend(rows)
    camp["updated_at"] = sandbox_of(request).now()
    return ok({"added_count": len(rows), "message": f"Added {len(rows)} recipients",
               "total_recipients": _total(camp)})


async def list_recipients(request: web.Request) -> web.Response:
    """Unpaged by default; paged (``page``, ``limit``) when ``whatomate_recipients_page_max`` is set.

    A finished campaign's pages never change, so their encoded bodies are cached: a benchmark
    reading a million recipients measures the client, not this fake generating rows.
    """
    sb = sandbox_of(request)
    camp = _get(request)
    total = _total(camp)
    page_max = sb.cfg("whatomate_recipients_page_max")
    if page_max is None:
        page, limit, start, end = None, None, 0, total
    else:
        page = max(1, _int(request.query.get("page"), 1))
        limit = min(int(page_max), max(1, _int(request.query.get("limit"), 50)))
        start, end = min(total, (page - 1) * limit), min(total, page * limit)
    key = ("whatomate-recipients", camp["id"], camp["processed"], total, start, end)
    finished = camp["status"] in ("completed", "cancelled", "failed")
    body = sb.cache.get(key) if finished else None
    if body is None:
        data: dict[str, Any] = {"recipients": [_recipient(sb, camp, i) for i in range(start, end)], "total": total}
        if page is not None:
            data.update(page=page, limit=limit)
        body = json.dumps({"status": "success", "data": data}).encode()
        if finished:
            sb.cache[key] = body
    return web.Response(body=body, content_type="application/json")


async def start(request: web.Request) -> web.Response:
    sb = sandbox_of(request)
    camp = _get(request)
    legacy = bool(sb.cfg("whatomate_legacy"))
    if camp["status"] not in ("draft", "scheduled", "paused"):
        raise fail(400, "Campaign cannot be started in current state")
    if _total(camp) == 0 and legacy:
        raise fail(400, "Campaign has no recipients")
    if _total(camp) - camp["processed"] <= 0:
        raise fail(400, "Campaign has no pending recipients")
    _arm(sb, camp, legacy)
    sb.counters.starts["whatomate"][camp["id"]] += 1
    return ok({"message": "Campaign started", "status": camp["status"]})


async def pause(request: web.Request) -> web.Response:
    camp = _get(request)
    if camp["status"] not in ("queued", "processing"):
        raise fail(400, "Campaign cannot be paused in current state")
    camp["status"], camp["queued_until"], camp["updated_at"] = "paused", None, sandbox_of(request).now()
    return ok({"message": "Campaign paused", "status": "paused"})


async def cancel(request: web.Request) -> web.Response:
    camp = _get(request)
    if camp["status"] in ("completed", "cancelled"):
        raise fail(400, "Campaign cannot be cancelled in current state")
    camp["status"], camp["queued_until"], camp["updated_at"] = "cancelled", None, sandbox_of(request).now()
    return ok({"message": "Campaign cancelled", "status": "cancelled"})


def state(sb: Sandbox, ident: str) -> dict[str, Any] | None:
    camp = sb.data["whatomate"]["campaigns"].get(ident)
    if camp is None:
        return None
    _sync(sb, camp)
    return {**{k: v for k, v in camp.items() if k != "imported"}, "imported_count": len(camp["imported"]),
            "public": public(camp)}


ROUTES = [
    web.post(f"{API}/auth/login", login),
    web.post(f"{API}/auth/refresh", refresh),
    web.get(f"{API}/campaigns", list_campaigns),
    web.post(f"{API}/campaigns", create),
    web.get(f"{API}/campaigns/{{id}}", get_campaign),
    web.put(f"{API}/campaigns/{{id}}", update),
    web.delete(f"{API}/campaigns/{{id}}", delete),
    web.post(f"{API}/campaigns/{{id}}/recipients/import", import_recipients),
    web.get(f"{API}/campaigns/{{id}}/recipients", list_recipients),
    web.post(f"{API}/campaigns/{{id}}/start", start),
    web.post(f"{API}/campaigns/{{id}}/pause", pause),
    web.post(f"{API}/campaigns/{{id}}/cancel", cancel),
]
