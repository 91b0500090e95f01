"""One module per fake vendor; each exposes SPEC, ROUTES, initial_data, seed and state."""

from __future__ import annotations

from types import ModuleType

from airflow_provider_whatsapp_campaigns.sandbox.vendors import insider, sprl, waplify, whatomate

MODULES: dict[str, ModuleType] = {"sprl": sprl, "insider": insider, "whatomate": whatomate, "waplify": waplify}
