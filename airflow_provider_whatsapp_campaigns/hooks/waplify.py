"""Public import path of the Waplify hook (provider info's hook-class-name points here; code in ``vendors.waplify``)."""

from airflow_provider_whatsapp_campaigns.vendors.waplify.hook import WaplifyHook

__all__ = ["WaplifyHook"]
