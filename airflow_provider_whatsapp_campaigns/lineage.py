"""OpenLineage datasets for campaigns and exports; a no-op when the OpenLineage provider is absent.

A campaign is the dataset ``<campaign_id>`` in the namespace ``whatsapp://<vendor>/<host>/<account>``
(``account`` is the connection's default account extra, or ``default``).
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

#: connection extra naming the default account, per vendor
ACCOUNT_EXTRAS = ("account_id", "whatsapp_account", "waba_phone_id")


def campaign_namespace(hook: Any) -> str:
    extra = hook.connection.extra_dejson
    account = next((str(extra[k]) for k in ACCOUNT_EXTRAS if extra.get(k)), "default")
    return f"whatsapp://{hook.vendor}/{urlsplit(hook.config.base_url).netloc}/{account}"


def file_dataset(path: str) -> tuple[str, str]:
    """(namespace, name) of a local path or an object-storage URL, as OpenLineage names files."""
    where = urlsplit(path)
    return (f"{where.scheme}://{where.netloc}", where.path) if where.scheme else ("file", path)


def created_lineage(hook: Any, campaign_ids: list[str], recipients: Any) -> Any:
    """The recipients file (when one was given) in, the created campaigns out."""
    try:
        from airflow.providers.openlineage.extractors import OperatorLineage
        from openlineage.client.event_v2 import Dataset
    except ImportError:
        return None
    # Only a path names a dataset; a list (or a JSON list rendered as text) holds phone numbers.
    is_path = isinstance(recipients, os.PathLike) or (
        isinstance(recipients, str) and not recipients.lstrip().startswith(("[", "{"))
    )
    inputs = [Dataset(*file_dataset(str(recipients)))] if is_path else []
    outputs = [Dataset(namespace=campaign_namespace(hook), name=str(cid)) for cid in campaign_ids]
    return OperatorLineage(inputs=inputs, outputs=outputs)


def operator_lineage(hook: Any, campaign_id: str, *, campaign_is: str, path: str | None = None,
                     rows: int | None = None) -> Any:
    """``OperatorLineage`` with the campaign as input or output (and an export file as output)."""
    try:
        from airflow.providers.openlineage.extractors import OperatorLineage
        from openlineage.client.event_v2 import Dataset, OutputDataset
        from openlineage.client.facet_v2 import output_statistics_output_dataset, schema_dataset
    except ImportError:
        return None
    campaign = Dataset(namespace=campaign_namespace(hook), name=str(campaign_id))
    if path is None:
        return OperatorLineage(inputs=[campaign] if campaign_is == "input" else [],
                               outputs=[campaign] if campaign_is == "output" else [])
    from airflow_provider_whatsapp_campaigns.vendors.spec import CONTACT_COLUMNS

    namespace, name = file_dataset(path)
    facets: dict[str, Any] = {
        "schema": schema_dataset.SchemaDatasetFacet(
            fields=[schema_dataset.SchemaDatasetFacetFields(name=c, type="string") for c in CONTACT_COLUMNS]
        )
    }
    output_facets: dict[str, Any] = {}
    if rows is not None:
        output_facets["outputStatistics"] = output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
            rowCount=rows
        )
    file = OutputDataset(namespace=namespace, name=name, facets=facets,
                         outputFacets=output_facets)
    return OperatorLineage(inputs=[campaign], outputs=[file])
