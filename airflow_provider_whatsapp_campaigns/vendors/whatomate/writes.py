"""Whatomate's write flows: idempotent create by marker, batched import judged by counts, transitions."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence, Sized
from typing import Any

from airflow_provider_whatsapp_campaigns._http.flow import Call, Flow, iter_chunks
from airflow_provider_whatsapp_campaigns.exceptions import (
    InvalidState,
    NotFound,
    UnexpectedResponse,
    ValidationError,
    VendorUnavailable,
)
from airflow_provider_whatsapp_campaigns.phones import InvalidPhone
from airflow_provider_whatsapp_campaigns.stats import CampaignStats, CampaignStatus, to_count
from airflow_provider_whatsapp_campaigns.vendors.spec import (
    CampaignSpec,
    CreatedCampaign,
    Recipient,
    marker_tag,
    tagged_name,
)
from airflow_provider_whatsapp_campaigns.vendors.whatomate.reads import CAMPAIGNS, ONE_CAMPAIGN, _WhatomateReads
from airflow_provider_whatsapp_campaigns.vendors.whatomate.recipients import (
    invalid_rows_report,
    recipient_rows,
)
from airflow_provider_whatsapp_campaigns.vendors.whatomate.tables import unwrap_envelope

DEFAULT_BATCH_SIZE = 1_000
#: One import is one INSERT binding ~10 parameters per row: the real server answers a 500 above
#: about 6,500 rows (PostgreSQL's 65,535-parameter limit); 5,000 works.
MAX_BATCH_SIZE = 5_000
MAX_SHOWN = 10


class _WhatomateWrites(_WhatomateReads):
    """Whatomate's write flows: update, delete, idempotent create, batched import, transitions."""

    # ------------------------------------------------------------------ flows: writes

    def _update_flow(self, campaign_id: str, fields: Mapping[str, Any]) -> Flow[dict[str, Any]]:
        """The server writes ``name`` and ``scheduled_at`` even when the body lacks them (blanking
        them), so the current values are sent along unless the caller changes them."""
        if not fields:
            raise ValidationError("update_campaign needs at least one field to change", vendor=self.vendor)
        current = yield from self._campaign_flow(campaign_id)
        body = {"name": current.get("name"), "scheduled_at": current.get("scheduled_at"), **fields}
        response = yield Call(
            "PUT",
            ONE_CAMPAIGN,
            json={k: v for k, v in body.items() if v is not None},
            path_params={"campaign_id": campaign_id},
        )
        campaign = unwrap_envelope(response.body)
        if campaign.get("id") is None:  # some builds answer with a message only
            return (yield from self._campaign_flow(campaign_id))
        return dict(campaign)

    def _delete_flow(self, campaign_id: str) -> Flow[None]:
        try:
            yield Call("DELETE", ONE_CAMPAIGN, idempotent=False, path_params={"campaign_id": campaign_id})
        except VendorUnavailable as exc:
            if not exc.may_have_applied:
                raise
            try:
                yield Call("GET", ONE_CAMPAIGN, path_params={"campaign_id": campaign_id})
            except NotFound:
                self.log.info("whatomate: campaign %s is gone: the delete took effect", campaign_id)
                return
            raise

    def _import_public_flow(
        self,
        campaign_id: str,
        recipients: Iterable[Recipient | Mapping[str, Any] | str],
        batch_size: int,
        default_region: str | None,
    ) -> Flow[dict[str, Any]]:
        _check_batch_size(batch_size)
        rows, invalid = recipient_rows(recipients, default_region=default_region)
        _check_rows(rows, invalid)
        result: dict[str, Any] = {
            "campaign_id": campaign_id,
            "added_count": 0,
            "total_recipients": None,
            "batches": 0,
            "invalid": invalid_rows_report(invalid),
        }
        if invalid:
            self.log.warning(
                "whatomate: %d invalid phone number(s) not sent: %s",
                len(invalid),
                "; ".join(i.describe() for i in invalid[:10]),
            )
        campaign = yield from self._campaign_flow(campaign_id)
        _require_draft(campaign, campaign_id)
        added, total, batches = yield from self._import_flow(
            campaign_id, rows, batch_size, to_count(campaign.get("total_recipients"))
        )
        result.update(added_count=added, total_recipients=total, batches=batches)
        return result

    def _import_flow(
        self, campaign_id: str, rows: Iterable[dict[str, Any]], batch_size: int, total: int | None
    ) -> Flow[tuple[int, int | None, int]]:
        """POST the rows in batches (never an empty one). Import is not idempotent on the server,
        so a batch whose answer was lost is judged by the campaign's recipient count: applied →
        carry on; unchanged → resend once; anything else → raise."""
        added = 0
        batches = 0
        for batch in iter_chunks(rows, batch_size):
            call = Call(
                "POST",
                ONE_CAMPAIGN + "/recipients/import",
                json={"recipients": batch},
                idempotent=False,
                path_params={"campaign_id": campaign_id},
            )
            try:
                response = yield call
            except InvalidState as exc:
                after = yield from self._campaign_flow(campaign_id)
                status = str(after.get("status") or "")
                if status.lower() == "draft":
                    raise
                raise InvalidState(
                    f"campaign {campaign_id} became {status!r} while its recipients were imported (changed "
                    f"elsewhere): {added}{f' of {len(rows)}' if isinstance(rows, Sized) else ''} were added in {batches} "
                    "batch(es) before the server "
                    f"refused ({exc.message})",
                    vendor=self.vendor,
                    http_status=exc.http_status,
                    vendor_code=exc.vendor_code,
                ) from None
            except VendorUnavailable as exc:
                if not exc.may_have_applied or total is None:
                    raise
                after = yield from self._campaign_flow(campaign_id)
                now = to_count(after.get("total_recipients"))
                if now == total + len(batch):
                    self.log.info("whatomate: import batch %d was applied although its answer was lost", batches + 1)
                    added, total, batches = added + len(batch), now, batches + 1
                    continue
                if now != total:
                    raise
                self.log.info("whatomate: import batch %d was not applied; sending it once more", batches + 1)
                response = yield call
            data = unwrap_envelope(response.body)
            count = to_count(data.get("added_count"))
            count = len(batch) if count is None else count
            added += count
            batches += 1
            server_total = to_count(data.get("total_recipients"))
            total = server_total if server_total is not None else (None if total is None else total + count)
        return added, total, batches

    def _find_by_marker(self, marker: str) -> Flow[dict[str, Any] | None]:
        tag = marker_tag(marker)
        found = yield from self._list_flow(marker, None, None)
        mine = [c for c in found if tag in str(c.get("name") or "")]
        if not mine:
            return None
        if len(mine) > 1:
            self.log.warning(
                "whatomate: %d campaigns carry marker %s; adopting the oldest (%s)",
                len(mine),
                marker,
                self.scrub(str(mine[-1].get("id"))),
            )
        return mine[-1]  # the list is newest first

    def _create_flow(self, spec: CampaignSpec, marker: str | None) -> Flow[CreatedCampaign]:
        """Create a draft, then import its recipients.

        Idempotent with ``marker``: the name carries ``[marker]``; before creating, campaigns
        are listed (``search=marker``) and one carrying the marker is adopted. A create whose
        answer is lost is looked up again by marker. On adoption recipients are imported only
        while the campaign is still draft: none yet → all; exactly N full batches (an earlier
        try stopped between batches) → the rest; all present → none; any other count →
        :class:`InvalidState` (a person must look). Remaining window: two *concurrent* runs
        with the same marker can both create (list-then-create is not atomic on the server).
        ``spec.template`` is a template's name or UUID, resolved against the account's templates
        (``GET /api/templates``, once per hook) to the UUID the server wants.
        ``spec.options``: ``batch_size`` (1,000, at most 5,000), ``default_region`` for numbers
        without ``+``, ``template_language`` when a name exists in several languages; any other
        option is sent in the create body.
        """
        options = dict(spec.options)
        batch_size = _check_batch_size(options.pop("batch_size", DEFAULT_BATCH_SIZE))
        default_region = options.pop("default_region", None)
        language = options.pop("template_language", None)
        name, template = spec.name, spec.template
        account = spec.account or self.config.get_extra("whatsapp_account")
        if not account:
            raise ValidationError(
                f"Connection {self.conn_id!r} has no WhatsApp account: pass account=… or set the "
                "connection's extra 'whatsapp_account' (the account's name in Whatomate).",
                vendor=self.vendor,
            )
        rows, invalid = recipient_rows(
            spec.recipients, default_region=default_region, template_params=spec.template_params
        )
        if spec.recipients:
            _check_rows(rows, invalid)
        if invalid:
            self.log.warning(
                "whatomate: %d invalid phone number(s) left out: %s",
                len(invalid),
                "; ".join(i.describe() for i in invalid[:10]),
            )
        resolved = yield from self._template_flow(template, language, account)
        if marker:
            existing = yield from self._find_by_marker(marker)
            if existing is not None:
                return (yield from self._adopt_flow(existing, rows, invalid, batch_size))
        body: dict[str, Any] = {
            "name": tagged_name(name, marker),
            "whatsapp_account": account,
            "template_id": resolved["id"],
        }
        if spec.scheduled_at:
            body["scheduled_at"] = spec.scheduled_at
        if spec.description:
            body["description"] = spec.description
        body.update({k: v for k, v in options.items() if v is not None})
        try:
            response = yield Call("POST", CAMPAIGNS, json=body, idempotent=False)
        except VendorUnavailable as exc:
            if not (marker and exc.may_have_applied):
                raise
            existing = yield from self._find_by_marker(marker)
            if existing is None:
                raise
            self.log.warning(
                "whatomate: the create answer was lost but campaign %s exists; adopting it",
                self.scrub(str(existing.get("id"))),
            )
            return (yield from self._adopt_flow(existing, rows, invalid, batch_size))
        campaign = unwrap_envelope(response.body)
        campaign_id = campaign.get("id")
        if campaign_id is None:
            raise UnexpectedResponse("Whatomate created a campaign but returned no id", vendor=self.vendor)
        added, _, _ = yield from self._import_flow(str(campaign_id), rows, batch_size, 0)
        return CreatedCampaign(str(campaign_id), recipients_added=added, invalid=tuple(invalid))

    def _adopt_flow(
        self, found: Mapping[str, Any], rows: Sequence[dict[str, Any]], invalid: list[InvalidPhone], batch_size: int
    ) -> Flow[CreatedCampaign]:
        campaign_id = str(found.get("id"))
        campaign = yield from self._campaign_flow(campaign_id)  # the list entry may be stale
        status = str(campaign.get("status") or "").lower()
        have = to_count(campaign.get("total_recipients")) or 0
        self.log.info(  # the id and the status are the vendor's text: scrubbed like any answer
            "whatomate: adopting campaign %s (%s, %d recipients) made by an earlier try",
            self.scrub(campaign_id),
            self.scrub(str(campaign.get("status"))),
            have,
        )
        if status != "draft" or not rows or have == len(rows):
            return CreatedCampaign(campaign_id, adopted=True, recipients_added=have, invalid=tuple(invalid))
        if have % batch_size != 0 or have > len(rows):
            raise InvalidState(
                f"adopted campaign {campaign_id} holds {have} recipients but {len(rows)} were expected; "
                "an earlier try stopped mid-import. Check it in Whatomate (delete it to start over).",
                vendor=self.vendor,
            )
        _, total, _ = yield from self._import_flow(campaign_id, itertools.islice(rows, have, None), batch_size, have)
        return CreatedCampaign(campaign_id, adopted=True, recipients_added=total, invalid=tuple(invalid))

    # ------------------------------------------------------------------ flows: transitions

    def _start_flow(self, campaign_id: str) -> Flow[CampaignStats]:
        """Start (or resume) a campaign; already queued/processing/completed counts as started.

        Resuming a paused campaign resets the server's sent/delivered/failed counters.
        """
        return (
            yield from self._transition_flow(
                campaign_id,
                Call(
                    "POST", ONE_CAMPAIGN + "/start", idempotent=False, path_params={"campaign_id": campaign_id}
                ),
                allowed_from=frozenset({CampaignStatus.DRAFT, CampaignStatus.SCHEDULED, CampaignStatus.PAUSED}),
                already_done=frozenset({CampaignStatus.QUEUED, CampaignStatus.RUNNING, CampaignStatus.COMPLETED}),
                action="start",
            )
        )

    def _pause_flow(self, campaign_id: str) -> Flow[CampaignStats]:
        return (
            yield from self._transition_flow(
                campaign_id,
                Call(
                    "POST", ONE_CAMPAIGN + "/pause", idempotent=False, path_params={"campaign_id": campaign_id}
                ),
                allowed_from=frozenset({CampaignStatus.QUEUED, CampaignStatus.RUNNING}),
                already_done=frozenset({CampaignStatus.PAUSED}),
                action="pause",
            )
        )

    def _cancel_flow(self, campaign_id: str) -> Flow[CampaignStats]:
        return (
            yield from self._transition_flow(
                campaign_id,
                Call(
                    "POST", ONE_CAMPAIGN + "/cancel", idempotent=False, path_params={"campaign_id": campaign_id}
                ),
                allowed_from=frozenset(CampaignStatus) - {CampaignStatus.COMPLETED, CampaignStatus.CANCELLED},
                already_done=frozenset({CampaignStatus.CANCELLED}),
                action="cancel",
            )
        )


# --------------------------------------------------------------------------- small checks


def _check_batch_size(batch_size: Any) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ValidationError(
            f"batch_size must be a whole number between 1 and {MAX_BATCH_SIZE:,} (one Whatomate import above "
            f"about 6,500 recipients fails on the server), got {batch_size!r}",
            vendor="whatomate",
        )
    return batch_size


def _check_rows(rows: Sequence[dict[str, Any]], invalid: list[InvalidPhone]) -> None:
    """What the server does not check, refused before any request: nothing to send (a 500 there).
    Numbers are E.164 and listed once by now (the one normalizer), so none exceeds the server's
    20 characters and nobody is messaged twice."""
    if not rows:
        shown = "; ".join(i.describe() for i in invalid[:MAX_SHOWN])
        raise ValidationError(
            f"no valid phone number among the recipients, nothing was sent{': ' + shown if shown else ''}",
            vendor="whatomate",
        )


def _require_draft(campaign: Mapping[str, Any], campaign_id: str) -> None:
    status = str(campaign.get("status") or "")
    if status.lower() != "draft":
        raise InvalidState(
            f"recipients can only be added while campaign {campaign_id} is draft; it is {status!r}",
            vendor="whatomate",
        )
