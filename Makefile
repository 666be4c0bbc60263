# lakever: the two commands a newcomer needs are `make demo` and `make test`.
# Every other target is a building block they use. Nothing here assumes more than a
# Debian machine with python3; Java (for Spark) and Chromium come from apt when missing.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
STAMP := $(VENV)/.installed
# Tests run in parallel processes; each module shares one server process.
PYTEST_WORKERS ?= 4

.PHONY: demo test lint typecheck venv lock bench clean server airflow system-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet uv==0.13.8

# Reinstall when the lock or a pyproject changes.
$(STAMP): $(BIN)/python requirements/dev.lock pyproject.toml server/pyproject.toml
	$(UV) pip install --quiet --python $(BIN)/python -r requirements/dev.lock
	touch $(STAMP)

venv: system-deps $(STAMP)

# Debian packages the suite needs, installed only where missing: Java 17 for PySpark, and
# Chromium for the browser tests (Playwright drives Debian's build, never a download).
APT_PACKAGES = $(if $(shell command -v java),,openjdk-17-jre-headless) \
               $(if $(wildcard /usr/bin/chromium),,chromium)
system-deps:
	@if [ -n "$(strip $(APT_PACKAGES))" ]; then \
	  echo "installing Debian packages: $(strip $(APT_PACKAGES))"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends $(APT_PACKAGES) >/dev/null; \
	fi

lock:
	$(UV) pip compile --quiet --python-version 3.11 --no-header requirements/dev.in -o requirements/dev.lock

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy server/lakever_server airflow_provider_lakever

test: venv lint typecheck
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile

demo: venv
	$(BIN)/python scripts/demo.py

# Airflow 3 standalone with the provider, the example DAGs and the bundled server, all
# local: watch lakefs_workflow in the Airflow UI at http://127.0.0.1:8080.
airflow: venv
	bash scripts/airflow_standalone.sh

# Run the bundled server in the foreground on the embedded default (SQLite + .lakever/).
server: venv
	$(BIN)/lakever-server run --quickstart --data-dir .lakever

bench: venv
	$(BIN)/python -m benchmarks $(BENCH)

clean:
	rm -rf $(VENV) .lakever .mypy_cache .ruff_cache .pytest_cache
