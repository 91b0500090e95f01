"""Airflow connection values pointing at a running sandbox (sandbox-only demo credentials)."""

from __future__ import annotations

import json

from airflow_provider_whatsapp_campaigns.sandbox.state import DEMO

#: vendor key -> URL path prefix under the sandbox root
BASE_PATHS = {
    "sprl": "/sprl/api",
    "insider": "/insider",
    "insider_oauth": "/insider-gw",
    "whatomate": "/whatomate",
    "waplify": "/waplify",
}


def base_url(root: str, vendor: str) -> str:
    """Base URL a connection's ``host`` should hold for ``vendor``."""
    return root.rstrip("/") + BASE_PATHS[vendor]


def airflow_connections(root: str) -> dict[str, str]:
    """``AIRFLOW_CONN_*`` env var name -> Airflow JSON connection value."""
    sprl, ins, whm, wap = DEMO["sprl"], DEMO["insider"], DEMO["whatomate"], DEMO["waplify"]
    conns = {
        "SPRL_DEFAULT": {"conn_type": "sprl", "host": base_url(root, "sprl"), "login": sprl["client_id"],
                         "password": sprl["api_key"], "extra": {"account_id": sprl["account_id"]}},
        "INSIDER_WHATSAPP_DEFAULT": {"conn_type": "insider_whatsapp", "host": base_url(root, "insider"),
                                     "password": ins["api_key"]},
        "INSIDER_WHATSAPP_OAUTH_DEFAULT": {
            "conn_type": "insider_whatsapp_oauth", "host": base_url(root, "insider_oauth"),
            "login": ins["client_id"], "password": ins["client_secret"],
            "extra": {"token_url": base_url(root, "insider_oauth") + "/auth/token", "scopes": ["wa-stats-api"]}},
        "WHATOMATE_DEFAULT": {"conn_type": "whatomate", "host": base_url(root, "whatomate"),
                              "password": whm["api_key"], "extra": {"whatsapp_account": whm["whatsapp_account"]}},
        "WHATOMATE_JWT_DEFAULT": {"conn_type": "whatomate_jwt", "host": base_url(root, "whatomate"),
                                  "login": whm["email"], "password": whm["password"],
                                  "extra": {"whatsapp_account": whm["whatsapp_account"]}},
        "WAPLIFY_DEFAULT": {"conn_type": "waplify", "host": base_url(root, "waplify"), "password": wap["api_key"],
                            "extra": {"waba_phone_id": wap["waba_phone_id"]}},
    }
    return {f"AIRFLOW_CONN_{name}": json.dumps(value) for name, value in conns.items()}
