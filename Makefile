# featurestore developer commands. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
SIZES ?= a,d
PYTEST_ARGS ?=

.PHONY: help install system-deps rest-catalog demo test lint typecheck check bench clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-14s %s\n", $$1, $$2}'

$(INSTALLED): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,polars,mlflow]'
	@touch $@

install: $(INSTALLED) ## Create .venv and install the package with every extra the tests use

system-deps: ## Debian packages the tests use (docker-compose to validate docker-compose.yml)
	bash scripts/install-system-deps.sh

rest-catalog: $(INSTALLED) ## Build the Iceberg REST catalog server the tests start (JDK via apt if missing)
	PYTHON=$(abspath $(PY)) bash scripts/build-rest-catalog.sh

demo: $(INSTALLED) ## Run the fraud-detection story end to end on a temporary embedded store
	$(MAKE) -C examples/fraud_detection demo PYTHON=$(abspath $(PY))

test: $(INSTALLED) system-deps rest-catalog ## Install everything and run the whole suite (SQLite and REST catalogs)
	FEATURESTORE_REQUIRE_REST=1 $(PY) -m pytest $(PYTEST_ARGS)

lint: $(INSTALLED) ## ruff check and format check
	$(VENV)/bin/ruff check src tests benchmarks examples
	$(VENV)/bin/ruff format --check src tests benchmarks examples

typecheck: $(INSTALLED) ## mypy --strict on the package
	$(VENV)/bin/mypy

check: lint typecheck test ## Everything CI could ask for

bench: $(INSTALLED) ## Point-in-time benchmark vs plain DuckDB (and Feast if installed): make bench SIZES=a,b
	$(PY) -m benchmarks.run --sizes $(SIZES)

clean: ## Remove the virtual environment and caches (not the REST build cache)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .featurestore build dist
