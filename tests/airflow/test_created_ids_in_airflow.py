"""Retry-safe creates leave no global state behind, and bookkeeping never fails a created campaign."""

from __future__ import annotations

import re

import pytest

from tests.airflow.conftest import task_states, task_tries

LEDGER_PREFIX = "whatsapp_campaigns.created."


def ledger_variables() -> list[str]:
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session

    with create_session() as session:
        keys = [v.key for v in session.query(Variable).all()]
    return [k for k in keys if k.startswith(LEDGER_PREFIX)]


def untagged(creates: dict[str, int]) -> dict[str, int]:
    """Sandbox create counts by campaign name, without the ``[af-…]`` marker tag."""
    out: dict[str, int] = {}
    for name, count in creates.items():
        base = re.sub(r" \[af-[0-9a-f]{12}\]$", "", name)
        out[base] = out.get(base, 0) + count
    return out


@pytest.fixture
def big_file(tmp_path):
    path = tmp_path / "big.csv"
    path.write_text("phone\n" + "".join(f"+1650{2_000_000 + i:07d}\n" for i in range(10_001)))
    return str(path)


def test_whatomate_and_waplify_creates_leave_no_variable(run_dag, sandbox, tmp_path):
    sandbox.admin.configure("waplify", send_rate=50)
    dagrun, out = run_dag("waplify_lifecycle")
    assert task_states(dagrun)["create"] == "success"
    recipients = tmp_path / "r.csv"
    recipients.write_text("phone,name,1\n+14155550100,A,x\n")
    dagrun, _ = run_dag(
        "whatomate_lifecycle", recipients_file=str(recipients), export_path=str(tmp_path / "e.csv"),
        conn_id="whatomate_default",
    )
    assert task_states(dagrun)["create"] == "success"
    assert ledger_variables() == [], "a succeeded create keeps nothing in Airflow"
    name = sandbox.admin.state("waplify", out["create"])["name"]
    assert re.fullmatch(r"Spring sale \S+ \[af-[0-9a-f]{12}\]", name), name


def test_waplify_retry_reuses_the_part_it_created_then_forgets_it(run_dag, sandbox, big_file):
    sandbox.admin.configure("waplify", rate_limit=1_000_000)
    # The second part's create fails with a 500 (not resent: it may have been applied): Airflow retries the task.
    sandbox.admin.fault("error", vendor="waplify", method="POST", path="/campaigns/$", status=500, times=1, skip=1)
    dagrun, out = run_dag("waplify_retry", recipients_file=big_file)
    assert task_states(dagrun) == {"create": "success"}
    assert task_tries(dagrun)["create"] == 2
    assert untagged(sandbox.admin.counters()["creates"]["waplify"]) == {"Retry (part 1/2)": 1, "Retry (part 2/2)": 1}
    assert len(set(out["create"])) == 2
    assert ledger_variables() == []


def test_failed_bookkeeping_does_not_fail_a_created_campaign(run_dag, sandbox, monkeypatch, caplog, capfd):
    from airflow_provider_whatsapp_campaigns.version_compat import Variable

    def broken(*args, **kwargs):
        raise RuntimeError("metadata database unavailable")

    monkeypatch.setattr(Variable, "set", broken)
    sandbox.admin.configure("waplify", send_rate=50)
    dagrun, out = run_dag("waplify_lifecycle")
    assert task_states(dagrun)["create"] == "success"
    assert task_tries(dagrun)["create"] == 1
    assert sum(sandbox.admin.counters()["creates"]["waplify"].values()) == 1
    assert sandbox.admin.state("waplify", out["create"])["status"] == "completed"
    assert "keeping its id for a retry failed" in caplog.text + capfd.readouterr().out
