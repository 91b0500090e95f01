"""Contact export: exact row counts, flat memory, atomic files, phones masked only in logs."""

from __future__ import annotations

import csv
import json
import logging
import tracemalloc
import weakref
from unittest import mock

import pytest

from airflow_provider_whatsapp_campaigns.exceptions import PermissionDenied, UnsupportedOperation
from airflow_provider_whatsapp_campaigns.operators.export import WhatsAppExportContactsOperator


def context() -> dict:
    return {"ti": mock.MagicMock()}


def export(tmp_path, name: str, campaign: str, **kwargs) -> tuple[WhatsAppExportContactsOperator, object]:
    target = tmp_path / name
    op = WhatsAppExportContactsOperator(
        task_id="export", conn_id="sprl_default", campaign_id=campaign, path=str(target), **kwargs
    )
    return op, target


def test_export_100k_rows_with_flat_memory(sandbox, sandbox_conns, tmp_path):
    [uid] = sandbox.admin.seed_sprl(campaigns=[{"name": "big", "status": "completed", "contact_count": 100_000}])
    op, target = export(tmp_path, "big.csv", uid, log_every=25_000, contact_options={"per_page": 100})
    tracemalloc.start()
    try:
        result = op.execute(context())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result["rows"] == 100_000
    with open(target, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 100_000
    assert len({r["message_id"] for r in rows}) == 100_000
    assert peak < 50 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"
    assert not list(tmp_path.glob(".export-*")), "no temporary file left behind"


def test_failed_export_leaves_no_file(sandbox, sandbox_conns, tmp_path):
    op, target = export(tmp_path, "out.csv", "demo-campaign", contact_options={"per_page": 10})
    target.write_text("previous export\n")
    sandbox.admin.fault("error", vendor="sprl", status=403, times=1, path=".*")
    # first page fails permanently (account blocked) → nothing replaces the old file
    with pytest.raises(PermissionDenied):
        op.execute(context())
    assert target.read_text() == "previous export\n"
    assert not list(tmp_path.glob(".export-*"))


def test_jsonl_export_keeps_full_phones_and_logs_masked(sandbox, sandbox_conns, tmp_path, caplog, capsys):
    op, target = export(tmp_path, "c.jsonl", "demo-campaign", log_every=50, contact_options={"per_page": 50})
    caplog.set_level(logging.INFO)
    result = op.execute(context())
    logged = caplog.text + "".join(capsys.readouterr())
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert result == {"path": str(target), "rows": 120, "format": "jsonl", "campaign_id": "demo-campaign"}
    assert len(lines) == 120
    phones = {line["phone"] for line in lines}
    assert all(p.startswith("+") and len(p) > 8 for p in phones)
    assert "exported 50 rows" in logged
    assert "*" in logged.split("exported 50 rows")[1].splitlines()[0], "the last phone is shown masked"
    for phone in phones:
        assert phone not in logged


def test_export_refuses_vendors_without_contacts(sandbox, sandbox_conns, tmp_path):
    op = WhatsAppExportContactsOperator(
        task_id="e", conn_id="waplify_default", campaign_id="x", path=str(tmp_path / "x.csv")
    )
    with pytest.raises(UnsupportedOperation):
        op.execute(context())
    assert not (tmp_path / "x.csv").exists()


def test_conn_type_known_at_parse_time_is_checked_at_parse_time():
    with pytest.raises(UnsupportedOperation, match="waplify"):
        WhatsAppExportContactsOperator(
            task_id="e", conn_id="w", conn_type="waplify", campaign_id="x", path="/tmp/x.csv"
        )


def test_conn_type_must_match_the_connection(sandbox, sandbox_conns):
    from airflow_provider_whatsapp_campaigns.exceptions import ValidationError
    from airflow_provider_whatsapp_campaigns.operators.campaign import WhatsAppCampaignStatsOperator

    op = WhatsAppCampaignStatsOperator(task_id="s", conn_id="waplify_default", conn_type="sprl", campaign_id="1")
    with pytest.raises(ValidationError, match=r"'waplify'.*expects sprl"):
        op.execute(context())
    with pytest.raises(ValidationError, match="not a WhatsApp campaign connection type"):
        WhatsAppCampaignStatsOperator(task_id="s", conn_id="c", conn_type="insider", campaign_id="1")


def test_deprecated_vendor_keyword_takes_a_vendor_or_a_connection_type(sandbox, sandbox_conns):
    from airflow.exceptions import AirflowProviderDeprecationWarning

    from airflow_provider_whatsapp_campaigns.operators.campaign import WhatsAppCampaignStatsOperator

    with pytest.warns(AirflowProviderDeprecationWarning, match="conn_type"):
        op = WhatsAppCampaignStatsOperator(
            task_id="s", conn_id="insider_whatsapp_oauth_default", vendor="insider", campaign_id="1"
        )
    assert op.expected_conn_types == ("insider_whatsapp", "insider_whatsapp_oauth")
    assert op.hook.conn_type == "insider_whatsapp_oauth"  # no mismatch: both Insider types are accepted
    with pytest.warns(AirflowProviderDeprecationWarning):
        assert WhatsAppCampaignStatsOperator(
            task_id="t", conn_id="c", vendor="waplify", campaign_id="1"
        ).expected_conn_types == ("waplify",)


def test_transactional_operator_refuses_an_empty_interval(sandbox, sandbox_conns):
    from airflow_provider_whatsapp_campaigns.exceptions import ValidationError
    from airflow_provider_whatsapp_campaigns.operators.insider import InsiderTransactionalStatsOperator

    op = InsiderTransactionalStatsOperator(
        task_id="t", start_time="2024-05-01T00:00:00+00:00", end_time="2024-05-01T00:00:00+00:00"
    )
    with pytest.raises(ValidationError, match="start_time and end_time"):
        op.execute(context())
    assert sandbox.admin.counters()["requests"].get("insider", {}) == {}


def test_export_to_object_storage_path_is_atomic(sandbox, sandbox_conns, tmp_path):
    from airflow.providers.common.compat.sdk import ObjectStoragePath

    target = ObjectStoragePath(f"file://{tmp_path}/store/contacts.csv")
    target.parent.mkdir(parents=True, exist_ok=True)
    op = WhatsAppExportContactsOperator(task_id="e", conn_id="sprl_default", campaign_id="demo-campaign", path=target)
    result = op.execute(context())
    assert result["rows"] == 120
    with target.open("r") as handle:
        assert len(list(csv.DictReader(handle))) == 120
    assert sorted(p.name for p in (tmp_path / "store").iterdir()) == ["contacts.csv"], "no partial file left"


def test_recipients_from_object_storage_path(tmp_path):
    from airflow.providers.common.compat.sdk import ObjectStoragePath

    from airflow_provider_whatsapp_campaigns.recipients import load_recipients

    (tmp_path / "r.jsonl").write_text(
        '{"phone": "+14155550101", "name": "A", "code": "x1"}\n\n{"phone_number": "14155550102"}\n'
    )
    recipients = load_recipients(ObjectStoragePath(f"file://{tmp_path}/r.jsonl"))
    assert [(r.phone, r.name, dict(r.params)) for r in recipients] == [
        ("+14155550101", "A", {"code": "x1"}),
        ("+14155550102", None, {}),
    ]


@pytest.mark.parametrize("name", ["contacts.jsonl", "contacts.csv"])
def test_export_lets_go_of_each_page_before_the_next_is_read(sandbox, sandbox_conns, tmp_path, name):
    """A page still held while the next is read makes every page's buffers fresh memory (page faults
    cost a third of a large export's CPU): the operator must drop it first."""
    op, _ = export(tmp_path, name, "demo-campaign", contact_options={"per_page": 10})
    original = op.hook.iter_contact_lines
    held: list[int] = []

    class Page(list):  # a list that can be watched with a weak reference
        pass

    def watched(*args, **kwargs):
        pages = original(*args, **kwargs)
        for number, (rows, lines) in enumerate(pages, start=1):
            page = Page(rows)
            previous = weakref.ref(page)
            yield page, lines
            del page, rows, lines
            if previous() is not None:
                held.append(number)

    op.hook.iter_contact_lines = watched
    assert op.execute(context())["rows"] > 30
    assert held == []
