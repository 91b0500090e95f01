"""Asset events for what an operator wrote: downstream DAGs scheduled on the asset read the numbers."""

from __future__ import annotations

from typing import Any

from airflow.providers.common.compat.sdk import Asset


def record_outlet_events(task: Any, context: Any, extra: dict[str, Any]) -> None:
    """Attach ``extra`` (rows, path, run …) to the event of every Asset in ``task.outlets``.

    Airflow emits one event per outlet when the task succeeds; a DAG scheduled on the asset finds
    this ``extra`` in ``triggering_asset_events`` (``triggering_dataset_events`` on 2.11).
    """
    events = context.get("outlet_events")
    if events is None:
        return
    for outlet in task.outlets or ():
        if isinstance(outlet, Asset):
            events[outlet].extra.update(extra)
