"""Public import path of the Whatomate hooks (provider info's hook-class-names point here; code in ``vendors.whatomate``)."""

from airflow_provider_whatsapp_campaigns.vendors.whatomate.hook import WhatomateHook, WhatomateJwtHook

__all__ = ["WhatomateHook", "WhatomateJwtHook"]
