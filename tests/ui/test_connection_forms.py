"""Set up each of the six connections the way a person does, in a real browser on a real Airflow.

Admin → Connections → Add Connection, pick the type, check the form (labels, hidden fields,
placeholders, help texts), fill it with the sandbox's demo credentials, save, press Test and see
the hook's ``test_connection`` message, reopen it and see the secret masked, then save a wrong
key and see the failure. The stored connection is read back in a fresh process and must hold
exactly what was typed. Screenshots land in ``test-artifacts/ui/``; with
``UPDATE_DOCS_SCREENSHOTS=1`` the README images in ``docs/img/`` are refreshed too.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from typing import Any

import pytest

from airflow_provider_whatsapp_campaigns.connection_types import FORMS, ConnectionForm
from airflow_provider_whatsapp_campaigns.sandbox.state import DEMO

from .conftest import ARTIFACTS, ROOT, AirflowServer

pytestmark = [pytest.mark.ui, pytest.mark.timeout(240)]

expect: Any = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed").expect

DOCS_IMG = ROOT / "docs" / "img"
STANDARD_LABELS = {"host": "Host", "login": "Login", "password": "Password", "port": "Port", "schema": "Schema"}
# What a README reader should see in the host box (the sandbox's loopback URL is typed after the shot).
DOC_HOSTS = {"whatomate": "https://whatomate.example.com", "whatomate_jwt": "https://whatomate.example.com"}


@dataclass(frozen=True)
class Case:
    vendor: str  # sandbox base-URL key
    password: str
    wrong_password: str
    login: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)  # typed into the Extra Fields tab
    failure: str = "Authentication failed"


def _cases() -> dict[str, Case]:
    sprl, ins, whm, wap = DEMO["sprl"], DEMO["insider"], DEMO["whatomate"], DEMO["waplify"]
    return {
        "sprl": Case("sprl", sprl["api_key"], "sprl_wrong_key", sprl["client_id"], {"account_id": sprl["account_id"]}),
        "insider_whatsapp": Case("insider", ins["api_key"], "INS.wrong-api-key"),
        "insider_whatsapp_oauth": Case(
            "insider_oauth",
            ins["client_secret"],
            "wrong-secret",
            ins["client_id"],
            {"token_url": "{base}/auth/token", "scopes": ["wa-stats-api"]},
        ),
        "whatomate": Case("whatomate", whm["api_key"], "whm_wrong_key", extras={"whatsapp_account": "demo-account"}),
        "whatomate_jwt": Case(
            "whatomate", whm["password"], "wrong-password", whm["email"], {"whatsapp_account": "demo-account"}
        ),
        "waplify": Case("waplify", wap["api_key"], "wapl_wrong_key", extras={"waba_phone_id": wap["waba_phone_id"]}),
    }


CASES = _cases()
PARAMS = list(CASES)

READ_BACK = """
import json, sys
from airflow.models.connection import Connection
from airflow_provider_whatsapp_campaigns.hooks.base import hook_class_for

conn = Connection.get_connection_from_secrets(sys.argv[1])
hook = hook_class_for(conn.conn_type)(conn_id=conn.conn_id)
hook.__dict__["connection"] = conn
auth = hook.build_auth(hook.config)
print(json.dumps({
    "conn_type": conn.conn_type, "host": conn.host, "login": conn.login, "password": conn.password,
    "port": conn.port, "schema": conn.schema, "extra": conn.extra_dejson, "base_url": hook.config.base_url,
    "scopes": getattr(auth, "scopes", None), "token_url": getattr(auth, "token_url", None),
}))
"""


def _open_add_dialog(page: Any, server: AirflowServer) -> Any:
    page.goto(server.url + "/")
    page.get_by_role("button", name="Admin").click()
    page.get_by_role("menuitem", name="Connections").click()
    expect(page).to_have_url(re.compile(r"/connections$"))
    page.get_by_role("button", name="Add Connection").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="Add Connection")).to_be_visible()
    return dialog


def _pick_type(page: Any, dialog: Any, form: ConnectionForm) -> None:
    combo = dialog.get_by_role("combobox", name="Connection Type")
    combo.fill(form.hook_name.split(" (")[0])
    page.get_by_role("option", name=form.hook_name, exact=True).click()
    expect(dialog.get_by_text("Standard Fields", exact=True)).to_be_visible()


def _check_standard_fields(dialog: Any, form: ConnectionForm) -> dict[str, Any]:
    """Relabelled fields are visible with their placeholders; hidden ones are absent."""
    inputs = {}
    for name, default_label in STANDARD_LABELS.items():
        if name in form.hidden_fields:
            expect(dialog.get_by_text(default_label, exact=True)).to_have_count(0)
            expect(dialog.get_by_label(default_label, exact=True)).to_have_count(0)
            continue
        label = form.relabeling.get(name, default_label)
        box = dialog.get_by_label(label, exact=True)
        expect(box).to_be_visible()
        if name in form.placeholders:
            expect(box).to_have_attribute("placeholder", form.placeholders[name])
        inputs[name] = box
    expect(inputs["password"]).to_have_attribute("type", "password")
    return inputs


def _extra_box(dialog: Any, name: str) -> Any:
    # Airflow 3.3's extra-field <label for=…> does not point at its <input id="element_<name>">,
    # so get_by_label cannot find text extras: address them by the input's name instead.
    return dialog.locator(f'[name="element_{name}"]')


def _check_and_fill_extras(dialog: Any, form: ConnectionForm, typed: dict[str, Any]) -> None:
    dialog.get_by_role("button", name="Extra Fields", exact=True).click()
    for extra in form.all_extras:
        expect(dialog.get_by_text(extra.label, exact=True)).to_be_visible()
        if extra.description:
            expect(dialog.get_by_text(extra.description, exact=True)).to_be_visible()
        if extra.secret:
            expect(_extra_box(dialog, extra.name)).to_have_attribute("type", "password")
    for name, value in typed.items():
        box = _extra_box(dialog, name)
        box.fill("\n".join(value) if isinstance(value, list) else str(value))


def _expected_extra(form: ConnectionForm, typed: dict[str, Any]) -> dict[str, Any]:
    """What ``extra`` must hold: the typed values, the form's defaults, nothing lost or renamed."""
    out = {}
    for extra in form.all_extras:
        value = typed.get(extra.name, extra.default)
        if extra.type == "array" and value is not None:
            value = list(value)
        if value is not None:
            out[extra.name] = value
    return out


def _row(page: Any, conn_id: str) -> Any:
    return page.get_by_role("row").filter(has=page.get_by_role("cell", name=conn_id, exact=True))


def _press_test(page: Any, conn_id: str, title: str) -> Any:
    _row(page, conn_id).get_by_role("button", name="Test Connection").click()
    toast = page.get_by_role("status").filter(has_text=title).last
    expect(toast).to_be_visible(timeout=20_000)
    page.wait_for_timeout(400)  # let the toast finish sliding in before any screenshot
    with (ARTIFACTS / "test-messages.txt").open("a", encoding="utf-8") as out:
        out.write(f"{conn_id}: {' | '.join(toast.inner_text().splitlines())}\n")
    return toast


@pytest.mark.parametrize("conn_type", PARAMS)
def test_connection_form(conn_type: str, page: Any, airflow_server: AirflowServer, sandbox: Any) -> None:
    form, case = FORMS[conn_type], CASES[conn_type]
    conn_id = f"{conn_type}_default"
    base = sandbox.base_url(case.vendor)
    typed = {k: v.format(base=base) if isinstance(v, str) else v for k, v in case.extras.items()}

    # -- Admin → Connections → Add, pick the type, check the form
    dialog = _open_add_dialog(page, airflow_server)
    dialog.get_by_role("textbox", name="Connection ID").fill(conn_id)
    _pick_type(page, dialog, form)
    inputs = _check_standard_fields(dialog, form)
    if case.login is not None:
        inputs["login"].fill(case.login)
    inputs["password"].fill(case.password)
    if os.environ.get("UPDATE_DOCS_SCREENSHOTS"):
        inputs["host"].fill(DOC_HOSTS.get(conn_type, form.default_host or ""))
        dialog.get_by_role("heading", name="Add Connection").click()  # no focus ring in the picture
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        dialog.screenshot(path=str(DOCS_IMG / f"connection-{conn_type}.png"))
    inputs["host"].fill(base)
    dialog.screenshot(path=str(ARTIFACTS / f"{conn_type}-1-standard.png"))
    _check_and_fill_extras(dialog, form, typed)
    page.screenshot(path=str(ARTIFACTS / f"{conn_type}-2-extras.png"))

    # -- save, and read it back in a fresh process: exactly what was typed
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    expect(_row(page, conn_id)).to_be_visible()
    stored = json.loads(airflow_server.run_python(READ_BACK, conn_id).strip().splitlines()[-1])
    assert stored["conn_type"] == conn_type
    assert (stored["host"], stored["login"], stored["password"]) == (base, case.login, case.password)
    assert stored["port"] is None and stored["schema"] is None
    assert {k: v for k, v in stored["extra"].items() if v is not None} == _expected_extra(form, typed)
    assert stored["base_url"] == base
    if conn_type == "insider_whatsapp_oauth":
        assert stored["scopes"] == ["wa-stats-api"]  # a JSON list, parsed by the hook as one
        assert stored["token_url"] == typed["token_url"]

    # -- Test: the hook's own success message
    toast = _press_test(page, conn_id, "Test Connection Successful")
    expect(toast).to_contain_text(f"at {base} works")
    page.screenshot(path=str(ARTIFACTS / f"{conn_type}-3-test-ok.png"))

    # -- reopen: the secret is masked, never shown
    _row(page, conn_id).get_by_role("button", name="Edit Connection").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="Edit Connection")).to_be_visible()
    secret = dialog.get_by_label(form.relabeling["password"], exact=True)
    expect(secret).to_have_attribute("type", "password")
    assert secret.input_value() != case.password
    assert case.password not in dialog.inner_text()
    expect(dialog.get_by_label(form.relabeling["host"], exact=True)).to_have_value(base)

    # -- a wrong key: saved, tested, and the failure says what to fix
    secret.fill(case.wrong_password)
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    toast = _press_test(page, conn_id, "Test Connection Failed")
    expect(toast).to_contain_text(case.failure)
    assert case.wrong_password not in toast.inner_text()
    page.screenshot(path=str(ARTIFACTS / f"{conn_type}-4-test-failed.png"))
