# Two commands for users: `make demo` and `make test`. Everything else is for contributors.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements/airflow3.txt
UV := $(shell command -v uv 2>/dev/null)

export AIRFLOW__CORE__LOAD_EXAMPLES ?= False

.PHONY: demo demo-ui test test-ui test-system fuzz lint typecheck unit venv lock compat-2.11 clean bench bench-quick release-check dist-check docs

$(STAMP): pyproject.toml $(LOCK)
	@echo ">>> preparing $(VENV) (Airflow 3 lock: $(LOCK))"
ifdef UV
	@test -x $(BIN)/python || $(UV) venv -q --python $(PYTHON) $(VENV)
	VIRTUAL_ENV=$(VENV) $(UV) pip install -q -r $(LOCK)
	VIRTUAL_ENV=$(VENV) $(UV) pip install -q --no-deps -e .
else
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r $(LOCK)
	$(BIN)/python -m pip install -q --no-deps -e .
endif
	@touch $(STAMP)

venv: $(STAMP)

# A real Airflow (embedded home under .demo/) runs the lifecycle example DAG against the bundled sandbox.
demo: $(STAMP)
	$(BIN)/python scripts/demo.py

# The same, clickable: api-server + scheduler + triggerer + dag-processor + sandbox (Ctrl-C stops all).
demo-ui: $(STAMP)
	$(BIN)/python scripts/demo_ui.py

lint: $(STAMP)
	$(BIN)/ruff check airflow_provider_whatsapp_campaigns tests benchmarks example_dags scripts

typecheck: $(STAMP)
	$(BIN)/mypy airflow_provider_whatsapp_campaigns

unit: $(STAMP)
	$(BIN)/pytest tests -m "not integration and not ui and not system" -q

test: lint typecheck $(STAMP)
	bash scripts/ensure_chromium.sh
	$(BIN)/python -m pytest tests -m "not system" -q --cov --cov-report=term --cov-report=xml:.coverage.xml -p no:randomly

# Property-based fuzz of vendor answers (hypothesis): stats of every connection type and the trigger, and every
# step of create, start, pause, cancel and the contacts export where a vendor has them, sync and async.
# `make test` runs 2,600 derandomized stats/trigger examples and 65 per flow test; this runs FUZZ_EXAMPLES
# (and a 40th of it per flow test) with a random seed.
FUZZ_EXAMPLES ?= 52000
fuzz: $(STAMP)
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FUZZ_RANDOM=1 $(BIN)/python -m pytest tests/unit/test_fuzz_answers.py -q \
		-p no:randomly -p no:cacheprovider --timeout 0 --hypothesis-show-statistics

# Only the browser tests of the connection forms (Debian chromium, installed by scripts/ensure_chromium.sh).
test-ui: $(STAMP)
	bash scripts/ensure_chromium.sh
	$(BIN)/pytest tests/ui -m ui -q -p no:randomly

# A distributed Airflow (PostgreSQL, CeleryExecutor on Redis, 2 workers, 2 triggerers) against the sandbox:
# kills, outages, one rate budget. CI size by default; larger: `make test-system SYSTEM_WAITS=1000`.
SYSTEM_WAITS ?= 20
test-system: $(STAMP)
	bash scripts/ensure_services.sh
	SYSTEM_WAITS=$(SYSTEM_WAITS) $(BIN)/python -m pytest tests/system -m system -q -p no:randomly

# This provider vs the stock http provider, five rows at issue #16's sizes; rewrites README's table.
bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py

# The same at CI sizes (about 2 minutes); fails only when ours is slower than stock on a row.
bench-quick: $(STAMP)
	$(BIN)/python benchmarks/bench.py --quick --check

# Re-resolve the pinned dependency sets from the package index (Airflow's constraint files are not reachable).
lock:
	uv pip compile pyproject.toml --extra test --extra dev --extra ui --extra system --extra docs --python-version 3.11 -o $(LOCK)
	uv pip compile requirements/airflow2.in --python-version 3.11 -o requirements/airflow2.txt

compat-2.11:
	bash scripts/compat_airflow2.sh

# Build sdist + wheel once, check them, install the wheel into a clean Airflow 3.x venv (.cache/dist-check/)
# and run every example DAG there, run compat-2.11 on the wheel, then install it with the lowest declared
# dependency versions. DIST_LINES=airflow3 (or airflow2, lowest) for one environment only.
DIST_LINES ?= airflow3 airflow2 lowest
dist-check: $(STAMP)
	BIN=$(BIN) DIST_LINES="$(DIST_LINES)" bash scripts/dist_check.sh

# The documentation site (Sphinx) into docs/_build/html: warnings are errors, every reference into the
# package must resolve (nitpicky), every public hook/operator/sensor/trigger must be in docs/api.rst.
docs: $(STAMP)
	rm -rf docs/_build
	$(BIN)/sphinx-build -E -W --keep-going -q -b html docs docs/_build/html
	@echo "docs: open docs/_build/html/index.html"

# Refuses a __version__ that CHANGELOG.md lists as released (or older than one); see CHANGELOG.md's header.
release-check: $(STAMP)
	$(BIN)/python scripts/release_check.py

clean:
	rm -rf $(VENV) .venv-airflow2 .cache dist docs/_build .coverage .coverage.xml .demo test-artifacts
