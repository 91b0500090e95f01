"""The README's connection examples (JSON and URI) really define working connections."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from airflow_provider_whatsapp_campaigns.hooks.base import hook_class_for

README = (Path(__file__).parents[2] / "README.md").read_text()
JSON_EXAMPLES = re.findall(r"^export AIRFLOW_CONN_(\w+)='(\{.*\})'$", README, flags=re.M)
URI_EXAMPLES = re.findall(r"^airflow connections add (\w+) --conn-uri '([^']+)'$", README, flags=re.M)


def _config(conn):
    hook = hook_class_for(conn.conn_type)(conn_id=conn.conn_id)
    hook.__dict__["connection"] = conn
    return hook.config


def test_there_is_an_example_of_each_kind_for_every_type():
    assert len(JSON_EXAMPLES) == 6
    assert len(URI_EXAMPLES) == 5  # OAuth is shown with --conn-type flags instead


@pytest.mark.parametrize(("conn_id", "value"), JSON_EXAMPLES, ids=[c for c, _ in JSON_EXAMPLES])
def test_json_examples(conn_id, value):
    from airflow.models.connection import Connection

    data = json.loads(value)
    conn = Connection(conn_id=conn_id.lower(), **{**data, "extra": json.dumps(data.get("extra", {}))})
    config = _config(conn)
    assert config.base_url.startswith("https://")
    assert config.password


@pytest.mark.parametrize(("conn_id", "uri"), URI_EXAMPLES, ids=[c for c, _ in URI_EXAMPLES])
def test_uri_examples(conn_id, uri):
    from airflow.models.connection import Connection

    conn = Connection(conn_id=conn_id, uri=uri)
    config = _config(conn)
    assert config.base_url.startswith("https://")
    assert config.password
    expected_type = conn_id.removesuffix("_default")
    assert conn.conn_type == expected_type
