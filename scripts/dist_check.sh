#!/usr/bin/env bash
# `make dist-check`: build the sdist and wheel once, check them, install the wheel (not the checkout) into
# clean Airflow 3.x and 2.11 venvs and run every example DAG there against the bundled sandbox.
#   BIN         venv with build + twine (the dev extra; default .venv/bin)
#   DIST_LINES  which environments (default "airflow3 airflow2 lowest"):
#               airflow3: the wheel's dependencies pinned by requirements/airflow3.txt; runs the example DAGs
#               airflow2: scripts/compat_airflow2.sh with WHEEL= (make compat-2.11: its own venv, the example
#                         DAGs under the integration tests' checks on Airflow 2.11)
#               lowest: the lowest version of every dependency the wheel declares, with the redis extra
#                       (uv --resolution lowest-direct);
#                       runs scripts/compat_check.py (every module imports, forms, hooks against the sandbox,
#                       the shared budget and tokens on a real redis-server)
# The venvs are cached under .cache/dist-check/<line> and rebuilt when the lock file or pyproject changes;
# each run installs only the wheel and what it requires, never tests or dev tools.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=${BIN:-.venv/bin}
PY=${PYTHON:-python3}
LINES=${DIST_LINES:-airflow3 airflow2 lowest}
CACHE=$ROOT/.cache/dist-check
command -v uv >/dev/null || { echo "dist-check needs uv (pip install uv)" >&2; exit 1; }

step() { printf '\n== %s (%s)\n' "$1" "$(date +%T)"; }
step "build sdist + wheel (the wheel is built from the sdist)"
rm -rf dist
"$BIN/python" -m build --installer uv --outdir dist .
"$BIN/twine" check --strict dist/*
"$BIN/python" scripts/dist_contents.py dist
WHEEL=$(ls "$ROOT"/dist/*.whl)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

for line in $LINES; do
  if [ "$line" = airflow2 ]; then
    step "airflow2: scripts/compat_airflow2.sh on $(basename "$WHEEL")"
    WHEEL=$WHEEL bash scripts/compat_airflow2.sh
    continue
  fi
  lock=requirements/$line.txt
  [ "$line" = lowest ] && lock=pyproject.toml
  venv=$CACHE/$line
  stamp=$(cat "$lock" pyproject.toml | sha256sum | cut -c1-16)
  if [ "$(cat "$venv/.stamp" 2>/dev/null)" != "$stamp" ]; then
    step "$line: new venv (lock or pyproject changed)"
    rm -rf "$venv"
    uv venv -q --python "$PY" "$venv"
  fi
  if [ "$line" = lowest ]; then
    step "$line: install $(basename "$WHEEL") with the lowest version of each dependency it declares"
    "$BIN/python" scripts/dist_contents.py --requires "$WHEEL" redis > "$WORK/requires.txt"
    VIRTUAL_ENV=$venv uv pip install -q --resolution lowest-direct -r "$WORK/requires.txt"
    VIRTUAL_ENV=$venv uv pip install -q --no-deps --reinstall-package airflow-provider-whatsapp-campaigns "$WHEEL"
    VIRTUAL_ENV=$venv uv pip freeze | grep -i -E "^($(sed -E 's/[<>=!~;[ ].*//' "$WORK/requires.txt" | paste -sd'|'))=="
  else
    step "$line: install $(basename "$WHEEL") with its dependencies pinned by $lock"
    # With the [sql] extra: the daily report example writes its stats to a SQLite warehouse.
    VIRTUAL_ENV=$venv uv pip install -q --reinstall-package airflow-provider-whatsapp-campaigns -c "$lock" \
      "airflow-provider-whatsapp-campaigns[sql] @ file://$WHEEL"
  fi
  VIRTUAL_ENV=$venv uv pip check
  echo "$stamp" > "$venv/.stamp"
  # From outside the checkout, so nothing can import the source tree instead of the installed wheel.
  (
    cd "$WORK"
    unset PYTHONPATH
    export AIRFLOW_HOME=$WORK/$line AIRFLOW__CORE__LOAD_EXAMPLES=False PYTHONWARNINGS=ignore
    "$venv/bin/python" - "$venv" <<'EOF'
import sys
from pathlib import Path

import airflow_provider_whatsapp_campaigns as package

where = Path(package.__file__).resolve()
assert where.is_relative_to(Path(sys.argv[1]).resolve()), f"imported from {where}, not from the venv"
assert "site-packages" in where.parts, where
print(f"installed (not editable): {where.parent}")
EOF
    "$venv/bin/airflow" providers get airflow-provider-whatsapp-campaigns
    if [ "$line" = lowest ]; then
      step "$line: every module imports, connection forms, hooks against the sandbox"
      "$venv/bin/python" "$ROOT/scripts/compat_check.py"
    else
      step "$line: example DAGs (airflow dags test against the sandbox)"
      "$venv/bin/python" "$ROOT/scripts/run_example_dags.py" --log "$CACHE/$line-example-dags.log"
    fi
  )
done
step "dist-check: OK ($(basename "$WHEEL"))"
