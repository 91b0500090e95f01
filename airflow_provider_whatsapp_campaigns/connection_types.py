"""The six connection forms, declared once as data.

From this one declaration come the Airflow >= 3.2 ``conn-fields``/``ui-field-behaviour`` in
provider info (read without importing hooks) and the Airflow 2.11 wtforms widgets on the hooks.
No Airflow import here: provider discovery loads this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PACKAGE = "airflow_provider_whatsapp_campaigns"
STANDARD_FIELDS = ("host", "port", "login", "password", "schema", "extra", "description")


@dataclass(frozen=True)
class ExtraField:
    name: str
    label: str
    type: str  # string | integer | number | boolean | array (of strings)
    description: str = ""
    default: Any = None
    secret: bool = False
    minimum: float | None = None
    maximum: float | None = None
    placeholder: str | None = None

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": [self.type, "null"]}
        if self.type == "array":
            # Airflow >= 3.2 renders a list of strings as a text box, one value per line, and
            # stores a JSON list in ``extra``.
            schema["items"] = {"type": "string"}
        if self.default is not None:
            schema["default"] = list(self.default) if self.type == "array" else self.default
        if self.secret:
            schema["format"] = "password"
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        return schema


COMMON_EXTRAS = (
    ExtraField(
        "timeout",
        "Timeout (seconds)",
        "integer",
        "How long to wait for one answer from the vendor before retrying. Default 30.",
        30,
        minimum=1,
        maximum=3600,
    ),
    ExtraField(
        "max_retries",
        "Max retries",
        "integer",
        "Retries of temporary failures (HTTP 429, 5xx, timeouts), with backoff. Wrong credentials "
        "and other permanent errors never retry. Default 5.",
        5,
        minimum=0,
        maximum=10,
    ),
    ExtraField(
        "rate_limit",
        "Requests per second",
        "number",
        "Client-side limit for this connection, e.g. 5. Leave empty for the vendor's published limit.",
        minimum=0.1,
        maximum=10_000,
    ),
    ExtraField(
        "verify",
        "Verify TLS certificate",
        "boolean",
        "Turn off only for a test server with a self-signed certificate.",
        True,
    ),
    ExtraField(
        "allow_insecure",
        "Allow plain http://",
        "boolean",
        "Only for a server on a network you trust: the credentials cross it unencrypted. Not needed for localhost.",
        False,
    ),
    ExtraField(
        "redis_url",
        "Redis URL (shared rate limit)",
        "string",
        "Optional, e.g. redis://:password@redis-host:6379/0, so every worker and triggerer shares one "
        "request budget. Leave empty to limit each process on its own.",
        secret=True,
        placeholder="redis://localhost:6379/0",
    ),
)


@dataclass(frozen=True)
class ConnectionForm:
    conn_type: str
    hook_name: str
    hook_class: str
    hidden_fields: tuple[str, ...]
    relabeling: dict[str, str]
    placeholders: dict[str, str]
    extras: tuple[ExtraField, ...] = ()
    default_host: str | None = None
    all_extras: tuple[ExtraField, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "all_extras", self.extras + COMMON_EXTRAS)

    def conn_fields(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for extra in self.all_extras:
            entry: dict[str, Any] = {"label": extra.label, "schema": extra.json_schema()}
            if extra.description:
                entry["description"] = extra.description
            out[extra.name] = entry
        return out

    def ui_field_behaviour(self, *, snake_case: bool = False) -> dict[str, Any]:
        placeholders = dict(self.placeholders)
        for extra in self.all_extras:
            if extra.placeholder:
                placeholders.setdefault(extra.name, extra.placeholder)
        keys = (
            ("hidden_fields", "relabeling", "placeholders")
            if snake_case
            else (
                "hidden-fields",
                "relabeling",
                "placeholders",
            )
        )
        return dict(zip(keys, (list(self.hidden_fields), dict(self.relabeling), placeholders), strict=False))

    def provider_info(self) -> dict[str, Any]:
        return {
            "connection-type": self.conn_type,
            "hook-class-name": self.hook_class,
            "hook-name": self.hook_name,
            "ui-field-behaviour": self.ui_field_behaviour(),
            "conn-fields": self.conn_fields(),
        }

    def widgets(self) -> dict[str, Any]:
        """Airflow 2.11 form widgets (only String/Password/Integer/Boolean fields are accepted there)."""
        from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextFieldWidget
        from flask_babel import lazy_gettext
        from wtforms import BooleanField, IntegerField, PasswordField, StringField
        from wtforms.validators import NumberRange, Optional

        widgets: dict[str, Any] = {}
        for extra in self.all_extras:
            label = lazy_gettext(extra.label)
            if extra.secret:
                widgets[extra.name] = PasswordField(
                    label, widget=BS3PasswordFieldWidget(), description=extra.description
                )
            elif extra.type == "boolean":
                widgets[extra.name] = BooleanField(label, default=bool(extra.default), description=extra.description)
            elif extra.type == "integer":
                validators = [Optional(), NumberRange(min=extra.minimum, max=extra.maximum)]
                widgets[extra.name] = IntegerField(
                    label,
                    widget=BS3TextFieldWidget(),
                    validators=validators,
                    default=extra.default,
                    description=extra.description,
                )
            else:  # numbers and lists travel as strings on 2.11 and are parsed by the hook
                default = " ".join(extra.default) if extra.type == "array" and extra.default else extra.default
                widgets[extra.name] = StringField(
                    label, widget=BS3TextFieldWidget(), default=default, description=extra.description
                )
        return widgets


def _hook(module: str, name: str) -> str:
    return f"{PACKAGE}.hooks.{module}.{name}"


# Airflow >= 3.2 shows placeholders only on the standard fields (host, login, password); the
# extra fields show their description under the box instead, so examples live there.

SPRL = ConnectionForm(
    conn_type="sprl",
    hook_name="SPRL (WhatsApp campaign tracking)",
    hook_class=_hook("sprl", "SprlHook"),
    hidden_fields=("schema", "port"),
    relabeling={"host": "API base URL", "login": "Client ID", "password": "API key"},
    placeholders={
        "host": "https://insprl.com/api (used when empty)",
        "login": "Client ID from SPRL → Developer / API settings",
        "password": "API key from SPRL → Developer / API settings",
    },
    extras=(
        ExtraField(
            "account_id",
            "WhatsApp account UID",
            "string",
            "UID of the WhatsApp account the campaigns were sent from (SPRL → WhatsApp → Accounts). "
            "Used when a task names no account.",
            placeholder="WhatsApp account UID",
        ),
    ),
    default_host="https://insprl.com/api",
)

INSIDER = ConnectionForm(
    conn_type="insider_whatsapp",
    hook_name="Insider One WhatsApp (API key)",
    hook_class=_hook("insider", "InsiderHook"),
    hidden_fields=("schema", "port", "login"),
    relabeling={"host": "API base URL", "password": "API key"},
    placeholders={
        "host": "https://whatsapp.useinsider.com (used when empty)",
        "password": "INS.… key from the Insider One panel → API settings",
    },
    default_host="https://whatsapp.useinsider.com",
)

INSIDER_OAUTH = ConnectionForm(
    conn_type="insider_whatsapp_oauth",
    hook_name="Insider One WhatsApp (OAuth2 client credentials)",
    hook_class=_hook("insider", "InsiderOAuthHook"),
    hidden_fields=("schema", "port"),
    relabeling={"host": "Gateway URL", "login": "Client ID", "password": "Client secret"},
    placeholders={
        "host": "https://gw.api.insidethekube.com (used when empty)",
        "login": "OAuth client ID from the Insider One panel → API settings",
        "password": "OAuth client secret (shown once when the client is created)",
    },
    extras=(
        ExtraField(
            "token_url",
            "Token URL",
            "string",
            "Where the client ID and secret are exchanged for an access token. Leave empty for "
            "<Gateway URL>/auth/token (https://gw.api.insidethekube.com/auth/token).",
            placeholder="https://gw.api.insidethekube.com/auth/token",
        ),
        ExtraField(
            "scopes",
            "Scopes",
            "array",
            "OAuth scopes granted to the client, one per line; wa-stats-api reads WhatsApp statistics.",
            ("wa-stats-api",),
            placeholder="wa-stats-api",
        ),
    ),
    default_host="https://gw.api.insidethekube.com",
)

_WHATOMATE_ACCOUNT = ExtraField(
    "whatsapp_account",
    "WhatsApp account name",
    "string",
    "Account NAME as listed in Whatomate → Settings → WhatsApp Accounts, e.g. main-account. "
    "New campaigns use it when a task names no account.",
    placeholder="e.g. main-account",
)

WHATOMATE = ConnectionForm(
    conn_type="whatomate",
    hook_name="Whatomate (API key)",
    hook_class=_hook("whatomate", "WhatomateHook"),
    hidden_fields=("schema", "port", "login"),
    relabeling={"host": "Server URL", "password": "API key"},
    placeholders={
        "host": "https://whatomate.example.com (your own server)",
        "password": "whm_… key from Whatomate → Settings → API Keys",
    },
    extras=(_WHATOMATE_ACCOUNT,),
)

WHATOMATE_JWT = ConnectionForm(
    conn_type="whatomate_jwt",
    hook_name="Whatomate (email + password)",
    hook_class=_hook("whatomate", "WhatomateJwtHook"),
    hidden_fields=("schema", "port"),
    relabeling={"host": "Server URL", "login": "Email", "password": "Password"},
    placeholders={
        "host": "https://whatomate.example.com (your own server)",
        "login": "you@example.com (a Whatomate user)",
        "password": "that user's Whatomate password",
    },
    extras=(_WHATOMATE_ACCOUNT,),
)

WAPLIFY = ConnectionForm(
    conn_type="waplify",
    hook_name="Waplify",
    hook_class=_hook("waplify", "WaplifyHook"),
    hidden_fields=("schema", "port", "login"),
    relabeling={"host": "API base URL", "password": "API key"},
    placeholders={
        "host": "https://server.waplify.io (used when empty)",
        "password": "wapl_… key from Waplify → Settings → API keys",
    },
    extras=(
        ExtraField(
            "waba_phone_id",
            "WABA phone number ID",
            "string",
            "ID of the sending WhatsApp Business number (Waplify → Settings → WhatsApp numbers). "
            "Used when a task names no sender.",
            placeholder="WABA phone number ID",
        ),
    ),
    default_host="https://server.waplify.io",
)

FORMS: dict[str, ConnectionForm] = {
    form.conn_type: form for form in (SPRL, INSIDER, INSIDER_OAUTH, WHATOMATE, WHATOMATE_JWT, WAPLIFY)
}
