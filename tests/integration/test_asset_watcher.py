"""The finished-campaigns watcher under a real scheduler + triggerer + dag-processor + api-server (Airflow 3).

The example ``whatomate_finished_campaigns`` declares an Asset with an ``AssetWatcher``: the
triggerer runs ``WhatsAppFinishedCampaignsTrigger`` against the sandbox, a campaign finishing
becomes an asset event, and the scheduler queues ``whatomate_finished_campaign_report``, whose task
reads the campaign from ``triggering_asset_events``. The triggerer is then restarted: the campaign
already reported must not start a second run, a campaign finishing afterwards must start one.
The sandbox clock is frozen (speed 0): campaigns finish only when the test advances it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from typing import Any

import pytest

from tests.integration.conftest import run_airflow
from tests.integration.test_scheduler_triggerer import Stack, stack, wait_for  # noqa: F401  (the stack fixture, reused)

pytest.importorskip("airflow.sdk", reason="event-driven scheduling (AssetWatcher) is Airflow 3")

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]

DAG_ID = "whatomate_finished_campaign_report"

_RUNS = """
import json, sys
from airflow.models.dagrun import DagRun
from airflow.models.xcom import XComModel
from airflow.utils.session import create_session
from sqlalchemy import select

with create_session() as session:
    runs = session.scalars(select(DagRun).where(DagRun.dag_id == sys.argv[1]).order_by(DagRun.id)).all()
    out = []
    for run in runs:
        row = session.scalars(select(XComModel).where(XComModel.dag_id == run.dag_id, XComModel.run_id == run.run_id,
                                                      XComModel.task_id == "report")).first()
        out.append({"run_type": str(run.run_type), "state": str(run.state),
                    "report": XComModel.deserialize_value(row) if row is not None else None})
print("RUNS-JSON:" + json.dumps(out, default=str))
"""


def runs(env: dict[str, str]) -> list[dict[str, Any]]:
    proc = subprocess.run([sys.executable, "-c", _RUNS, DAG_ID], env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith("RUNS-JSON:"):
            return json.loads(line.removeprefix("RUNS-JSON:"))  # type: ignore[no-any-return]
    raise AssertionError(f"could not read the runs of {DAG_ID}:\n{proc.stdout}\n{proc.stderr}")


def reported(env: dict[str, str]) -> list[list[dict[str, Any]]] | None:
    """The report of every run, once every run has succeeded (``None`` while one is still going)."""
    all_runs = runs(env)
    if any(r["state"].rsplit(".", 1)[-1].lower() == "failed" for r in all_runs):
        raise AssertionError(f"a report run failed: {all_runs}")
    if any(r["state"].rsplit(".", 1)[-1].lower() != "success" for r in all_runs):
        return None
    return [r["report"] for r in all_runs]


def list_polls(sandbox: Any) -> int:
    return int(sandbox.admin.counters()["requests"].get("whatomate", {}).get("GET /whatomate/api/campaigns", 0))


def test_a_finished_campaign_starts_one_report_run_also_across_a_triggerer_restart(
    stack: Stack,  # noqa: F811
    sandbox: Any,
) -> None:
    sandbox.admin.configure(speed=0)
    [first, second] = sandbox.admin.seed_whatomate([
        {"name": "first", "status": "processing", "recipients": 10, "send_rate": 1},  # done 10 s on
        {"name": "second", "status": "processing", "recipients": 1000, "send_rate": 1},  # done 1000 s on
    ])
    env = stack.env

    def unpaused() -> bool:
        proc = run_airflow(env, "dags", "unpause", DAG_ID, timeout=60)
        return proc.returncode == 0 and DAG_ID in proc.stdout

    wait_for("the dag-processor to serialize the DAG", unpaused, stack, timeout=120, every=3)
    # The watcher's first polls see both campaigns running: nothing is reported, nothing recorded as done.
    polls = wait_for("the watcher to poll", lambda: list_polls(sandbox) >= 2 and list_polls(sandbox), stack,
                     timeout=120)

    sandbox.admin.advance(20)  # `first` completes
    done = wait_for("one report run", lambda: (r := reported(env)) and len(r) == 1 and r, stack, timeout=120)
    assert done == [[{"campaign_id": first, "status": "completed", "sent": 10, "failed": 0}]]
    assert [r["run_type"].rsplit(".", 1)[-1].lower() for r in runs(env)] == ["asset_triggered"]

    # Restart the triggerer: it re-creates the watcher from its serialized kwargs.
    triggerer = stack.procs["triggerer"]
    os.killpg(triggerer.pid, signal.SIGTERM)
    triggerer.wait(60)
    stack.start("triggerer")
    polls = list_polls(sandbox)
    wait_for("the restarted watcher to poll twice", lambda: list_polls(sandbox) >= polls + 2, stack, timeout=120)
    assert len(runs(env)) == 1, "the campaign reported before the restart is not reported again"

    sandbox.admin.advance(1000)  # `second` completes
    done = wait_for("a second report run", lambda: (r := reported(env)) and len(r) == 2 and r, stack, timeout=120)
    assert done[1] == [{"campaign_id": second, "status": "completed", "sent": 1000, "failed": 0}]
    polls = list_polls(sandbox)
    wait_for("two more polls", lambda: list_polls(sandbox) >= polls + 2, stack, timeout=60)
    assert len(runs(env)) == 2, "one run per finished campaign, none twice"
