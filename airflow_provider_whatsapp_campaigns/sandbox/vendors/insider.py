"""Insider One WhatsApp statistics fake: v1 (API key), v2 gateway (OAuth) and transactional.

Error bodies come in two forms like the real service. With ``insider_error_style: auto`` (the
default) the v1 API-key host answers ``{"errorCode": "3004", "message": ...}`` (string code)
and the OAuth gateway answers ``{"error": {"code": 1001, "message": ...}}`` (int code);
``string``/``object`` force one form everywhere. 422 bodies carry ``errors`` (field -> messages)
and no code; a wrong v1 key gets a bare ``{"message": "Unauthorized"}`` (the "none" code).
"""

from __future__ import annotations

import math
from typing import Any

from aiohttp import web

from airflow_provider_whatsapp_campaigns.sandbox.common import (
    DAY,
    INSIDER_EPOCH,
    Reply,
    VendorSpec,
    day_start,
    day_str,
    digest,
    jresp,
    parse_date,
    read_json,
)
from airflow_provider_whatsapp_campaigns.sandbox.state import DEMO, Sandbox, sandbox_of

V1 = "/insider"
GW = "/insider-gw"
SCOPE = "wa-stats-api"
MAX_RANGE = 365 * DAY
COUNTERS = ("sent", "delivered", "open", "click", "conversion", "revenue", "drop", "targeted",
            "unsubscribe", "undelivered", "deliveryPending")
DROP_DETAILS = ("frequencyCapped", "duplicates", "invalidPhoneNumbers", "tierLimitation",
                "templateFailures", "pausedTemplates", "recipientRelatedErrors", "metaTemporaryErrors",
                "accountIntegrationErrors", "internalErrors", "rateLimits", "policyFailures")
UNDELIVERED_DETAILS = ("recipientRelatedErrors", "accountVerificationErrors", "mediaErrors",
                       "heldMessages", "metaExperiment", "metaErrors", "invalidMessages",
                       "metaRecipientLimitsErrors", "deliveryReportMissing")
CHART = ("sent", "delivered", "open", "click", "conversion", "verified", "responses",
         "clickFromResponses", "conversionFromResponses")
DEFAULT_ACCOUNTS = ["+905551110000", "+905551110001"]


def _gateway(request: web.Request) -> bool:
    return request.path.startswith(GW + "/")


def error(request: web.Request, status: int, code: int | None, message: str) -> web.Response:
    """Error in the form this host uses (see module docstring)."""
    style = sandbox_of(request).cfg("insider_error_style")
    obj = style == "object" or (style == "auto" and _gateway(request))
    if code is None:
        return jresp({"message": message}, status)
    if obj:
        return jresp({"error": {"code": code, "message": message}}, status)
    return jresp({"errorCode": str(code), "message": message}, status)


def fail(request: web.Request, status: int, code: int | None, message: str) -> Reply:
    return Reply(error(request, status, code, message))


def unprocessable(errors: dict[str, list[str]]) -> Reply:
    return Reply(jresp({"message": "The given data was invalid.", "errors": errors}, 422))


def _generic(status: int, message: str) -> web.Response:
    if status == 429:
        return jresp({"errorCode": "2021", "message": message}, status)
    return jresp({"message": message}, status)


def rate_limited(request: web.Request, retry_after: float, limit: float, reset: float) -> web.Response:
    resp = error(request, 429, 2021, "Rate limit exceeded")
    resp.headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
    return resp


def rate_key(request: web.Request) -> str | None:
    if _gateway(request):
        if request.path.endswith("/auth/token"):
            return None
        token = request.headers.get("Authorization", "")[7:]
        info = sandbox_of(request).data["insider"]["tokens"].get(token)
        return f"client:{info['client_id']}" if info else None
    return request.headers.get("x-ins-auth-key") or None


SPEC = VendorSpec("insider", (V1, GW), rate_key, _generic, rate_limited)


# ---------------------------------------------------------------- data


def _split(total: int, names: tuple[str, ...], *key: Any) -> dict[str, int]:
    """Deterministically split ``total`` over ``names`` (parts sum exactly to total)."""
    weights = [int(digest(*key, n, size=2), 16) % 7 + 1 for n in names]
    parts = [total * w // sum(weights) for w in weights]
    parts[0] += total - sum(parts)
    return dict(zip(names, parts, strict=True))


def default_counters(targeted: int, *key: Any) -> dict[str, Any]:
    drop = targeted * 3 // 100
    sent = targeted - drop
    delivered = sent * 93 // 100
    opened = delivered * 55 // 100
    click = opened * 12 // 100
    conversion = click // 5
    return {
        "targeted": targeted, "drop": drop, "sent": sent, "delivered": delivered,
        "undelivered": sent - delivered, "open": opened, "click": click, "conversion": conversion,
        "revenue": conversion * 20, "unsubscribe": delivered // 250,
        "dropDetails": _split(drop, DROP_DETAILS, *key, "drop"),
        "undeliveredDetails": _split(sent - delivered, UNDELIVERED_DETAILS, *key, "undelivered"),
    }


def _partner(api_key: str, client_id: str | None, secret: str | None) -> dict[str, Any]:
    return {"api_key": api_key, "client_id": client_id, "client_secret": secret,
            "product_inactive": False, "ip_blocked": False, "transactional_inactive": False,
            "transactional_shape": "flat", "accounts": list(DEFAULT_ACCOUNTS)}


def initial_data(sb: Sandbox) -> dict[str, Any]:
    demo = DEMO["insider"]
    data: dict[str, Any] = {"partners": {"demo": _partner(demo["api_key"], demo["client_id"], demo["client_secret"])},
                            "campaigns": {}, "tokens": {}}
    sb.data["insider"] = data
    seed(sb, {"campaigns": [{"campaign_id": 1001, "shape": "flat"},
                            {"campaign_id": 1002, "shape": "wrapped"},
                            {"campaign_id": 1003, "shape": "flat", "conversational": True}]})
    return data


def seed(sb: Sandbox, body: dict[str, Any]) -> dict[str, Any]:
    """``{"keys": [{partner?, api_key, client_id?, client_secret?, product_inactive,
    ip_blocked, transactional_inactive, transactional_shape, accounts}], "campaigns":
    [{campaign_id, partner="demo", shape="flat"|"wrapped", conversational, targeted,
    counters{...}, sent_on "YYYY-MM-DD" | daily[{date, ...counters}], delivery_pending,
    drain_rate}]}``"""
    data = sb.data["insider"]
    for key in body.get("keys", []):
        pid = key.get("partner") or key["api_key"]
        current = data["partners"].setdefault(pid, _partner(key["api_key"], None, None))
        current.update({k: v for k, v in key.items() if k != "partner"})
    ids = []
    for spec in body.get("campaigns", []):
        cid = int(spec["campaign_id"])
        now = sb.now()
        if "daily" in spec:
            rows = [{"day": _day_of(r["date"]), "counters": _row(r, cid, r["date"])} for r in spec["daily"]]
        else:
            day = _day_of(spec["sent_on"]) if "sent_on" in spec else day_start(now)
            rows = [{"day": day, "counters": _row({**spec.get("counters", {}), "targeted": spec.get("counters", {}).get(
                "targeted", spec.get("targeted", 1000))}, cid, day)}]
        camp = {"campaign_id": cid, "partner": spec.get("partner", "demo"), "shape": spec.get("shape", "flat"),
                "rows": rows, "delivery_pending": int(spec.get("delivery_pending", 0)),
                "drain_rate": float(spec.get("drain_rate", sb.cfg("insider_drain_rate"))), "seeded_at": now,
                "responses": _responses(cid) if spec.get("conversational") else spec.get("responses")}
        data["campaigns"][str(cid)] = camp
        ids.append(cid)
    return {"campaign_ids": ids}


def _day_of(date: str) -> int:
    return int(parse_date(date))


def _row(given: dict[str, Any], *key: Any) -> dict[str, Any]:
    base = default_counters(int(given.get("targeted", 1000)), *key)
    base.update({k: v for k, v in given.items() if k != "date"})
    return base


def _responses(cid: int) -> list[dict[str, Any]]:
    rows = []
    for n, button in enumerate(("Yes, tell me more", "No thanks")):
        sent = 200 - 80 * n
        rows.append({"cardId": f"card-{cid}-{n + 1}", "buttonName": button, "sent": sent,
                     "delivered": sent - 4, "open": sent // 2, "click": sent // 8,
                     "conversion": sent // 40, "revenue": sent // 40 * 20, "isNoReplyMessage": False})
    return rows


def _add(total: dict[str, Any], row: dict[str, Any]) -> None:
    for k, v in row.items():
        if isinstance(v, dict):
            _add(total.setdefault(k, {}), v)
        elif isinstance(v, int | float):
            total[k] = total.get(k, 0) + v


def campaign_stats(sb: Sandbox, camp: dict[str, Any], start: int, end: int) -> dict[str, Any]:
    """Sum of the campaign's day rows with ``start <= day <= end`` plus the draining pending."""
    total: dict[str, Any] = {k: 0 for k in COUNTERS}
    total["dropDetails"] = dict.fromkeys(DROP_DETAILS, 0)
    total["undeliveredDetails"] = dict.fromkeys(UNDELIVERED_DETAILS, 0)
    rows = [r for r in camp["rows"] if start <= r["day"] <= end]
    for row in rows:
        _add(total, row["counters"])
    if rows and rows[-1] is camp["rows"][-1]:
        pending = camp["delivery_pending"]
        drained = min(pending, int(camp["drain_rate"] * max(0.0, sb.now() - camp["seeded_at"])))
        total["deliveryPending"] = pending - drained
        total["sent"] += pending
        total["delivered"] += drained
    if camp.get("responses"):
        total["responses"] = camp["responses"]
        total["responseSummary"] = {
            "sent": sum(r["sent"] for r in camp["responses"]),
            "open": sum(r["open"] for r in camp["responses"]),
            "click": sum(r["click"] for r in camp["responses"]),
            "conversion": sum(r["conversion"] for r in camp["responses"]),
            "buttonClick": sum(r["click"] for r in camp["responses"]),
        }
    return total


def tx_day(seed_: int, account: str, day: int) -> dict[str, int]:
    """Deterministic transactional counters of one sender account on one day."""
    h = int(digest(seed_, account, day, size=8), 16)
    sent = 40 + h % 160
    delivered = sent - (h >> 8) % 8
    opened = delivered * (50 + (h >> 16) % 30) // 100
    click = opened * (5 + (h >> 24) % 10) // 100
    conversion = click * ((h >> 32) % 30) // 100
    responses = opened * ((h >> 40) % 20) // 100
    return {"sent": sent, "delivered": delivered, "open": opened, "click": click,
            "conversion": conversion, "verified": delivered * 9 // 10, "responses": responses,
            "clickFromResponses": responses // 3, "conversionFromResponses": responses // 9}


def transactional(sb: Sandbox, partner: dict[str, Any], start: int, end: int,
                  accounts: list[str] | None = None) -> dict[str, Any]:
    """Flat counters + per-day chart for days whose 00:00 UTC lies in ``[start, end]``."""
    chosen = [a for a in (accounts or partner["accounts"]) if a in partner["accounts"]]
    chart: dict[str, list[Any]] = {"dates": [], "datesAsTimestamp": [], **{k: [] for k in CHART}}
    day = day_start(start) if day_start(start) >= start else day_start(start) + DAY
    while day <= end:
        counts = dict.fromkeys(CHART, 0)
        for account in chosen:
            for k, v in tx_day(sb.seed, partner["api_key"] + account, day).items():
                counts[k] += v
        chart["dates"].append(day_str(day))
        chart["datesAsTimestamp"].append(day)
        for k in CHART:
            chart[k].append(counts[k])
        day += DAY
    flat = {k: sum(chart[k]) for k in CHART}
    flat.update({"targeted": flat["sent"], "drop": 0, "undelivered": flat["sent"] - flat["delivered"],
                 "revenue": flat["conversion"] * 10, "unsubscribe": 0, "deliveryPending": 0})
    return {**flat, "chart": chart}


# ---------------------------------------------------------------- handlers


def _auth_v1(request: web.Request) -> dict[str, Any]:
    key = request.headers.get("x-ins-auth-key")
    if not key:
        raise fail(request, 401, 1001, "Authentication required")
    for partner in sandbox_of(request).data["insider"]["partners"].values():
        if partner["api_key"] == key:
            return partner  # type: ignore[no-any-return]
    raise fail(request, 401, None, "Unauthorized")


def _auth_gw(request: web.Request) -> dict[str, Any]:
    sb = sandbox_of(request)
    auth = request.headers.get("Authorization", "")
    if not auth.startswith("Bearer "):
        raise fail(request, 401, 1001, "Authentication required")
    info = sb.data["insider"]["tokens"].get(auth[7:])
    if info is None or info["expires_at"] <= sb.now():
        raise fail(request, 401, 1001, "Invalid or expired token")
    return sb.data["insider"]["partners"][info["partner"]]  # type: ignore[no-any-return]


def _check_partner(request: web.Request, partner: dict[str, Any], transactional_call: bool) -> None:
    if partner["ip_blocked"]:
        raise fail(request, 403, 1088, "Your IP address is not on the allow-list for this API key")
    if partner["product_inactive"]:
        raise fail(request, 403, 3007, "WhatsApp product is not active for this partner")
    if transactional_call and partner["transactional_inactive"]:
        raise fail(request, 403, 3005, "Transactional messaging is not active for this partner")


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await read_json(request)
    except ValueError:
        raise fail(request, 400, 3001, "Request body could not be parsed") from None
    if not isinstance(body, dict):
        raise fail(request, 400, 3001, "Request body could not be parsed")
    return body


def _unix(request: web.Request, body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 10**9 <= value < 10**10:
        raise fail(request, 400, 3002, f"{name} must be a 10-digit unix timestamp")
    return value


async def _campaign(request: web.Request, partner: dict[str, Any]) -> web.Response:
    sb = sandbox_of(request)
    body = await _body(request)
    _check_partner(request, partner, False)
    cid = body.get("campaign_id")
    if isinstance(cid, bool) or not isinstance(cid, int) or cid <= 0:
        raise fail(request, 400, 3002, "campaign_id is required and must be a positive integer")
    start, end = _unix(request, body, "start_time"), _unix(request, body, "end_time")
    if start is not None and end is not None:
        if end <= start:
            raise fail(request, 400, 3002, "end_time must be greater than start_time")
        if end - start > MAX_RANGE:
            raise fail(request, 400, 3002, "time range must not exceed one year")
    camp = sb.data["insider"]["campaigns"].get(str(cid))
    if camp is None or sb.data["insider"]["partners"].get(camp["partner"]) is not partner:
        raise fail(request, 400, 3004, "Campaign not found")
    stats = campaign_stats(sb, camp, INSIDER_EPOCH if start is None else start,
                           int(sb.now()) if end is None else end)
    if camp["shape"] == "wrapped":
        return jresp({"data": {"statistics": {"sent": stats["sent"], "delivered": stats["delivered"],
                                              "read": stats["open"]}}})
    return jresp(stats)


async def campaign_v1(request: web.Request) -> web.Response:
    return await _campaign(request, _auth_v1(request))


async def campaign_v2(request: web.Request) -> web.Response:
    return await _campaign(request, _auth_gw(request))


async def transactional_v1(request: web.Request) -> web.Response:
    sb = sandbox_of(request)
    partner = _auth_v1(request)
    body = await _body(request)
    _check_partner(request, partner, True)
    start, end = _unix(request, body, "start_time"), _unix(request, body, "end_time")
    errors: dict[str, list[str]] = {}
    if start is None:
        errors["start_time"] = ["The start time field is required."]
    if end is None:
        errors["end_time"] = ["The end time field is required."]
    if start is not None and start < INSIDER_EPOCH:
        errors["time.start"] = [f"time.start must be on or after {INSIDER_EPOCH} (2018-01-01)."]
    if start is not None and end is not None:
        if end <= start:
            errors["time.end"] = ["time.end must be greater than time.start."]
        elif end - start > MAX_RANGE:
            errors["time.range"] = ["The time range must not exceed one year."]
    accounts = body.get("accounts")
    if accounts is not None and (not isinstance(accounts, list) or not all(isinstance(a, str) for a in accounts)):
        errors["accounts"] = ["accounts must be a list of phone numbers."]
    if errors:
        raise unprocessable(errors)
    assert start is not None and end is not None
    result = transactional(sb, partner, start, end, accounts)
    if partner["transactional_shape"] == "wrapped":
        return jresp({"data": {"statistics": {"sent": result["sent"], "delivered": result["delivered"],
                                              "read": result["open"]}}})
    return jresp(result)


async def token(request: web.Request) -> web.Response:
    sb = sandbox_of(request)
    body = await _body(request)
    cid, secret, scopes = body.get("client_id"), body.get("client_secret"), body.get("scopes")
    if not cid or not secret:
        raise fail(request, 400, 3002, "client_id and client_secret are required")
    partner_id = next((p for p, v in sb.data["insider"]["partners"].items()
                       if v.get("client_id") == cid and v.get("client_secret") == secret), None)
    if partner_id is None:
        raise fail(request, 401, 1001, "Invalid client credentials")
    if not isinstance(scopes, list) or SCOPE not in scopes:
        raise fail(request, 400, 3002, f"scopes must include {SCOPE}")
    allowed, _, retry = sb.limiter.check(("mint", cid), sb.cfg("insider_mint_limit"), sb.now(), 60.0)
    if not allowed:
        sb.counters.rate_limited["insider"] += 1
        sb.counters.mints_refused[cid] += 1
        resp = error(request, 429, 2021, "Token mint limit exceeded")
        resp.headers["Retry-After"] = str(max(1, math.ceil(retry)))
        return resp
    sb.counters.tokens_minted[cid] += 1
    ttl = int(sb.cfg("insider_token_ttl"))
    value = "ins_at_" + digest(sb.seed, cid, sb.counters.tokens_minted[cid], sb.now(), size=24)
    sb.data["insider"]["tokens"][value] = {"client_id": cid, "partner": partner_id, "expires_at": sb.now() + ttl}
    return jresp({"access_token": value, "token_type": "Bearer", "expires_in": ttl})


def state(sb: Sandbox, ident: str) -> dict[str, Any] | None:
    camp = sb.data["insider"]["campaigns"].get(ident)
    if camp is None:
        return None
    return {**camp, "current": campaign_stats(sb, camp, INSIDER_EPOCH, int(sb.now()) + DAY)}


ROUTES = [
    web.post(f"{V1}/v1/statistics/campaign", campaign_v1),
    web.post(f"{V1}/v1/statistics/transactional", transactional_v1),
    web.post(f"{GW}/auth/token", token),
    web.post(f"{GW}/api/wa/v2/statistics/campaign", campaign_v2),
]
