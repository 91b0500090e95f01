"""Create a Whatomate campaign from a templated recipients list (read back from rendered fields)."""

from __future__ import annotations

import pendulum

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.11 (scripts/compat_airflow2.sh runs this DAG there too)
    from airflow import DAG

from airflow_provider_whatsapp_campaigns.operators.campaign import WhatsAppCreateCampaignOperator
from airflow_provider_whatsapp_campaigns.sandbox.vendors.whatomate import template_id

with DAG(
    "whatomate_rendered",
    start_date=pendulum.datetime(2024, 1, 1),
    schedule=None,
    params={"phones": []},
    render_template_as_native_obj=True,
) as dag:
    WhatsAppCreateCampaignOperator(
        task_id="create",
        conn_id="whatomate_default",
        name="Rendered {{ ds }}",
        template=template_id("welcome_v2"),
        recipients="{{ params.phones }}",
    )
