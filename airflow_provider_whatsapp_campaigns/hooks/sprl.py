"""Public import path of the SPRL hook (provider info's hook-class-name points here; code in ``vendors.sprl``)."""

from airflow_provider_whatsapp_campaigns.vendors.sprl.hook import SprlHook

__all__ = ["SprlHook"]
