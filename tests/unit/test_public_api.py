"""The packages' public surface: names importable from ``hooks``, ``operators``, ``sensors``,
``triggers`` — and importing those packages stays cheap (no vendor module, no Airflow)."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import airflow_provider_whatsapp_campaigns.hooks as hooks_pkg
from airflow_provider_whatsapp_campaigns.hooks import get_hook

PACKAGES = {
    "hooks": {"get_hook": "base", "aget_hook": "base", "WhatsAppCampaignHook": "base", "CampaignSpec": "base",
              "Recipient": "base", "CreatedCampaign": "base", "SprlHook": "sprl", "InsiderHook": "insider",
              "InsiderOAuthHook": "insider", "WhatomateHook": "whatomate", "WhatomateJwtHook": "whatomate",
              "WaplifyHook": "waplify"},
    "operators": {"WhatsAppCreateCampaignOperator": "campaign", "WhatsAppStartCampaignOperator": "campaign",
                  "WhatsAppCampaignStatsOperator": "campaign", "WhatsAppPauseCampaignOperator": "campaign",
                  "WhatsAppCancelCampaignOperator": "campaign", "WhatsAppExportContactsOperator": "export",
                  "InsiderTransactionalStatsOperator": "insider"},
    "sensors": {"WhatsAppCampaignSensor": "campaign"},
    "triggers": {"WhatsAppCampaignTrigger": "campaign", "WhatsAppFinishedCampaignsTrigger": "finished"},
}


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_public_names_are_the_module_objects(package):
    pkg = importlib.import_module(f"airflow_provider_whatsapp_campaigns.{package}")
    assert sorted(pkg.__all__) == sorted(PACKAGES[package])
    for name, module in PACKAGES[package].items():
        home = importlib.import_module(f"airflow_provider_whatsapp_campaigns.{package}.{module}")
        assert getattr(pkg, name) is getattr(home, name)
        assert name in dir(pkg)


def test_get_hook_from_the_package(airflow_conn):
    from airflow_provider_whatsapp_campaigns.hooks import WaplifyHook

    airflow_conn("wapl_public", "waplify", host="https://server.waplify.io", password="k")
    assert get_hook is hooks_pkg.get_hook
    assert isinstance(get_hook("wapl_public"), WaplifyHook)


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        hooks_pkg.Nope  # noqa: B018


def test_importing_the_packages_loads_no_vendor_and_no_airflow():
    code = (
        "import sys\n"
        "import airflow_provider_whatsapp_campaigns.hooks, airflow_provider_whatsapp_campaigns.operators\n"
        "import airflow_provider_whatsapp_campaigns.sensors, airflow_provider_whatsapp_campaigns.triggers\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'airflow' or '.hooks.' in m or '.vendors.' in m))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "[]"
