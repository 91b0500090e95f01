"""A DAG file that imports the operators and sensor, plus Airflow's provider discovery, must not pay
for what only a running task uses: phone validation, the rate limiter, the HTTP clients."""

from __future__ import annotations

import json
import os
import subprocess
import sys

DEFERRED = ("phonenumbers", "pyrate_limiter", "aiohttp", "requests")

PROBE = """
import json, sys
import airflow.sdk
before = set(sys.modules)
from airflow_provider_whatsapp_campaigns import get_provider_info
get_provider_info()
from airflow_provider_whatsapp_campaigns.operators.campaign import WhatsAppCreateCampaignOperator
from airflow_provider_whatsapp_campaigns.operators.export import WhatsAppExportContactsOperator
from airflow_provider_whatsapp_campaigns.sensors.campaign import WhatsAppCampaignSensor
from airflow_provider_whatsapp_campaigns.triggers.campaign import WhatsAppCampaignTrigger
print(json.dumps(sorted({name.split(".")[0] for name in set(sys.modules) - before})))
"""


def test_dag_file_imports_do_not_load_what_only_requests_need():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert not set(loaded) & set(DEFERRED), f"imported at DAG-parse time: {sorted(set(loaded) & set(DEFERRED))}"
