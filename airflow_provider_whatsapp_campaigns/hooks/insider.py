"""Public import path of the Insider hooks (provider info's hook-class-names point here; code in ``vendors.insider``)."""

from airflow_provider_whatsapp_campaigns.vendors.insider.hook import InsiderHook, InsiderOAuthHook

__all__ = ["InsiderHook", "InsiderOAuthHook"]
