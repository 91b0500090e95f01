"""Sphinx configuration: ``make docs`` (warnings are errors, nitpicky on this package's references)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))
# Importing Airflow for autodoc must not write into ~/airflow or need a metadata DB.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="docs-airflow-home-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

from airflow_provider_whatsapp_campaigns import __version__  # noqa: E402

project = "airflow-provider-whatsapp-campaigns"
author = "airflow-provider-whatsapp-campaigns developers"
copyright = "the airflow-provider-whatsapp-campaigns developers, Apache-2.0"
version = release = __version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
    "myst_parser",
    "provider_docs",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
root_doc = "index"
html_theme = "furo"
html_title = f"WhatsApp Campaigns provider {release}"
myst_heading_anchors = 3

autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"

# Every reference to this package must resolve; without intersphinx (the docs build offline), names
# from Python, Airflow and other libraries cannot, so only those are exempt.
nitpicky = True
# Private names (a ``_`` module or class) are bases the reference does not describe.
nitpick_ignore_regex = [
    (r"py:.*", r"(?!airflow_provider_whatsapp_campaigns\b).*"),
    (r"py:.*", r"airflow_provider_whatsapp_campaigns(\.\w+)*\._\w+(\.\w+)*"),
]
