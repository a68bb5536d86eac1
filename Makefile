# Two commands matter: `make run` and `make test`. Everything else is a step they share.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
WAREHOUSE := $(BIN)/warehouse
DOCS_PORT ?= 8080

.PHONY: run test setup install db demo-data ci-data lint docs help

help:
	@echo "make run   - install, start the embedded PostgreSQL, init roles, run the pipeline"
	@echo "make test  - the same setup, then pytest, dbt build and docs check (ci database), sqlfluff, ruff"
	@echo "make docs  - generate the dbt docs site and serve it on http://127.0.0.1:$(DOCS_PORT)"

# Reinstall only when the dependency pins change; the project itself is installed editable.
$(VENV)/.installed: pyproject.toml constraints.txt ingest/pii/_hmac_sha256.c
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e .
	@touch $@

install: $(VENV)/.installed

db: install
	$(WAREHOUSE) db start
	$(WAREHOUSE) db init

setup: db
	$(WAREHOUSE) dbt deps --quiet

LANDING ?= landing
DEMO_PATIENTS ?= 2000

# The demo: a local pseudonymisation key and a generated landing zone, each only when missing.
demo-data: install
	$(WAREHOUSE) key init
	@if [ -z "$$(ls -A $(LANDING) 2>/dev/null)" ]; then \
		$(WAREHOUSE) generate --patients $(DEMO_PATIENTS) --out $(LANDING); \
	else echo "landing zone $(LANDING)/ is not empty: not generating demo data"; fi

run: setup demo-data
	$(WAREHOUSE) run
	@echo
	@echo "Warehouse built. Connect as an analyst (read-only, derived schema):"
	@echo "    psql \"\$$($(WAREHOUSE) db url --role analyst)\""
	@echo "Data dictionary and lineage: make docs, then open http://127.0.0.1:$(DOCS_PORT)"

# The ci database gets its own small generated landing zone, so `dbt build` in CI runs every model
# and test on real rows; re-runs skip the unchanged files.
CI_LANDING := .warehouse/ci-landing
CI_PATIENTS ?= 300

ci-data: setup
	$(WAREHOUSE) key init
	@test -d $(CI_LANDING) || $(WAREHOUSE) generate --patients $(CI_PATIENTS) --out $(CI_LANDING)
	$(WAREHOUSE) ingest --target ci --landing $(CI_LANDING) > /dev/null

# Two pytest workers, a test file each: most of a test's time is dbt and PostgreSQL round trips, and
# one worker left the second core idle (15:51 of pytest on one worker).
test: setup ci-data
	$(BIN)/python -m pytest -n 2 --dist loadfile
	$(WAREHOUSE) dbt --dbt-target ci build
	$(WAREHOUSE) dbt --dbt-target ci docs generate
	$(WAREHOUSE) docs check
	$(BIN)/sqlfluff lint models tests macros snapshots analyses
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

lint: install
	$(BIN)/sqlfluff lint models tests macros snapshots analyses
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

docs: setup
	$(WAREHOUSE) docs serve --port $(DOCS_PORT)
