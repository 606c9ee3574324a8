# Rapport: `make run` serves the CRM, `make test` lints and runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
VENDOR := rapport/web/static/vendor/chart.umd.min.js
export RAPPORT_DATA_DIR ?= $(CURDIR)/var

.PHONY: run setup setup-dev test lint pytest clean

run: setup
	@$(BIN)/rapport init
	@$(BIN)/rapport serve

# Installs only when the pinned requirements change, so a second `make run` is quick.
setup: $(VENV)/.runtime $(VENDOR)

# Front-end libraries come from npm (package-lock.json); only their built files are
# copied into the app's static files, which the app serves itself (whitenoise).
$(VENDOR): package.json package-lock.json
	@command -v npm >/dev/null || { echo "Rapport needs Node.js and npm on PATH"; exit 1; }
	@echo "Installing front-end libraries (pinned in package-lock.json)…"
	@npm ci --no-audit --no-fund --loglevel=error
	@mkdir -p $(dir $@)
	@cp node_modules/chart.js/dist/chart.umd.min.js node_modules/chart.js/dist/chart.umd.min.js.map $(dir $@)
	@cp node_modules/sortablejs/Sortable.min.js $(dir $@)
	@touch $@

$(VENV)/.runtime: requirements.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "Rapport needs $(PYTHON) on PATH"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "Installing Python dependencies (pinned in requirements.txt)…"
	@$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	@$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

setup-dev: $(VENV)/.dev

$(VENV)/.dev: $(VENV)/.runtime $(VENDOR) requirements-dev.txt
	@$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

lint: setup-dev
	@$(BIN)/ruff check rapport tests
	@$(BIN)/lint-imports --no-cache
	@$(BIN)/python -m rapport makemigrations --check --dry-run >/dev/null \
		|| { echo "Model changes without a migration: run rapport makemigrations"; exit 1; }

# The suite alone, on whatever DATABASE_URL / REDIS_URL say (SQLite when unset).
pytest: setup-dev
	@$(BIN)/python -m pytest $(PYTEST_ARGS)

test: lint pytest

clean:
	rm -rf $(VENV) var node_modules rapport/web/static/vendor
