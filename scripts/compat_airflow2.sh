#!/usr/bin/env bash
# Airflow 2.11 smoke: install into its own venv, provider discovered, every public module imports,
# the 2.11 connection-form widgets build for every connection type.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-airflow2
PY=${PYTHON:-python3}
if [ ! -x "$VENV/bin/python" ]; then
  if command -v uv >/dev/null; then uv venv -q --python "$PY" "$VENV"; else "$PY" -m venv "$VENV"; fi
fi
if command -v uv >/dev/null; then
  VIRTUAL_ENV=$VENV uv pip install -q -r requirements/airflow2.txt
  VIRTUAL_ENV=$VENV uv pip install -q --no-deps .
else
  "$VENV/bin/python" -m pip install -q -r requirements/airflow2.txt
  "$VENV/bin/python" -m pip install -q --no-deps .
fi
export AIRFLOW_HOME
AIRFLOW_HOME=$(mktemp -d)
trap 'rm -rf "$AIRFLOW_HOME"' EXIT
export AIRFLOW__CORE__LOAD_EXAMPLES=False
"$VENV/bin/airflow" version
"$VENV/bin/airflow" providers list -o plain | grep -F airflow-provider-whatsapp-campaigns
"$VENV/bin/python" scripts/compat_check.py
echo "Airflow 2.11 compatibility smoke: OK"
