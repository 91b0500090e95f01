"""Whatomate (self-hosted, Go) fake playing the real server built from commit 387cae4 by default.

Settings (``/__sandbox__/config``, see ``vendors.md`` §4):

- ``whatomate_build``: ``"387cae4"`` (default: what a real server built from that commit was seen
  to do) or ``"paginated"`` (the newer builds: ``GET /api/campaigns`` pages with ``page``/``limit``
  (default 50, max 100) and also filters by ``search``, ``from``, ``to``; ``start`` goes straight to
  ``processing`` and refuses with "Campaign has no pending recipients").
- ``whatomate_login_tokens``: ``"body"`` (default, 387cae4) or ``"cookies"`` (login/refresh hand
  the tokens over only as the cookies ``whm_access_token`` / ``whm_refresh_token``; the access
  cookie also authenticates).
- ``whatomate_queue_delay``: 387cae4 only: sandbox seconds a started campaign stays ``queued``.

Both builds: campaigns name their template by UUID (``GET /api/templates`` lists them); refusals
are 400 envelopes with the server's exact messages; role checks are a text/plain 403 whose body
looks like JSON; an unknown route is a text/plain 404, a wrong method a JSON 405 with
``error_type``; an empty import, a phone over 20 characters or more than :data:`MAX_IMPORT_ROWS`
rows in one import are 500s; ``scheduled`` never appears; a campaign whose every send failed ends
``completed``. Refresh rotates the refresh token and the sandbox refuses the rotated-out one —
stricter than 387cae4 (its refresh JWTs are stateless and stay valid until they expire), so a
client that keeps only the newest works against both.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime
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
#: One INSERT binds ~10 parameters per recipient; PostgreSQL allows 65,535 (real server: 5,000 rows
#: worked, 6,500 got a 500).
MAX_IMPORT_ROWS = 65_535 // 10
MAX_PHONE_CHARS = 20  # the recipients table's varchar(20)
PAGINATED = "paginated"
#: Path prefixes agents may not touch (manager or admin only) and those only admins may.
MANAGER_ONLY = ("/api/accounts", "/api/templates", "/api/campaigns")
ADMIN_ONLY = ("/api/users", "/api/api-keys")
#: Templates every fresh sandbox holds for the demo account: (name, language, status, category).
DEMO_TEMPLATES = (
    ("welcome_v2", "en", "APPROVED", "MARKETING"),
    ("welcome_v2", "es", "PENDING", "MARKETING"),
    ("spring_sale_v2", "en", "APPROVED", "MARKETING"),
    ("order_update", "en", "PENDING", "UTILITY"),
)


def ok(data: Any, status: int = 200) -> web.Response:
    return jresp({"status": "success", "data": data}, status)


def err(status: int, message: str) -> web.Response:
    return jresp({"status": "error", "message": message, "data": None}, status)


def fail(status: int, message: str) -> Reply:
    return Reply(err(status, message))


def forbidden(message: str) -> Reply:
    """The role middleware writes its body by hand: JSON-looking text served as text/plain."""
    return Reply(web.Response(text=f'{{"status":"error","message":"{message}"}}', status=403, content_type="text/plain"))


def unrouted(status: int) -> web.Response:
    if status == 405:
        return jresp({"status": "error", "message": "Request method not allowed", "data": None,
                      "error_type": "GeneralException"}, 405)
    return web.Response(text="404 page not found", status=404, content_type="text/plain")


def rate_limited(request: web.Request, retry_after: float, limit: float, reset: float) -> web.Response:
    return err(429, "Too many requests")  # Whatomate sends no rate-limit headers


def rate_key(request: web.Request) -> str | None:
    auth = request.headers.get("Authorization", "")
    return (request.headers.get("X-API-Key") or (auth[7:] if auth.startswith("Bearer ") else None)
            or request.cookies.get(ACCESS_COOKIE))


SPEC = VendorSpec("whatomate", (PREFIX,), rate_key, err, rate_limited, unrouted)


def template_id(name: str, language: str = "en", account: str = DEMO["whatomate"]["whatsapp_account"]) -> str:
    """The UUID a template gets in every sandbox (independent of the seed)."""
    return stable_uuid("whatomate-template", account, name, language)


def _template(sb: Sandbox, spec: dict[str, Any]) -> dict[str, Any]:
    data = sb.data["whatomate"]
    data["seq"] += 1
    account = spec.get("whatsapp_account", DEMO["whatomate"]["whatsapp_account"])
    language = spec.get("language", "en")
    now = iso(sb.now())
    return {"id": spec.get("id") or template_id(spec["name"], language, account), "whatsapp_account": account,
            "meta_template_id": digest("meta", spec["name"], language, size=8), "name": spec["name"],
            "display_name": spec.get("display_name", spec["name"]), "language": language,
            "category": spec.get("category", "MARKETING"), "status": spec.get("status", "APPROVED"),
            "header_type": "", "header_content": "", "body_content": spec.get("body_content", "Hello {{1}}"),
            "footer_content": "", "buttons": [], "sample_values": [], "created_at": now, "updated_at": now,
            "seq": data["seq"]}


def initial_data(sb: Sandbox) -> dict[str, Any]:
    demo = DEMO["whatomate"]
    data: dict[str, Any] = {
        "accounts": [demo["whatsapp_account"]], "api_keys": {demo["api_key"]: _key_info("demo", "admin", 0, sb.now())},
        "users": {demo["email"]: {"password": demo["password"], "role": "admin"}}, "templates": {},
        "campaigns": {}, "tokens": {}, "refresh": {}, "seq": 0,
    }
    sb.data["whatomate"] = data
    for name, language, status, category in DEMO_TEMPLATES:
        tpl = _template(sb, {"name": name, "language": language, "status": status, "category": category})
        data["templates"][tpl["id"]] = tpl
    return data


def _key_info(name: str, role: str, n: int, created: float) -> dict[str, Any]:
    return {"id": stable_uuid("whatomate-key", name, n), "name": name, "role": role, "created_at": iso(created)}


# ---------------------------------------------------------------- campaign model


def _new_campaign(sb: Sandbox, spec: dict[str, Any]) -> dict[str, Any]:
    data = sb.data["whatomate"]
    now = sb.now()
    data["seq"] += 1
    cid = sb.new_id("whatomate")
    camp = {
        "id": cid, "name": spec["name"], "whatsapp_account": spec["whatsapp_account"],
        "template_id": spec["template_id"], "description": spec.get("description"),
        "status": spec.get("status", "draft"),
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


def _begin_processing(sb: Sandbox, c: dict[str, Any], at: float) -> None:
    """The worker loads the WhatsApp account first: a missing one is the only way to ``failed``."""
    if c["whatsapp_account"] not in sb.data["whatomate"]["accounts"]:
        c["status"], c["queued_until"], c["updated_at"] = "failed", None, at
        return
    c["status"], c["run_start"], c["queued_until"] = "processing", at, None


def _sync(sb: Sandbox, c: dict[str, Any]) -> dict[str, Any]:
    """Bring a campaign up to sandbox ``now``: queued -> processing -> completed (even if all failed)."""
    now = sb.now()
    if c["status"] == "queued" and c["queued_until"] is not None and now >= c["queued_until"]:
        _begin_processing(sb, c, c["queued_until"])
    if c["status"] == "processing" and run_forward(c, _total(c), now):
        c["status"], c["completed_at"] = "completed", c["finished_at"]
        c["updated_at"] = c["finished_at"]
    return c


def _failed(c: dict[str, Any], start: int, end: int) -> int:
    return count_hits(start, end, float(c["failure_ratio"] or 0.0), c["phase"])


def _template_name(sb: Sandbox, c: dict[str, Any]) -> str | None:
    tpl = sb.data["whatomate"]["templates"].get(c["template_id"])
    return None if tpl is None else str(tpl["name"])


def public(sb: Sandbox, c: dict[str, Any]) -> dict[str, Any]:
    """The campaign as the real server serialises it (Go ``omitempty`` drops unset times and an
    unknown template's name); counters count since the last start."""
    run = c["processed"] - c["counter_base"]
    failed = _failed(c, c["counter_base"], c["processed"])
    sent = run - failed
    out = {
        "id": c["id"], "name": c["name"], "whatsapp_account": c["whatsapp_account"],
        "template_id": c["template_id"], "template_name": _template_name(sb, c), "status": c["status"],
        "total_recipients": _total(c), "sent_count": sent,
        "delivered_count": int(sent * float(c["delivered_ratio"] if c["delivered_ratio"] is not None else 1.0)),
        "read_count": 0, "failed_count": failed,
        "scheduled_at": c["scheduled_at"], "started_at": iso(c["started_at"]),
        "completed_at": iso(c["completed_at"]), "created_at": iso(c["created_at"]),
        "updated_at": iso(c["updated_at"]),
    }
    return {k: v for k, v in out.items() if v is not None}


def _recipient(sb: Sandbox, c: dict[str, Any], i: int) -> dict[str, Any]:
    if i < c["generated"]:
        phone, name, params = f"+1555{i:07d}", f"Recipient {i + 1}", {"1": f"Recipient {i + 1}"}
    else:
        r = c["imported"][i - c["generated"]]
        phone, name, params = r["phone_number"], r["recipient_name"], r["template_params"]
    row = {"id": stable_uuid(c["id"], i), "campaign_id": c["id"], "phone_number": phone,
           "recipient_name": name, "template_params": params, "status": "pending", "error_message": ""}
    if i < c["processed"]:
        if is_hit(i, float(c["failure_ratio"] or 0.0), c["phase"]):
            row.update(status="failed", error_message=FAIL_MESSAGE)
        else:
            row.update(status="sent", whatsapp_message_id=f"wamid.{digest(c['id'], i, size=12)}",
                       sent_at=iso(c["started_at"]))
    return row


def seed(sb: Sandbox, body: dict[str, Any]) -> dict[str, Any]:
    """``{"accounts": [name], "api_keys": [key | {key, role="admin"}], "users": [{email, password,
    role="admin"}], "templates": [{name, language="en", whatsapp_account="demo-account",
    status="APPROVED", category="MARKETING"}], "campaigns": [{name, whatsapp_account="demo-account",
    template_id=<welcome_v2 en>, status="draft", recipients=N (generated), created_at, send_rate,
    failure_ratio, delivered_ratio}]}`` -> ``{"campaign_ids", "template_ids"}``"""
    data = sb.data["whatomate"]
    data["accounts"] += [a for a in body.get("accounts", []) if a not in data["accounts"]]
    for n, key in enumerate(body.get("api_keys", []), start=len(data["api_keys"])):
        key, role = (key, "admin") if isinstance(key, str) else (key["key"], key.get("role", "admin"))
        data["api_keys"][key] = _key_info(f"seeded-{n}", role, n, sb.now())
    for user in body.get("users", []):
        data["users"][user["email"]] = {"password": user["password"], "role": user.get("role", "admin")}
    template_ids = []
    for spec in body.get("templates", []):
        tpl = _template(sb, spec)
        data["templates"][tpl["id"]] = tpl
        template_ids.append(tpl["id"])
    ids = []
    for spec in body.get("campaigns", []):
        spec = {"whatsapp_account": DEMO["whatomate"]["whatsapp_account"], "template_id": template_id("welcome_v2"),
                **spec}
        camp = _new_campaign(sb, spec)
        if camp["status"] in ("queued", "processing"):
            _arm(sb, camp, queued=camp["status"] == "queued")
        ids.append(camp["id"])
    return {"campaign_ids": ids, "template_ids": template_ids}


def _arm(sb: Sandbox, c: dict[str, Any], queued: bool) -> None:
    """Start sending the pending recipients; counters restart from here (real-server quirk)."""
    now = sb.now()
    for key, opt in (("rate", "send_rate"), ("failure_ratio", "failure_ratio"), ("delivered_ratio", "delivered_ratio")):
        if c[key] is None:
            c[key] = sb.cfg(f"whatomate_{opt}")
    c["counter_base"], c["run_start"], c["started_at"], c["updated_at"] = c["processed"], now, now, now
    if queued:
        c["status"], c["queued_until"] = "queued", now + float(sb.cfg("whatomate_queue_delay"))
    else:
        _begin_processing(sb, c, now)


def _paginated(sb: Sandbox) -> bool:
    return bool(sb.cfg("whatomate_build") == PAGINATED)


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


def _role_check(path: str, role: str) -> None:
    """The real server's role middleware, run after authentication (see :func:`forbidden`)."""
    if path.startswith(ADMIN_ONLY) and role != "admin":
        raise forbidden("Admin access required")
    if role == "agent" and path.startswith(MANAGER_ONLY):
        raise forbidden("Access denied")


def _auth(request: web.Request) -> tuple[str, str]:
    """``(who, role)`` of the caller, or the server's 401/403."""
    sb = sandbox_of(request)
    data = sb.data["whatomate"]
    path = request.path.removeprefix(PREFIX)
    key = request.headers.get("X-API-Key")
    if key is not None:
        info = data["api_keys"].get(key)
        if info is None:
            raise fail(401, "Invalid API key")
        _role_check(path, info["role"])
        return f"key:{info['id']}", str(info["role"])
    auth = request.headers.get("Authorization")
    token = request.cookies.get(ACCESS_COOKIE) if auth is None else None
    if auth is not None:
        scheme, _, token = auth.partition(" ")
        if scheme != "Bearer" or not token:
            raise fail(401, "Invalid authorization header format")
    if not token:
        raise fail(401, "Missing authorization header")
    found = data["tokens"].get(token)
    if found is None or found["expires_at"] <= sb.now():
        raise fail(401, "Invalid or expired token")
    role = str(data["users"][found["email"]]["role"])
    _role_check(path, role)
    return str(found["email"]), role


def _user(sb: Sandbox, email: str) -> dict[str, Any]:
    role = sb.data["whatomate"]["users"][email]["role"]
    return {"id": stable_uuid("whatomate-user", email), "email": email, "full_name": email.split("@")[0],
            "role": role, "is_active": True}


def _token_response(sb: Sandbox, email: str) -> web.Response:
    access = _mint(sb, email, "access", float(sb.cfg("whatomate_access_ttl")))
    refresh = _mint(sb, email, "refresh", float(sb.cfg("whatomate_refresh_ttl")))
    ttl = int(sb.cfg("whatomate_access_ttl"))
    if sb.cfg("whatomate_login_tokens") == "cookies":
        resp = ok({"user": _user(sb, email), "expires_in": ttl})
        resp.set_cookie(ACCESS_COOKIE, access, httponly=True, path="/", max_age=ttl)
        resp.set_cookie(REFRESH_COOKIE, refresh, httponly=True, path="/", max_age=int(sb.cfg("whatomate_refresh_ttl")))
        return resp
    return ok({"access_token": access, "refresh_token": refresh, "expires_in": ttl, "user": _user(sb, email)})


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await read_json(request)
    except ValueError:
        raise fail(400, "Invalid request body") from None
    if not isinstance(body, dict):
        raise fail(400, "Invalid request body")
    return body


def _text(body: dict[str, Any], key: str) -> str:
    """A Go string field: absent or null is "", any other JSON type fails the decode."""
    value = body.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise fail(400, "Invalid request body")
    return value


def _time(body: dict[str, Any], key: str) -> str | None:
    """A Go ``*time.Time`` field: RFC 3339 or the decode fails."""
    value = body.get(key)
    if value is None:
        return None
    try:
        datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise fail(400, "Invalid request body") from None
    return str(value)


async def login(request: web.Request) -> web.Response:
    sb = sandbox_of(request)
    body = await _body(request)
    email, password = _text(body, "email"), _text(body, "password")
    if email:
        sb.counters.logins[email] += 1
    user = sb.data["whatomate"]["users"].get(email)
    if user is None or user["password"] != password:
        raise fail(401, "Invalid credentials")
    return _token_response(sb, email)


async def refresh(request: web.Request) -> web.Response:
    sb = sandbox_of(request)
    body = await _body(request)
    token = _text(body, "refresh_token") or request.cookies.get(REFRESH_COOKIE)
    tokens = sb.data["whatomate"]["refresh"]
    info = tokens.get(token) if token else None
    if info is None or info["expires_at"] <= sb.now():
        raise fail(401, "Invalid refresh token")
    del tokens[token]  # rotated out (see the module docstring)
    sb.counters.refreshes[info["email"]] += 1
    return _token_response(sb, info["email"])


# ---------------------------------------------------------------- accounts, templates, api keys


async def list_accounts(request: web.Request) -> web.Response:
    _auth(request)
    names = sandbox_of(request).data["whatomate"]["accounts"]
    return ok({"accounts": [{"id": stable_uuid("whatomate-account", n), "name": n,
                             "phone_id": digest("phone", n, size=6), "business_id": digest("waba", n, size=6),
                             "api_version": "v21.0"} for n in reversed(names)]})


async def list_templates(request: web.Request) -> web.Response:
    _auth(request)
    q = request.query
    rows = sorted(sandbox_of(request).data["whatomate"]["templates"].values(), key=lambda t: t["seq"], reverse=True)
    for param, field in (("account", "whatsapp_account"), ("status", "status"), ("category", "category")):
        if q.get(param):
            rows = [t for t in rows if t[field] == q[param]]
    return ok({"templates": [{k: v for k, v in t.items() if k != "seq"} for t in rows]})


async def list_api_keys(request: web.Request) -> web.Response:
    _auth(request)
    keys = sandbox_of(request).data["whatomate"]["api_keys"]
    return ok([{"id": i["id"], "name": i["name"], "key_prefix": k[4:12], "is_active": True, "created_at": i["created_at"]}
               for k, i in keys.items()])


async def create_api_key(request: web.Request) -> web.Response:
    """Admins only; the key is shown once."""
    sb = sandbox_of(request)
    who, role = _auth(request)
    name = _text(await _body(request), "name")
    if not name:
        raise fail(400, "Name is required")
    keys = sb.data["whatomate"]["api_keys"]
    key = "whm_" + digest(sb.seed, who, name, len(keys), size=16)
    info = keys[key] = _key_info(name, role, len(keys), sb.now())
    return ok({"id": info["id"], "name": name, "key": key, "key_prefix": key[4:12], "created_at": info["created_at"]})


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
    """387cae4: everything, newest first, filtered by ``status`` and ``whatsapp_account`` only."""
    _auth(request)
    sb = sandbox_of(request)
    camps = [_sync(sb, c) for c in sb.data["whatomate"]["campaigns"].values()]
    camps.sort(key=lambda c: (c["created_at"], c["seq"]), reverse=True)
    q = request.query
    if q.get("status"):
        camps = [c for c in camps if c["status"] == q["status"]]
    if q.get("whatsapp_account"):
        camps = [c for c in camps if c["whatsapp_account"] == q["whatsapp_account"]]
    if not _paginated(sb):
        return ok({"campaigns": [public(sb, c) for c in camps], "total": len(camps)})
    if q.get("search"):
        needle = q["search"].lower()
        camps = [c for c in camps if needle in c["name"].lower()]
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
    return ok({"campaigns": [public(sb, c) for c in chunk], "total": len(camps), "page": page, "limit": limit})


def _template_uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise fail(400, "Invalid template ID") from None


async def create(request: web.Request) -> web.Response:
    """Template first (UUID, then existence), then the account by name; ``name`` is not checked
    and ``description`` is accepted (kept in the admin state, never echoed)."""
    sb = sandbox_of(request)
    _auth(request)
    body = await _body(request)
    name, account = _text(body, "name"), _text(body, "whatsapp_account")
    tid = _template_uuid(_text(body, "template_id"))
    data = sb.data["whatomate"]
    if tid not in data["templates"]:
        raise fail(400, "Template not found")
    if account not in data["accounts"]:
        raise fail(400, "WhatsApp account not found")
    sb.counters.creates["whatomate"][name] += 1
    camp = _new_campaign(sb, {"name": name, "whatsapp_account": account, "template_id": tid,
                              "scheduled_at": _time(body, "scheduled_at"), "description": _text(body, "description")})
    return ok(public(sb, camp))


async def get_campaign(request: web.Request) -> web.Response:
    return ok(public(sandbox_of(request), _get(request)))


async def update(request: web.Request) -> web.Response:
    """Drafts only. Like the real server it writes ``name`` and ``scheduled_at`` even when absent
    (blanking them); ``template_id`` must parse as a UUID but is not looked up."""
    sb = sandbox_of(request)
    camp = _get(request)
    if camp["status"] != "draft":
        raise fail(400, "Can only update draft campaigns")
    body = await _body(request)
    camp["name"], camp["scheduled_at"] = _text(body, "name"), _time(body, "scheduled_at")
    if tid := _text(body, "template_id"):
        camp["template_id"] = _template_uuid(tid)
    if account := _text(body, "whatsapp_account"):
        camp["whatsapp_account"] = account
    camp["updated_at"] = sb.now()
    return ok(public(sb, camp))


async def delete(request: web.Request) -> web.Response:
    camp = _get(request)
    if camp["status"] in ("queued", "processing"):
        raise fail(400, "Cannot delete running campaign")
    del sandbox_of(request).data["whatomate"]["campaigns"][camp["id"]]
    return ok({"message": "Campaign deleted successfully"})


def _row(item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise fail(400, "Invalid request body")
    params = item.get("template_params")
    if params is not None and not isinstance(params, dict):
        raise fail(400, "Invalid request body")
    return {"phone_number": _text(item, "phone_number"), "recipient_name": _text(item, "recipient_name"),
            "template_params": params or {}}


async def import_recipients(request: web.Request) -> web.Response:
    """One INSERT per request: no de-duplication, no phone check; the database's refusals are 500s."""
    camp = _get(request)
    if camp["status"] != "draft":
        raise fail(400, "Can only add recipients to draft campaigns")
    recipients = (await _body(request)).get("recipients")
    if recipients is not None and not isinstance(recipients, list):
        raise fail(400, "Invalid request body")
    rows = [_row(r) for r in recipients or []]
    if not rows or len(rows) > MAX_IMPORT_ROWS or any(len(r["phone_number"]) > MAX_PHONE_CHARS for r in rows):
        raise fail(500, "Failed to add recipients")
    camp["imported"].extend(rows)
    camp["updated_at"] = sandbox_of(request).now()
    return ok({"message": "Recipients added successfully", "added_count": len(rows),
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
    paginated = _paginated(sb)
    if camp["status"] not in ("draft", "scheduled", "paused"):
        raise fail(400, "Campaign cannot be started in current state")
    if paginated and _total(camp) - camp["processed"] <= 0:
        raise fail(400, "Campaign has no pending recipients")
    if _total(camp) == 0:
        raise fail(400, "Campaign has no recipients")
    _arm(sb, camp, queued=not paginated)
    sb.counters.starts["whatomate"][camp["id"]] += 1
    return ok({"message": "Campaign started", "status": camp["status"]})


async def pause(request: web.Request) -> web.Response:
    camp = _get(request)
    if camp["status"] not in ("queued", "processing"):
        raise fail(400, "Campaign is not running")
    camp["status"], camp["queued_until"], camp["updated_at"] = "paused", None, sandbox_of(request).now()
    return ok({"message": "Campaign paused", "status": "paused"})


async def cancel(request: web.Request) -> web.Response:
    camp = _get(request)
    if camp["status"] in ("completed", "cancelled"):
        raise fail(400, "Campaign already finished")
    camp["status"], camp["queued_until"], camp["updated_at"] = "cancelled", None, sandbox_of(request).now()
    return ok({"message": "Campaign cancelled", "status": "cancelled"})


def state(sb: Sandbox, ident: str) -> dict[str, Any] | None:
    camp = sb.data["whatomate"]["campaigns"].get(ident)
    if camp is None:
        return None
    _sync(sb, camp)
    return {**{k: v for k, v in camp.items() if k != "imported"}, "imported_count": len(camp["imported"]),
            "public": public(sb, camp)}


ROUTES = [
    web.post(f"{API}/auth/login", login),
    web.post(f"{API}/auth/refresh", refresh),
    web.get(f"{API}/accounts", list_accounts),
    web.get(f"{API}/templates", list_templates),
    web.get(f"{API}/api-keys", list_api_keys),
    web.post(f"{API}/api-keys", create_api_key),
    web.get(f"{API}/campaigns", list_campaigns),
    web.post(f"{API}/campaigns", create),
    web.get(f"{API}/campaigns/{{id}}", get_campaign),
    web.put(f"{API}/campaigns/{{id}}", update),
    web.delete(f"{API}/campaigns/{{id}}", delete),
    web.get(f"{API}/campaigns/{{id}}/progress", get_campaign),
    web.post(f"{API}/campaigns/{{id}}/recipients/import", import_recipients),
    web.get(f"{API}/campaigns/{{id}}/recipients", list_recipients),
    web.post(f"{API}/campaigns/{{id}}/start", start),
    web.post(f"{API}/campaigns/{{id}}/pause", pause),
    web.post(f"{API}/campaigns/{{id}}/cancel", cancel),
]
