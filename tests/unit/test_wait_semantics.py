"""Every wait keeps Airflow's sensor semantics: soft_fail on the first check, settled mode, sensor timeouts."""

from __future__ import annotations

from unittest import mock

import pytest
from airflow.providers.common.compat.sdk import AirflowSkipException

from airflow_provider_whatsapp_campaigns.sensors.campaign import WhatsAppCampaignSensor


def context() -> dict:
    return {"ti": mock.MagicMock()}


def test_deferrable_sensor_first_check_honours_soft_fail(sandbox, sandbox_conns):
    [cid] = sandbox.admin.seed_waplify([{"name": "c", "contacts": 2, "status": "cancelled"}])
    sensor = WhatsAppCampaignSensor(
        task_id="wait", conn_id="waplify_default", campaign_id=cid, deferrable=True, soft_fail=True
    )
    with pytest.raises(AirflowSkipException):
        sensor.execute(context())
