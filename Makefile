# The commands people type. Every target creates .venv and installs what it needs.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_WORKERS ?= 2
# The browser tests drive Debian's Chromium; Playwright must never fetch a browser of its own.
CHROMIUM := /usr/bin/chromium
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

.PHONY: install run worker test lint format bench bench-quick demo clean browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## run: serve every service on the embedded SQLite store under ./var
run: install
	$(BIN)/railyard serve

## worker: run the projections and reactions as their own process
worker: install
	$(BIN)/railyard worker

## lint: ruff, import-linter contracts and mypy
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy shared services railyard bench tests

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## browser: Debian's Chromium for the browser tests, installed only when missing
browser: $(CHROMIUM)

$(CHROMIUM):
	$$([ "$$(id -u)" = 0 ] || echo sudo) apt-get update
	$$([ "$$(id -u)" = 0 ] || echo sudo) apt-get install -y chromium

## test: lint, then every test (PostgreSQL and browser ones included)
test: lint browser
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup

## demo: two years of the case-study organisation in var/demo (embedded SQLite), then its table
demo: install
	rm -rf var/demo
	RAILYARD_DATA_DIR=var/demo RAILYARD_LOG_LEVEL=error $(BIN)/railyard demo
	@echo "Serve it with: RAILYARD_DATA_DIR=var/demo make run"

## bench: every benchmark (PostgreSQL), results as JSON under bench-results/
bench: install
	$(BIN)/python -m bench $(BENCH)

## bench-quick: every benchmark at tiny sizes, only to see that they run (a minute or two)
bench-quick: install
	$(BIN)/python -m bench --quick --results bench-results/quick $(BENCH)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
