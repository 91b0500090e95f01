"""Create exactly once per task instance, across Airflow retries, without unbounded bookkeeping.

The marker (dag, task, run, map index) tags every campaign this task creates: vendors that can be
searched (Whatomate) are asked for it; for the others (Waplify) :class:`CreatedIdLedger` keeps the
id only until the task succeeds.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from airflow_provider_whatsapp_campaigns.vendors.base import WhatsAppCampaignHook
from airflow_provider_whatsapp_campaigns.vendors.spec import CampaignSpec, CreatedCampaign

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

IDEMPOTENCY_VARIABLE = "whatsapp_campaigns.created.{marker}"


def idempotency_marker(context: Context, extra: str = "") -> str:
    """Same task instance (dag, task, run, map index) → same marker, across Airflow retries."""
    ti = context["ti"]
    key = "|".join(str(p) for p in (ti.dag_id, ti.task_id, ti.run_id, getattr(ti, "map_index", -1), extra))
    return "af-" + hashlib.sha256(key.encode()).hexdigest()[:12]


class CreatedIdLedger:
    """A created id kept for the retries of one task instance, where the vendor cannot be searched.

    An Airflow Variable named after the task instance's marker: written right after the create,
    read by a retry, deleted when the task succeeds, so Variables do not pile up. Failing to write
    or delete it after the campaign exists is logged, never raised: the campaign is there.
    """

    def __init__(self, marker: str, log: Any) -> None:
        self.marker = marker
        self.key = IDEMPOTENCY_VARIABLE.format(marker=marker)
        self.log = log

    def create_once(self, hook: WhatsAppCampaignHook, spec: CampaignSpec) -> CreatedCampaign:
        from airflow_provider_whatsapp_campaigns.version_compat import Variable

        known = Variable.get(self.key, None)  # positional: 2.11 names it default_var, 3.x default
        if known:
            self.log.info("campaign %s was created by an earlier try of this task; reusing it", known)
            return CreatedCampaign(str(known), adopted=True)
        created = hook.create_campaign(spec, marker=self.marker)
        try:
            Variable.set(
                self.key, created.campaign_id, description="WhatsApp campaign id, kept until this task succeeds"
            )
        except Exception as exc:
            self.log.warning(
                "%s campaign %s (marker %s) was created, but keeping its id for a retry failed (%s): "
                "if this task is retried it creates another campaign",
                hook.vendor,
                created.campaign_id,
                self.marker,
                exc,
            )
        return created

    def forget(self) -> None:
        from airflow_provider_whatsapp_campaigns.version_compat import Variable

        try:
            Variable.delete(self.key)
        except Exception as exc:
            self.log.warning("could not delete the Variable %s (%s); it is safe to delete by hand", self.key, exc)
