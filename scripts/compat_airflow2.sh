#!/usr/bin/env bash
# Airflow 2.11 check, in its own venv (.venv-airflow2, from requirements/airflow2.txt):
#   1. provider discovered, every public module imports, the 2.11 connection forms build, hooks reach the sandbox;
#   2. every example DAG runs for real with `airflow dags test` on 2.11 against the bundled sandbox
#      (tests/integration/test_example_dags.py: create → start → wait deferred, trigger run in line → stats → export);
#   3. the create task's rendered recipients are stored as a count, not the numbers (tests/airflow/test_rendered_recipients.py).
# The package under test is installed (not editable): `.` by default, or a built wheel with WHEEL=dist/x.whl.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=.venv-airflow2
PY=${PYTHON:-python3}
TARGET=${WHEEL:-.}
if [ -n "${WHEEL:-}" ] && [ ! -f "$WHEEL" ]; then
  echo "WHEEL=$WHEEL: no such file" >&2
  exit 2
fi
if [ ! -x "$VENV/bin/python" ]; then
  if command -v uv >/dev/null; then uv venv -q --python "$PY" "$VENV"; else "$PY" -m venv "$VENV"; fi
fi
if command -v uv >/dev/null; then
  VIRTUAL_ENV=$VENV uv pip install -q -r requirements/airflow2.txt
  VIRTUAL_ENV=$VENV uv pip install -q --no-deps --reinstall-package airflow-provider-whatsapp-campaigns "$TARGET"
else
  "$VENV/bin/python" -m pip install -q -r requirements/airflow2.txt
  "$VENV/bin/python" -m pip install -q --no-deps --force-reinstall "$TARGET"
fi
# The installed copy, not this checkout, is what gets tested.
INSTALLED=$(cd / && "$ROOT/$VENV/bin/python" -c "import airflow_provider_whatsapp_campaigns as p; print(p.__file__)")
case "$INSTALLED" in
  */site-packages/*) echo "package under test: $INSTALLED" ;;
  *) echo "expected an installed package, got $INSTALLED" >&2; exit 1 ;;
esac
export AIRFLOW_HOME
AIRFLOW_HOME=$(mktemp -d)
trap 'rm -rf "$AIRFLOW_HOME"' EXIT
export AIRFLOW__CORE__LOAD_EXAMPLES=False
"$VENV/bin/airflow" version
"$VENV/bin/airflow" providers list -o plain | grep -F airflow-provider-whatsapp-campaigns
"$VENV/bin/python" scripts/compat_check.py
# --import-mode=append: the tests import the installed package ahead of this checkout's sources.
"$VENV/bin/python" -m pytest --import-mode=append -p no:randomly -q -m integration \
  tests/integration/test_example_dags.py
# 2.11 stores rendered template fields its own way: the create task's recipients must show a count there too.
"$VENV/bin/python" -m pytest --import-mode=append -p no:randomly -q tests/airflow/test_rendered_recipients.py
echo "Airflow 2.11 compatibility: OK"
