"""Many workers, many triggerers, real Redis, real PostgreSQL: one budget, nothing lost when a process dies.

Time is the sandbox's where it can be: campaigns send so slowly that none finishes until the test
advances the sandbox clock, so every wait is still open when a process is killed or a service
restarts. Real processes run in real time, so the assertions are on counts and bounds (429s,
duplicates, lost waits, requests per one-second window), never on how fast the machine is.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.system.conftest import (
    CLIENT_RPS,
    FAST_POLL_SECONDS,
    VENDOR_RPS,
    WAITS,
    System,
    record,
)
from tests.system.stack import wait_for

pytestmark = [pytest.mark.system, pytest.mark.timeout(3600)]

RECIPIENTS = 20
SEND_RATE = 0.01  # recipients per sandbox second: 2,000 s per campaign unless the test jumps ahead
FINISH_ALL = RECIPIENTS / SEND_RATE + 60


def seed_whatomate(sandbox: Any, count: int, prefix: str) -> list[str]:
    campaigns = [{"name": f"{prefix}-{i}", "recipients": RECIPIENTS, "send_rate": SEND_RATE,
                  "failure_ratio": 0.1} for i in range(count)]
    return [str(c) for c in sandbox.admin.seed_whatomate(campaigns=campaigns)]


def seed_insider(sandbox: Any, count: int, first_id: int) -> list[str]:
    campaigns = [{"campaign_id": first_id + i, "targeted": 500, "delivery_pending": RECIPIENTS,
                  "drain_rate": SEND_RATE} for i in range(count)]
    return [str(c) for c in sandbox.admin.seed_insider(campaigns=campaigns)]


def stats_requests(sandbox: Any, vendor: str = "whatomate") -> int:
    return sum(n for endpoint, n in sandbox.admin.counters()["requests"].get(vendor, {}).items()
               if endpoint.startswith("GET") or "statistics" in endpoint)


def check_waits(system: System, run_id: str, ids: list[str]) -> tuple[int, int]:
    """Every wait of ``run_id`` ended with the sandbox's own final numbers; returns (lost, duplicates)."""
    results = system.wait_results(run_id)
    lost = len(ids) - len(results)
    counters = system.sandbox.admin.counters()
    duplicates = sum(max(0, n - 1) for n in counters["starts"].get("whatomate", {}).values())
    for index, campaign_id in enumerate(ids):
        stats = results.get(index)
        assert stats is not None, f"wait {index} ({campaign_id}) returned nothing"
        public = system.sandbox.admin.state("whatomate", campaign_id)["public"]
        assert stats["status"] == public["status"] == "completed", (stats, public)
        assert (stats["total"], stats["sent"], stats["failed"]) == (
            public["total_recipients"], public["sent_count"], public["failed_count"]), (stats, public)
    return lost, duplicates


def test_one_budget_across_triggerers_and_workers(system: System, fresh_sandbox: Any) -> None:
    """N waits over 2 triggerers + stats bursts on 2 workers share one Redis budget: no 429 at all."""
    sandbox = fresh_sandbox
    ids = seed_whatomate(sandbox, WAITS, "budget")
    bursts = 4
    run_id = system.trigger("system_waits_fast", {"conn_id": "whatomate_scale", "campaign_ids": ids,
                                             "bursts": bursts, "burst_calls": 2})
    wait_for("every wait to defer", lambda: system.deferred(run_id) == WAITS, system.stack, 600, every=2)
    split = system.assignments()
    wait_for("the stats bursts to finish",
             lambda: all(s == "success" for s in system.ti_states(run_id, "stats_burst").values())
             and len(system.ti_states(run_id, "stats_burst")) == bursts, system.stack, 600, every=2)
    # Demand is WAITS / POLL_SECONDS requests per second against a budget of CLIENT_RPS; let every
    # trigger poll several times before the campaigns are allowed to finish.
    target = stats_requests(sandbox) + WAITS * 5
    wait_for("the waits to poll", lambda: stats_requests(sandbox) >= target, system.stack, 600, every=1)
    sandbox.admin.advance(FINISH_ALL)
    system.wait_run(run_id, 900)

    lost, duplicates = check_waits(system, run_id, ids)
    counters = sandbox.admin.counters()
    too_many = counters["rate_limited"].get("whatomate", 0)
    peak = counters["peak_rps"].get("whatomate", 0)
    record(scenario="1 one budget", waits=WAITS, **{"429s": too_many}, duplicates=duplicates, lost=lost,
           notes=f"peak {peak}/s (limit {VENDOR_RPS}, budget {CLIENT_RPS:g}); triggers per triggerer "
                 f"{sorted(split.values())}; demand {WAITS / FAST_POLL_SECONDS:g}/s")
    assert len(split) == 2, f"the waits did not spread over both triggerers: {split}"
    assert too_many == 0
    assert 0 < peak <= VENDOR_RPS
    assert (lost, duplicates) == (0, 0)
    assert set(system.try_numbers(run_id, "wait").values()) == {1}  # resumed, never retried
