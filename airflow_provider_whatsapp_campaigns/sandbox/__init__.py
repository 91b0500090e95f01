"""Local stateful fake of the five WhatsApp campaign vendor APIs (SPRL, Insider v1/v2,
Whatomate, Waplify) in one aiohttp app. Sandbox-only demo credentials live in ``state.DEMO``.

Never imports Airflow, so it starts fast without an Airflow home.
"""

from __future__ import annotations

from airflow_provider_whatsapp_campaigns.sandbox.client import SandboxAdmin
from airflow_provider_whatsapp_campaigns.sandbox.connections import airflow_connections
from airflow_provider_whatsapp_campaigns.sandbox.runner import SandboxServer
from airflow_provider_whatsapp_campaigns.sandbox.server import create_app
from airflow_provider_whatsapp_campaigns.sandbox.state import DEFAULT_CONFIG, DEMO

__all__ = ["DEFAULT_CONFIG", "DEMO", "SandboxAdmin", "SandboxServer", "airflow_connections", "create_app"]
