"""An older Whatomate server sends every recipient of a campaign in one answer: a big one is parsed
while it streams in, in pages of rows, so an export's memory stays flat in the campaign's size."""

from __future__ import annotations

import functools
import io
import json
from unittest import mock

import pytest
import urllib3

from airflow_provider_whatsapp_campaigns._http.transport import BodyStream
from airflow_provider_whatsapp_campaigns.exceptions import VendorUnavailable
from airflow_provider_whatsapp_campaigns.vendors.registry import get_hook
from airflow_provider_whatsapp_campaigns.vendors.whatomate import reads


def test_a_one_shot_answer_bigger_than_the_memory_bound_is_streamed(sandbox, sandbox_conns, monkeypatch):
    [cid] = sandbox.admin.seed_whatomate([{"name": "c", "recipients": 2_500, "status": "completed", "processed": 2_500}])
    monkeypatch.setattr(reads, "IN_MEMORY_BODY", 50_000)  # ~170 recipients: this answer must stream
    original = reads._StreamedRecipients.pages
    with mock.patch.object(reads._StreamedRecipients, "pages", autospec=True, side_effect=original) as spy:
        pages = list(get_hook("whatomate_default").iter_contact_pages(cid))
    assert spy.call_count == 1
    assert [len(p) for p in pages] == [1_000, 1_000, 500]
    rows = [row for page in pages for row in page]
    assert len({row.recipient_id for row in rows}) == 2_500 and rows[0].phone == "+15550000000"
    requests = sandbox.admin.counters()["requests"]["whatomate"]
    assert requests["GET /whatomate/api/campaigns/{id}/recipients"] == 1, "one answer held everything"


def test_a_small_answer_takes_the_typed_fast_path(sandbox, sandbox_conns):
    [cid] = sandbox.admin.seed_whatomate([{"name": "c", "recipients": 30, "status": "completed", "processed": 30}])
    with mock.patch.object(reads._StreamedRecipients, "pages", side_effect=AssertionError("streamed")):
        rows = list(get_hook("whatomate_default").iter_contacts(cid))
    assert len(rows) == 30 and all(r["recipient_id"] for r in rows)


def test_an_answer_that_breaks_off_midway_is_a_typed_error():
    class Broken:
        def read(self, size: int, decode_content: bool = True) -> bytes:
            raise urllib3.exceptions.ProtocolError("Connection broken: IncompleteRead")

    with pytest.raises(VendorUnavailable, match="broke off"):
        BodyStream(Broken(), "whatomate", "wa.example").read(10)


def test_streamed_batches_are_converted_typed_and_a_batch_with_an_odd_item_tolerantly(sandbox_conns):
    hook = get_hook("whatomate_default")
    items: list[object] = [
        {"id": f"r{i}", "phone_number": f"+1555{i:07d}", "recipient_name": f"N{i}", "status": "sent",
         "error_message": "", "whatsapp_message_id": f"wamid.{i}", "sent_at": "2026-11-30T10:00:00Z", "x": {"y": 1}}
        for i in range(2_500)
    ]
    items[1_500] = "not an object"
    body = json.dumps({"status": "success", "data": {"recipients": items}}).encode()
    tolerant = mock.Mock(side_effect=hook.contact_rows)
    rows_of = functools.partial(reads._streamed_rows, tolerant=tolerant)
    pages = list(reads._StreamedRecipients(io.BytesIO(body)).pages(rows_of))
    assert [len(p) for p in pages] == [1_000, 999, 500], "the odd item alone is skipped"
    assert tolerant.call_count == 1, "only the batch holding it takes the tolerant path"
    rows = [row for page in pages for row in page]
    expected = hook.contact_rows([item for item in items if isinstance(item, dict)])
    assert rows == expected, "both paths make the same rows"
    assert rows[0].recipient_id == "r0" and rows[0].message_id == "wamid.0"
