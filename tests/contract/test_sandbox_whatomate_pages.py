"""Contract tests: the sandbox's optional paging of Whatomate recipients (newer builds; benchmarks)."""

from __future__ import annotations

import requests

HEADERS = {"X-API-Key": "whm_demo_key"}


def recipients(sandbox, cid, **params):
    url = f"{sandbox.base_url('whatomate')}/api/campaigns/{cid}/recipients"
    return requests.get(url, headers=HEADERS, params=params, timeout=30).json()["data"]


def test_recipients_unpaged_by_default_as_the_verified_server(sandbox):
    [cid] = sandbox.admin.seed_whatomate([{"name": "c", "recipients": 120, "status": "completed", "processed": 120}])
    data = recipients(sandbox, cid, page=2, limit=50)
    assert data["total"] == 120 and len(data["recipients"]) == 120 and "page" not in data


def test_recipients_paged_up_to_the_configured_maximum(sandbox):
    sandbox.admin.configure("whatomate", recipients_page_max=100)
    [cid] = sandbox.admin.seed_whatomate([{"name": "c", "recipients": 250, "status": "completed", "processed": 250}])
    first = recipients(sandbox, cid, page=1, limit=1000)  # asked for more than the server allows
    assert (first["page"], first["limit"], first["total"], len(first["recipients"])) == (1, 100, 250, 100)
    last = recipients(sandbox, cid, page=3, limit=1000)
    assert [r["phone_number"] for r in last["recipients"]] == [f"+1555{i:07d}" for i in range(200, 250)]
    assert recipients(sandbox, cid, page=4, limit=100)["recipients"] == []
    assert len(recipients(sandbox, cid)["recipients"]) == 50  # the default page size


def test_a_running_campaigns_pages_are_never_stale(sandbox):
    sandbox.admin.configure(speed=0)
    sandbox.admin.configure("whatomate", recipients_page_max=100, send_rate=10)
    [cid] = sandbox.admin.seed_whatomate([{"name": "c", "recipients": 100, "status": "processing"}])
    assert {r["status"] for r in recipients(sandbox, cid, page=1, limit=100)["recipients"]} == {"pending"}
    sandbox.admin.advance(5)
    assert [r["status"] for r in recipients(sandbox, cid, page=1, limit=100)["recipients"]].count("sent") == 50
    sandbox.admin.advance(5)
    done = recipients(sandbox, cid, page=1, limit=100)["recipients"]
    assert {r["status"] for r in done} == {"sent"}
    assert recipients(sandbox, cid, page=1, limit=100)["recipients"] == done  # served from the page cache
