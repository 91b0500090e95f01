"""OpenLineage facets of the stats and export operators, built with the OpenLineage provider's own classes."""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import Any
from unittest import mock

from airflow.providers.openlineage.extractors import OperatorLineage

from airflow_provider_whatsapp_campaigns.operators.campaign import (
    WhatsAppCampaignStatsOperator,
    WhatsAppCreateCampaignOperator,
)
from airflow_provider_whatsapp_campaigns.operators.export import WhatsAppExportContactsOperator


def test_stats_operator_reads_the_campaign_dataset(sandbox: Any, sandbox_conns: Any) -> None:
    op = WhatsAppCampaignStatsOperator(task_id="s", conn_id="sprl_default", campaign_id="demo-campaign")
    lineage = op.get_openlineage_facets_on_complete(mock.MagicMock())
    assert isinstance(lineage, OperatorLineage)
    [campaign] = lineage.inputs
    host = sandbox.base_url("sprl").split("://")[1].split("/")[0]
    account = op.hook.connection.extra_dejson["account_id"]
    assert campaign.namespace == f"whatsapp://sprl/{host}/{account}"
    assert campaign.name == "demo-campaign" and lineage.outputs == []


def test_export_writes_the_file_dataset_with_rows_and_schema(sandbox: Any, sandbox_conns: Any, tmp_path: Path) -> None:
    [uid] = sandbox.admin.seed_sprl(campaigns=[{"name": "a", "status": "completed", "contact_count": 4}])
    target = tmp_path / "c.csv"
    op = WhatsAppExportContactsOperator(task_id="e", conn_id="sprl_default", campaign_id=uid, path=str(target))
    op.execute({"ti": mock.MagicMock()})  # type: ignore[arg-type]
    lineage = op.get_openlineage_facets_on_complete(mock.MagicMock())
    [campaign], [file] = lineage.inputs, lineage.outputs
    assert campaign.name == uid and campaign.namespace.startswith("whatsapp://sprl/")
    assert (file.namespace, file.name) == ("file", str(target))
    assert file.outputFacets["outputStatistics"].rowCount == 4
    assert "phone" in [f.name for f in file.facets["schema"].fields]


def test_no_op_without_the_provider(sandbox: Any, sandbox_conns: Any) -> None:
    real_import = builtins.__import__

    def no_openlineage(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith(("airflow.providers.openlineage", "openlineage")):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    op = WhatsAppCampaignStatsOperator(task_id="s", conn_id="sprl_default", campaign_id="demo-campaign")
    with mock.patch("builtins.__import__", no_openlineage):
        assert op.get_openlineage_facets_on_complete(mock.MagicMock()) is None


def test_create_writes_the_campaign_dataset_from_the_recipients_file(sandbox: Any, sandbox_conns: Any,
                                                                     tmp_path: Path) -> None:
    op = WhatsAppCreateCampaignOperator(task_id="c", conn_id="whatomate_default", name="n", template="welcome_v2",
                                        recipients=str(tmp_path / "r.csv"))
    op._lineage_ids = ["c-1"]
    lineage = op.get_openlineage_facets_on_complete(mock.MagicMock())
    [source], [campaign] = lineage.inputs, lineage.outputs
    assert (source.namespace, source.name) == ("file", str(tmp_path / "r.csv"))
    assert campaign.name == "c-1" and campaign.namespace.startswith("whatsapp://whatomate/")


def test_a_recipients_list_never_becomes_a_dataset_name(sandbox: Any, sandbox_conns: Any) -> None:
    for recipients in (["+14155550100"], '["+14155550100"]'):
        op = WhatsAppCreateCampaignOperator(task_id="c", conn_id="whatomate_default", name="n",
                                            template="welcome_v2", recipients=recipients)
        op._lineage_ids = ["c-1"]
        assert op.get_openlineage_facets_on_complete(mock.MagicMock()).inputs == []
