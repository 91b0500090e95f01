"""Operators inside a real Airflow: DAG files in ./dags, run with dag.test() against the sandbox."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import link_dags

DAGS = Path(__file__).parent / "dags"


@pytest.fixture
def run_dag(airflow_db: str, sandbox_conns: dict[str, str]) -> Callable[..., tuple[Any, dict[str, Any]]]:
    """Run one DAG file's ``dag`` with dag.test(); return the DagRun and {task_id: return XCom}."""

    def run(name: str, **conf: Any) -> tuple[Any, dict[str, Any]]:
        link_dags(str(DAGS / f"{name}.py"))
        spec = importlib.util.spec_from_file_location(f"test_dag_{name}", DAGS / f"{name}.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        dag = module.dag
        dagrun = dag.test(run_conf=conf or None)
        return dagrun, xcoms(dag.dag_id, dagrun.run_id)

    return run


def xcoms(dag_id: str, run_id: str, key: str = "return_value") -> dict[str, Any]:
    from airflow.utils.session import create_session

    try:
        from airflow.models.xcom import XComModel

        def value_of(row: Any) -> Any:
            return XComModel.deserialize_value(row)
    except ImportError:  # Airflow 2.11: its XCom rows hand back the value itself
        from airflow.models.xcom import XCom as XComModel

        def value_of(row: Any) -> Any:
            return row.value

    with create_session() as session:
        rows = session.query(XComModel).filter(
            XComModel.dag_id == dag_id, XComModel.run_id == run_id, XComModel.key == key
        )
        out: dict[str, Any] = {}
        for row in rows:
            value = value_of(row)
            if row.map_index >= 0:
                out.setdefault(row.task_id, {})[row.map_index] = value
            else:
                out[row.task_id] = value
        return out


def task_states(dagrun: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dagrun.get_task_instances()}


def task_tries(dagrun: Any) -> dict[str, int]:
    return {ti.task_id: ti.try_number for ti in dagrun.get_task_instances()}
