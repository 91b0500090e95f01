"""Provider info: valid against Airflow's own schemas, and in step with the hooks it names."""

from __future__ import annotations

import importlib
import json
import pkgutil
import warnings
from pathlib import Path

import airflow
import jsonschema
import pytest

import airflow_provider_whatsapp_campaigns as package
from airflow_provider_whatsapp_campaigns import get_provider_info
from airflow_provider_whatsapp_campaigns.hooks.base import hook_class_for

AIRFLOW_DIR = Path(airflow.__file__).parent
INFO = get_provider_info()
CONN_TYPES = ["sprl", "insider_whatsapp", "insider_whatsapp_oauth", "whatomate", "whatomate_jwt", "waplify"]


def test_validates_against_airflow_provider_info_schema():
    schema = json.loads((AIRFLOW_DIR / "provider_info.schema.json").read_text())
    jsonschema.validate(INFO, schema)


@pytest.mark.parametrize("item", INFO["connection-types"], ids=lambda i: i["connection-type"])
def test_connection_types_validate_against_provider_yaml_schema(item):
    schema = json.loads((AIRFLOW_DIR / "provider.yaml.schema.json").read_text())
    jsonschema.validate(item, schema["properties"]["connection-types"]["items"])
    for field in item["conn-fields"].values():
        assert field["label"]
        assert "type" in field["schema"]


def test_declares_the_six_public_connection_types():
    assert [c["connection-type"] for c in INFO["connection-types"]] == CONN_TYPES


@pytest.mark.parametrize("conn_type", CONN_TYPES)
def test_hook_class_matches_connection_type(conn_type):
    item = next(c for c in INFO["connection-types"] if c["connection-type"] == conn_type)
    module, _, name = item["hook-class-name"].rpartition(".")
    hook = getattr(importlib.import_module(module), name)
    assert hook.conn_type == conn_type
    assert hook is hook_class_for(conn_type)
    assert hook.hook_name == item["hook-name"]
    # 2.11 reads the form methods from the class's own __dict__ (style.md P6).
    assert "get_connection_form_widgets" in hook.__dict__
    assert "get_ui_field_behaviour" in hook.__dict__
    behaviour = hook.get_ui_field_behaviour()
    kebab = item["ui-field-behaviour"]
    assert behaviour == {
        "hidden_fields": kebab["hidden-fields"],
        "relabeling": kebab["relabeling"],
        "placeholders": kebab["placeholders"],
    }


@pytest.mark.parametrize("conn_type", CONN_TYPES)
def test_secrets_are_password_fields(conn_type):
    item = next(c for c in INFO["connection-types"] if c["connection-type"] == conn_type)
    for name, field in item["conn-fields"].items():
        if "url" in name and "redis" in name:
            assert field["schema"].get("format") == "password"
    assert "password" not in item["ui-field-behaviour"]["hidden-fields"]


def test_every_listed_module_exists_and_imports_without_deprecation_warnings():
    listed = {
        module
        for key in ("hooks", "operators", "sensors", "triggers")
        for group in INFO[key]
        for module in group["python-modules"]
    }
    found = {
        m.name
        for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")
        if m.name.split(".")[1] in ("hooks", "operators", "sensors", "triggers") and not m.ispkg
    }
    assert listed == found
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        for module in sorted(listed):
            importlib.import_module(module)
    for link in INFO["extra-links"]:
        module, _, name = link.rpartition(".")
        assert getattr(importlib.import_module(module), name)


def test_entry_point_is_registered():
    from importlib.metadata import entry_points

    [entry] = [e for e in entry_points(group="apache_airflow_provider") if e.value.startswith(package.__name__)]
    assert entry.load()() == INFO


def test_airflow_providers_manager_discovers_the_forms():
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert "airflow-provider-whatsapp-campaigns" in manager.providers
    hooks = manager.hooks
    for conn_type in CONN_TYPES:
        assert hooks[conn_type] is not None, conn_type
    widgets = manager.connection_form_widgets
    assert "extra__whatomate__whatsapp_account" in widgets or any("whatsapp_account" in k for k in widgets)


@pytest.mark.parametrize("conn_type", CONN_TYPES)
def test_airflow_resolves_the_public_hook_path(conn_type):
    """The classes live in ``vendors/``; Airflow only imports the public ``hooks.<vendor>`` path by name."""
    from airflow._shared.module_loading import import_string
    from airflow.providers_manager import ProvidersManager

    vendor = {"insider_whatsapp": "insider", "insider_whatsapp_oauth": "insider", "whatomate_jwt": "whatomate"}
    info = ProvidersManager().hooks[conn_type]
    assert info is not None
    assert info.hook_class_name.rpartition(".")[0] == f"{package.__name__}.hooks.{vendor.get(conn_type, conn_type)}"
    hook = import_string(info.hook_class_name)
    assert hook.conn_type == conn_type
    assert hook.__module__.startswith(f"{package.__name__}.vendors.")


# What each form must show, written out from design.md's connection table (not derived from FORMS,
# so a change to a form that breaks the documented contract fails here).
COMMON = {"timeout", "max_retries", "rate_limit", "verify", "allow_insecure", "redis_url"}
EXPECTED = {
    "sprl": {"login": "Client ID", "password": "API key", "extras": {"account_id"}},
    "insider_whatsapp": {"login": None, "password": "API key", "extras": set()},
    "insider_whatsapp_oauth": {"login": "Client ID", "password": "Client secret", "extras": {"token_url", "scopes"}},
    "whatomate": {"login": None, "password": "API key", "extras": {"whatsapp_account"}},
    "whatomate_jwt": {"login": "Email", "password": "Password", "extras": {"whatsapp_account"}},
    "waplify": {"login": None, "password": "API key", "extras": {"waba_phone_id"}},
}


@pytest.mark.parametrize("conn_type", CONN_TYPES)
def test_forms_show_the_documented_fields(conn_type):
    expected = EXPECTED[conn_type]
    item = next(c for c in INFO["connection-types"] if c["connection-type"] == conn_type)
    hook = hook_class_for(conn_type)
    for behaviour in (
        hook.get_ui_field_behaviour(),
        {k.replace("-", "_"): v for k, v in item["ui-field-behaviour"].items()},
    ):
        assert ("login" in behaviour["hidden_fields"]) == (expected["login"] is None)
        assert "password" not in behaviour["hidden_fields"]
        assert behaviour["relabeling"].get("password") == expected["password"]
        if expected["login"]:
            assert behaviour["relabeling"]["login"] == expected["login"]
    assert set(item["conn-fields"]) == COMMON | expected["extras"]
