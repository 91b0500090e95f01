"""A Whatomate recipients page is read in bounded chunks, decoded whole and in order: reading a 300 KB
page must not allocate the 16 MB in-memory bound, and a page spread over many chunks is the same page."""

from __future__ import annotations

import io
import json
import tracemalloc

from airflow_provider_whatsapp_campaigns.vendors.whatomate import reads


def page_body(n: int, page: int = 1) -> bytes:
    recipients = [
        {"id": f"r-{i}", "phone_number": f"+1555{i:07d}", "recipient_name": f"Recipient {i}", "status": "sent",
         "error_message": "", "whatsapp_message_id": f"wamid.{i:024x}", "sent_at": None, "campaign_id": "c-1",
         "template_params": {"1": f"Recipient {i}"}}
        for i in range(n)
    ]
    return json.dumps({"status": "success", "data": {"recipients": recipients, "total": 10 * n, "page": page,
                                                     "limit": n}}).encode()


def test_a_page_is_read_without_allocating_the_in_memory_bound():
    body = page_body(1_000)
    assert 200_000 < len(body) < reads.READ_CHUNK < reads.IN_MEMORY_BODY
    stream = io.BufferedReader(io.BytesIO(body))
    tracemalloc.start()
    try:
        data = reads.read_recipients_body(stream)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [r.recipient_id for r in data.recipients] == [f"r-{i}" for i in range(1_000)]
    assert peak < 4 * len(body) + 2 * reads.READ_CHUNK, f"peak {peak / 1e6:.1f} MB for a {len(body) / 1e6:.2f} MB page"
    assert peak < reads.IN_MEMORY_BODY / 2


def test_a_page_spread_over_many_chunks_is_the_same_page(monkeypatch):
    body = page_body(1_000)
    whole = reads.read_recipients_body(io.BufferedReader(io.BytesIO(body)))
    monkeypatch.setattr(reads, "READ_CHUNK", 4_096)
    chunked = reads.read_recipients_body(io.BufferedReader(io.BytesIO(body)))
    assert chunked == whole
    assert (chunked.total, chunked.page, len(chunked.recipients)) == (10_000, 1, 1_000)
