"""Many workers, many triggerers, real Redis, real PostgreSQL: one budget, nothing lost when a process dies.

Time is the sandbox's where it can be: campaigns send so slowly that none finishes until the test
advances the sandbox clock, so every wait is still open when a process is killed or a service
restarts. Real processes run in real time, so the assertions are on counts and bounds (429s,
duplicates, lost waits, requests per one-second window), never on how fast the machine is.
"""

from __future__ import annotations

import csv
import time
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
OUTAGE_SECONDS = 10
#: how long the sandbox stalls the request a worker is killed in (longer than the kill takes)
STALL_MS = 40_000
FALLBACK_WARNING = "Redis for the shared rate limit is unreachable"


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
    assert peak >= CLIENT_RPS / 4, "the demand never pressed on the budget: the run proves nothing"
    assert (lost, duplicates) == (0, 0)
    assert set(system.try_numbers(run_id, "wait").values()) == {1}  # resumed, never retried


def test_triggerer_killed_mid_wait_hands_its_triggers_over(system: System, fresh_sandbox: Any) -> None:
    """SIGKILL the busier triggerer: the other takes its triggers, every wait completes, nothing starts twice.

    The waits use the JWT (Whatomate) and OAuth (Insider) connections, so the run also counts what
    N waits on two triggerers cost in logins and token mints.
    """
    sandbox = fresh_sandbox
    half = max(2, WAITS // 4)
    whm_ids = seed_whatomate(sandbox, half, "kill")
    ins_ids = seed_insider(sandbox, half, 7000)
    run_w = system.trigger("system_waits", {"conn_id": "whatomate_jwt_scale", "campaign_ids": whm_ids})
    run_i = system.trigger("system_sensor_waits", {"conn_id": "insider_oauth_scale", "campaign_ids": ins_ids})
    wait_for("every wait to defer and be picked up",
             lambda: system.deferred(run_w) == half and system.deferred(run_i) == half
             and sum(system.assignments().values()) == 2 * half, system.stack, 600, every=2)
    split = system.assignments()
    victim_job = max(split, key=lambda job: split[job])
    victim = next(name for name, job in system.triggerer_jobs.items() if job == victim_job)
    survivor_job = next(job for name, job in system.triggerer_jobs.items() if name != victim)
    killed_at = time.monotonic()
    system.stack.kill(victim)
    wait_for("the surviving triggerer to take every trigger",
             lambda: system.assignments() == {survivor_job: 2 * half}, system.stack, 300, every=0.5)
    recovery = time.monotonic() - killed_at
    system.start_triggerer(victim)  # back to two for the next scenarios

    sandbox.admin.advance(FINISH_ALL)
    system.wait_run(run_w, 900)
    system.wait_run(run_i, 900)
    lost, duplicates = check_waits(system, run_w, whm_ids)
    insider = system.wait_results(run_i)
    lost += half - len(insider)
    assert all(stats["pending"] == 0 for stats in insider.values()), insider
    counters = sandbox.admin.counters()
    mints = sum(counters["tokens_minted"].values())
    refused = sum(counters["mints_refused"].values())
    logins = sum(counters["logins"].values())
    too_many = sum(counters["rate_limited"].values()) - refused
    record(scenario="2 triggerer SIGKILL", waits=2 * half, **{"429s": too_many}, duplicates=duplicates, lost=lost,
           **{"recovery s": f"{recovery:.1f}",
              "mints/logins": f"{mints}/{logins}" + (f" ({refused} mints refused: 429)" if refused else "")},
           notes=f"{split[victim_job]} triggers moved; health threshold 10 s; "
                 f"{sum(counters['refreshes'].values())} JWT refreshes")
    assert (lost, duplicates) == (0, 0)
    assert set(counters["starts"]["whatomate"].values()) == {1}
    assert set(system.try_numbers(run_w, "wait").values()) == {1}  # resumed on the other triggerer, not retried


def test_worker_killed_during_create_import_and_during_export(system: System, fresh_sandbox: Any,
                                                                tmp_path: Any) -> None:
    """SIGKILL the worker mid-import, then mid-export: the retries leave one campaign, each recipient once,
    and the export file appears only complete."""
    sandbox = fresh_sandbox
    phones = [f"+1650{2_000_000 + i:07d}" for i in range(1500)]  # three import batches of 500
    recipients = tmp_path / "recipients.csv"
    recipients.write_text("phone\n" + "\n".join(phones) + "\n")
    export = tmp_path / "export" / "recipients.csv"
    export.parent.mkdir()
    name = f"worker-kill-{int(time.time())}"
    # Stall the second import batch and the export's read long enough to kill the worker inside them.
    sandbox.admin.fault("slow", vendor="whatomate", method="POST", path=r"/recipients/import$",
                        delay_ms=STALL_MS, times=1, skip=1)
    sandbox.admin.fault("slow", vendor="whatomate", method="GET", path=r"/recipients$", delay_ms=STALL_MS, times=1)
    run_id = system.trigger("system_create_export", {"conn_id": "whatomate_scale", "name": name,
                                                      "recipients_path": str(recipients),
                                                      "export_path": str(export)})
    workers = ("worker-1", "worker-2")
    recoveries = []
    for task_id, stalls in (("create", 1), ("export", 2)):
        wait_for(f"the {task_id} task to stall at the vendor",
                 lambda stalls=stalls: sandbox.admin.counters()["faults"].get("slow", 0) >= stalls,
                 system.stack, 600, every=0.5)
        victim = wait_for(f"the worker running {task_id}",
                          lambda: system.stack.talking_to(sandbox.port, workers), system.stack, 60, every=0.5)[0]
        killed_at = time.monotonic()
        system.stack.kill(victim)
        assert not export.exists(), "an export file appeared before the export finished"
        wait_for(f"{task_id} to succeed on a retry",
                 lambda task_id=task_id: system.ti_states(run_id, task_id).get(f"{task_id}[-1]") == "success",
                 system.stack, 600, every=1)
        recoveries.append(time.monotonic() - killed_at)
        system.stack.start(victim)
    system.wait_run(run_id, 600)
    # The killed tries' requests end their stall only now: they must be dropped, not applied late.
    wait_for("both stalled requests to end", lambda: sandbox.admin.counters()["abandoned"].get("whatomate") == 2,
             system.stack, STALL_MS / 1000 + 60, every=1)

    campaign_id = system.wait_results(run_id, "create")[-1]
    counters = sandbox.admin.counters()
    creates = sum(n for created, n in counters["creates"]["whatomate"].items() if created.startswith(name))
    state = sandbox.admin.state("whatomate", campaign_id)
    with export.open(newline="") as handle:
        exported = [row["phone"] for row in csv.DictReader(handle)]
    duplicates = (creates - 1) + (len(exported) - len(set(exported)))
    leftovers = sorted(p.name for p in export.parent.iterdir() if p != export)
    record(scenario="3 worker SIGKILL", waits=0, **{"429s": sum(counters["rate_limited"].values())},
           duplicates=duplicates, lost=len(set(phones) - set(exported)),
           **{"recovery s": "/".join(f"{r:.0f}" for r in recoveries)},
           notes=f"create + export retried; {len(leftovers)} temp file(s) of killed tries left")
    assert creates == 1
    assert state["imported_count"] == len(phones)
    assert sorted(exported) == sorted(phones)
    assert system.try_numbers(run_id, "create")[-1] == 2 and system.try_numbers(run_id, "export")[-1] == 2
    assert all(name.endswith(".partial") for name in leftovers), leftovers


def limiter_messages(system: System, text: str) -> int:
    """How often ``text`` was logged by the triggerers (component logs and per-trigger logs)."""
    files = [*system.stack.logs.glob("triggerer-*.log"), *(system.home / "logs").rglob("*.log.trigger.*.log")]
    return sum(path.read_text(encoding="utf-8", errors="replace").count(text) for path in files)


def test_redis_then_postgres_outage_during_waits(system: System, fresh_sandbox: Any) -> None:
    """Redis goes away and comes back, then the metadata DB does, while waits are deferred.

    Redis: the triggers keep polling on a per-process budget (one warning per process), and use
    the shared budget again once Redis is back; no task fails. PostgreSQL (fast shutdown): the
    deferred tasks resume. Components that exit on an outage are restarted, as a process
    supervisor would; the rows say which.
    """
    sandbox = fresh_sandbox
    half = max(2, WAITS // 4)
    ids = seed_whatomate(sandbox, half, "outage")
    run_id = system.trigger("system_waits", {"conn_id": "whatomate_scale", "campaign_ids": ids})
    wait_for("every wait to defer", lambda: system.deferred(run_id) == half
             and sum(system.assignments().values()) == half, system.stack, 600, every=2)
    warned = limiter_messages(system, FALLBACK_WARNING)

    system.redis.stop()
    polls = stats_requests(sandbox)
    wait_for("the triggers to poll without Redis", lambda: stats_requests(sandbox) >= polls + 3 * half,
             system.stack, 300, every=0.5, supervise=True)
    system.redis.start()
    import redis

    shared = redis.Redis.from_url(system.redis.url(1))
    wait_for("the triggers to use the shared budget again",
             lambda: shared.zcard("whatsapp-campaigns:whatomate_scale") > 0, system.stack, 300, every=0.5,
             supervise=True)
    warnings = limiter_messages(system, FALLBACK_WARNING) - warned
    redis_died = system.stack.dead()
    states = system.ti_states(run_id, "wait")
    record(scenario="4 Redis restart", waits=half, **{"429s": sum(sandbox.admin.counters()["rate_limited"].values())},
           duplicates=0, lost=sum(1 for state in states.values() if state not in ("deferred", "success")),
           notes=f"{warnings} fallback warning(s) for {len(system.assignments())} triggerer(s); "
                 f"exited: {', '.join(redis_died) or 'none'}")
    assert all(state == "deferred" for state in states.values()), states
    assert warnings == len(system.assignments())  # one per triggerer process that holds waits

    system.postgres.stop("fast")
    # An outage of OUTAGE_SECONDS in real time (its length, not the machine's speed, is the scenario).
    time.sleep(OUTAGE_SECONDS)
    died = system.stack.dead()
    system.postgres.start()
    sandbox.admin.advance(FINISH_ALL)
    system.wait_run(run_id, 900, supervise=True)
    lost, duplicates = check_waits(system, run_id, ids)
    record(scenario="5 PostgreSQL restart", waits=half,
           **{"429s": sum(sandbox.admin.counters()["rate_limited"].values())},
           duplicates=duplicates, lost=lost, **{"recovery s": f"{OUTAGE_SECONDS:g} down"},
           notes=f"exited on the outage and restarted: {', '.join(died) or 'none'}")
    assert (lost, duplicates) == (0, 0)
    assert set(system.try_numbers(run_id, "wait").values()) == {1}  # resumed, never retried
