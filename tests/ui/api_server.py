"""Run ``airflow <args>`` for the browser tests, with one upstream fix backported when missing.

Airflow 3.3.2's connection list sends ``port: Number(null)`` (= 0) when you press Test on a
connection without a port, and the API then refuses to reuse the stored secret ("The host or
port to test differs from the stored connection", HTTP 400). apache/airflow#73298 fixed it in
the API by treating port 0 like a blank port; this applies the same normalisation when the
running Airflow still lacks it, so the suite exercises our ``test_connection`` and not that bug.
"""

from __future__ import annotations

import sys
from typing import Any


def _backport_port_zero_fix() -> None:
    try:
        from airflow.api_fastapi.core_api.routes.public import connections as routes
    except ImportError:  # pragma: no cover - other Airflow lines have no such route module
        return
    original = getattr(routes, "_same_endpoint", None)
    if original is None or original(0, None):
        return

    def _same_endpoint(requested: Any, stored: Any) -> bool:
        return bool(original(None if requested == 0 else requested, None if stored == 0 else stored))

    routes._same_endpoint = _same_endpoint
    print("ui-tests: backported apache/airflow#73298 (Test on a connection without a port)", file=sys.stderr)


if __name__ == "__main__":
    _backport_port_zero_fix()
    from airflow.__main__ import main

    sys.argv = ["airflow", *sys.argv[1:]]
    sys.exit(main())
