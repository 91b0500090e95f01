"""Apache Airflow provider for WhatsApp campaigns (SPRL, Insider One, Whatomate, Waplify)."""

from __future__ import annotations

__version__ = "0.2.0.dev0"

from airflow_provider_whatsapp_campaigns.get_provider_info import get_provider_info

__all__ = ["__version__", "get_provider_info"]
