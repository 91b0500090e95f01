"""A killed task stops before its next request: no import batch after the kill, no export file left as final.

Airflow 3 calls ``on_kill`` from its SIGTERM handler and lets the task run on; here the kill arrives
from inside the work (as a signal handler would run between two statements of the main thread).
"""

from __future__ import annotations

from unittest import mock

import pytest

from airflow_provider_whatsapp_campaigns.exceptions import Interrupted
from airflow_provider_whatsapp_campaigns.operators.campaign import WhatsAppCreateCampaignOperator
from airflow_provider_whatsapp_campaigns.operators.export import WhatsAppExportContactsOperator
from airflow_provider_whatsapp_campaigns.sandbox.vendors.whatomate import template_id


def requests_to(sandbox, vendor: str, endpoint: str) -> int:
    counts = sandbox.admin.counters()["requests"].get(vendor, {})
    return sum(n for key, n in counts.items() if endpoint in key)


def test_export_killed_mid_way_leaves_no_file_and_reads_no_further_page(sandbox, sandbox_conns, tmp_path):
    target = tmp_path / "out" / "contacts.csv"
    op = WhatsAppExportContactsOperator(
        task_id="export",
        conn_id="sprl_default",
        campaign_id="demo-campaign",
        path=str(target),
        contact_options={"per_page": 10},
    )
    original = op.hook.iter_contact_lines

    def pages_then_kill(*args, **kwargs):
        for number, page in enumerate(original(*args, **kwargs), start=1):
            if number == 2:  # while the second page is being written
                op.on_kill()
            yield page

    op.hook.iter_contact_lines = pages_then_kill
    with pytest.raises(Interrupted, match="killed"):
        op.execute({"ti": mock.MagicMock()})
    assert not target.exists(), "no export appears as final"
    assert list(target.parent.iterdir()) == [], "and no partial file is left behind"
    assert requests_to(sandbox, "sprl", "tracking") == 2, "no page was read after the kill"


def test_create_killed_during_the_import_sends_no_further_batch(sandbox, sandbox_conns):
    op = WhatsAppCreateCampaignOperator(
        task_id="create",
        conn_id="whatomate_default",
        name="Killed",
        template=template_id("welcome_v2"),
        recipients=[f"+1415555{i:04d}" for i in range(2_500)],  # three import batches of 1,000
    )
    original = op.hook.core.request

    def request_then_kill(call):
        response = original(call)
        if call.path.endswith("/import"):
            op.on_kill()
        return response

    op.hook.core.request = request_then_kill
    with pytest.raises(Interrupted, match="killed"):
        op.execute({"ti": mock.MagicMock()})
    assert requests_to(sandbox, "whatomate", "/import") == 1, "the import loop stopped after the batch in flight"


def test_kill_before_any_request_builds_no_hook():
    op = WhatsAppExportContactsOperator(task_id="e", conn_id="sprl_default", campaign_id="x", path="/tmp/never.csv")
    op.on_kill()
    assert "hook" not in op.__dict__
