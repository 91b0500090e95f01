"""Sphinx extension: connection pages rendered from provider info, and an API reference that misses nothing.

``.. connection-form:: <conn_type>`` renders the form Airflow shows for a connection type (standard fields
with their labels and placeholders, then every extra with type, default and help) from
``get_provider_info()``, the same data the Airflow UI reads, so the page cannot drift from the form.

At the end of reading, every public hook, operator, sensor, trigger and extra link that the provider-info
modules expose must have been documented by autodoc; a missing one is a warning (an error under ``-W``).
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from airflow_provider_whatsapp_campaigns import get_provider_info

logger = logging.getLogger(__name__)
PACKAGE = "airflow_provider_whatsapp_campaigns"
STANDARD = ("host", "login", "password", "schema", "port")


def _connection(conn_type: str) -> dict[str, Any]:
    for item in get_provider_info()["connection-types"]:
        if item["connection-type"] == conn_type:
            return item  # type: ignore[no-any-return]
    raise ValueError(f"no connection type {conn_type!r} in provider info")


def _cell(text: object) -> str:
    """Provider-info text as a table cell: ``wapl_…`` must not become an rst reference."""
    return str(text).replace("_", "\\_").replace("\n", " ") if text not in (None, "") else "–"


class ConnectionForm(SphinxDirective):
    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        info = _connection(self.arguments[0])
        behaviour = info.get("ui-field-behaviour", {})
        hidden, labels = behaviour.get("hidden-fields", []), behaviour.get("relabeling", {})
        placeholders = behaviour.get("placeholders", {})
        lines = [
            f"Hook: :class:`~{info['hook-class-name']}` (shown in the UI as *{info['hook-name']}*).",
            "",
            ".. list-table:: Standard fields",
            "   :header-rows: 1",
            "   :widths: 15 25 60",
            "",
            "   * - field",
            "     - label in the form",
            "     - placeholder",
        ]
        for name in STANDARD:
            if name not in hidden:
                lines += [f"   * - ``{name}``", f"     - {_cell(labels.get(name, name.title()))}",
                          f"     - {_cell(placeholders.get(name))}"]
        lines += [
            "",
            f"Hidden: {', '.join(f'``{h}``' for h in hidden) or 'none'}.",
            "",
            ".. list-table:: Extras (the connection's ``extra`` JSON, by plain name)",
            "   :header-rows: 1",
            "   :widths: 15 20 12 10 43",
            "",
            "   * - key",
            "     - label",
            "     - type",
            "     - default",
            "     - meaning",
        ]
        for name, spec in info.get("conn-fields", {}).items():
            schema = spec["schema"]
            kind = next(t for t in schema["type"] if t != "null")
            if schema.get("format") == "password":
                kind += " (secret)"
            default = schema.get("default")
            lines += [f"   * - ``{name}``", f"     - {_cell(spec['label'])}", f"     - {kind}",
                      f"     - {'–' if default is None else f'``{default!r}``'}",
                      f"     - {_cell(spec.get('description'))}"]
        node = nodes.section()
        node.document = self.state.document
        self.state.nested_parse(StringList(lines, source=f"connection-form {self.arguments[0]}"), 0, node)
        return list(node.children)


def _public_classes() -> dict[int, str]:
    """id(class) -> dotted name, for every public Airflow component the provider-info modules expose."""
    from airflow.providers.common.compat.sdk import BaseHook, BaseOperator, BaseOperatorLink
    from airflow.triggers.base import BaseTrigger

    info = get_provider_info()
    modules = [m for kind in ("hooks", "operators", "sensors", "triggers") for entry in info[kind]
               for m in entry["python-modules"]]
    modules += [link.rsplit(".", 1)[0] for link in info["extra-links"]]
    found = {}
    for module_name in modules:
        module = importlib.import_module(module_name)
        for name, obj in vars(module).items():
            if (not name.startswith("_") and inspect.isclass(obj) and obj.__module__.startswith(PACKAGE)
                    and issubclass(obj, (BaseHook, BaseOperator, BaseOperatorLink, BaseTrigger))):
                found.setdefault(id(obj), f"{module_name}.{name}")
    return found


def _record(app: Sphinx, what: str, name: str, obj: object, options: object, lines: list[str]) -> None:
    if what == "class":
        app.env.whatsapp_documented = getattr(app.env, "whatsapp_documented", set()) | {id(obj)}  # type: ignore[attr-defined]


def _check_api_reference(app: Sphinx, env: Any) -> None:
    documented = getattr(env, "whatsapp_documented", set())
    for key, name in sorted(_public_classes().items(), key=lambda kv: kv[1]):
        if key not in documented:
            logger.warning("public class %s is not in the API reference (docs/api.rst)", name)


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("connection-form", ConnectionForm)
    app.connect("autodoc-process-docstring", _record)
    app.connect("env-check-consistency", _check_api_reference)
    return {"parallel_read_safe": False, "parallel_write_safe": True}
