"""One place for imports that moved between Airflow 2.11 and 3.x (via common-compat)."""

from __future__ import annotations

# Not re-exported by common-compat; the same class on Airflow 2.11 and 3.x.
from airflow.exceptions import AirflowProviderDeprecationWarning
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

__all__ = [
    "AirflowException",
    "AirflowFailException",
    "AirflowNotFoundException",
    "AirflowProviderDeprecationWarning",
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
