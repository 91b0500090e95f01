"""Whatomate lifecycle inside a real Airflow (dag.test), including lost answers and Airflow retries."""

from __future__ import annotations

import csv
import json

from tests.airflow.conftest import task_states, task_tries


def write_recipients(path, count: int) -> str:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["phone", "name", "1"])
        for i in range(count):
            writer.writerow([f"+1415555{i:04d}", f"Customer {i}", f"code-{i}"])
    return str(path)


def test_lifecycle_with_lost_answers_and_retries_makes_one_campaign_and_one_start(
    run_dag, sandbox, tmp_path, airflow_conn, monkeypatch
):
    conn = json.loads(sandbox.airflow_connections()["AIRFLOW_CONN_WHATOMATE_DEFAULT"])
    conn["extra"]["max_retries"] = 0  # surface every injected fault to Airflow's own retry
    airflow_conn("whatomate_flaky", conn.pop("conn_type"), **conn)
    sandbox.admin.configure("whatomate", send_rate=5)
    sandbox.admin.configure(speed=5)
    admin = sandbox.admin
    admin.fault("lost", vendor="whatomate", method="POST", path="/api/campaigns$", times=1)
    admin.fault("error", vendor="whatomate", method="POST", path="/recipients/import$", status=503, times=2)
    admin.fault("error", vendor="whatomate", method="POST", path="/start$", status=503, times=1)
    admin.fault("lost", vendor="whatomate", method="POST", path="/start$", times=1)

    recipients = write_recipients(tmp_path / "recipients.csv", 25)
    export_path = tmp_path / "out" / "recipients.csv"
    dagrun, out = run_dag(
        "whatomate_lifecycle", recipients_file=recipients, export_path=str(export_path), conn_id="whatomate_flaky"
    )
    assert set(task_states(dagrun).values()) == {"success"}, task_states(dagrun)
    tries = task_tries(dagrun)
    assert tries["create"] == 2, "the failed import made Airflow retry create"
    assert tries["start"] == 2, "the failed start made Airflow retry start"

    campaign_id = out["create"]
    counters = admin.counters()
    created = {name: n for name, n in counters["creates"]["whatomate"].items() if name.startswith("Welcome")}
    assert list(created.values()) == [1], f"exactly one campaign: {created}"
    assert counters["starts"]["whatomate"][campaign_id] == 1, "exactly one accepted start"

    raw = admin.state("whatomate", campaign_id)
    assert raw["status"] == "completed"
    final = out["stats"]
    assert final["status"] == "completed"
    assert final["total"] == 25
    assert final["sent"] + final["failed"] == 25
    assert out["wait"]["status"] == "completed"
    assert out["export"]["rows"] == 25
    with open(export_path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 25
    assert {r["phone"] for r in rows} == {f"+1415555{i:04d}" for i in range(25)}


def test_invalid_recipients_fail_before_any_request(run_dag, sandbox, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("phone,name\n+14155550000,ok\nnot-a-number,bad\n")
    dagrun, _ = run_dag("whatomate_lifecycle", recipients_file=str(path), export_path=str(tmp_path / "x.csv"))
    assert task_states(dagrun)["create"] == "failed"
    assert task_tries(dagrun)["create"] == 1, "a validation error is permanent: no Airflow retry"
    assert sandbox.admin.counters()["requests"].get("whatomate", {}) == {}
