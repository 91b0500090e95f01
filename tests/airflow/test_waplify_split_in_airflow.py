"""Over Waplify's cap: refused by default before any request; split="parts" never truncates."""

from __future__ import annotations

from tests.airflow.conftest import task_states
from tests.airflow.test_created_ids_in_airflow import untagged


def test_over_the_cap_refuses_or_splits(run_dag, sandbox, tmp_path):
    sandbox.admin.configure("waplify", rate_limit=1_000_000)
    path = tmp_path / "big.csv"
    path.write_text("phone\n" + "".join(f"+1650{2_000_000 + i:07d}\n" for i in range(10_001)))
    dagrun, out = run_dag("waplify_split", recipients_file=str(path))
    assert task_states(dagrun) == {"refuse": "failed", "parts": "success"}
    ids = out["parts"]
    assert isinstance(ids, list) and len(ids) == 2
    sizes = sorted(sandbox.admin.state("waplify", cid)["total"] for cid in ids)
    assert sizes == [1, 10_000], "every recipient is in exactly one part"
    creates = untagged(sandbox.admin.counters()["creates"]["waplify"])
    assert creates == {"Big (part 1/2)": 1, "Big (part 2/2)": 1}, "the refusing task sent nothing"
