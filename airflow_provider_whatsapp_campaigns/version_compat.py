"""One place for imports that moved between Airflow 2.11 and 3.x (via common-compat)."""

from __future__ import annotations

from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowFailException,
    AirflowNotFoundException,
    AirflowSensorTimeout,
    BaseHook,
    BaseOperator,
    BaseOperatorLink,
    BaseSensorOperator,
    PokeReturnValue,
    Variable,
    XCom,
    conf,
    mask_secret,
)

try:
    from airflow import __version__ as _airflow_version
except ImportError:  # pragma: no cover
    _airflow_version = "0"

AIRFLOW_V_3_0_PLUS = int(_airflow_version.split(".")[0]) >= 3

__all__ = [
    "AIRFLOW_V_3_0_PLUS",
    "AirflowException",
    "AirflowFailException",
    "AirflowNotFoundException",
    "AirflowSensorTimeout",
    "BaseHook",
    "BaseOperator",
    "BaseOperatorLink",
    "BaseSensorOperator",
    "PokeReturnValue",
    "Variable",
    "XCom",
    "conf",
    "mask_secret",
]
