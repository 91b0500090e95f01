"""The create task's rendered ``recipients`` (UI "Rendered Template", RenderedTaskInstanceFields)
never hold full phone numbers: a real dag.test run, read back from the metadata DB."""

from __future__ import annotations

import json

from tests.airflow.conftest import task_states

PHONES = [f"+1415555{i:04d}" for i in range(1234)]


def rendered_fields(dag_id: str, run_id: str, task_id: str) -> dict:
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.utils.session import create_session

    with create_session() as session:
        row = (
            session.query(RenderedTaskInstanceFields)
            .filter_by(dag_id=dag_id, run_id=run_id, task_id=task_id)
            .one()
        )
        return dict(row.rendered_fields)


def test_rendered_recipients_show_a_count_not_the_numbers(run_dag, sandbox):
    dagrun, out = run_dag("whatomate_rendered", phones=PHONES)
    assert task_states(dagrun) == {"create": "success"}
    assert sandbox.admin.state("whatomate", out["create"])["imported_count"] == len(PHONES)

    fields = rendered_fields("whatomate_rendered", dagrun.run_id, "create")
    stored = json.dumps(fields)
    assert fields["recipients"] == "1,234 recipients (phone numbers hidden)"
    assert not any(phone in stored or phone[1:] in stored for phone in PHONES)
    assert fields["name"].startswith("Rendered "), "other fields are rendered as usual"
