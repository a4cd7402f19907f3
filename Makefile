# Two commands on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON := $(BIN)/python
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
export AIRFLOW_HOME ?= $(CURDIR)/.data/airflow
export AIRFLOW__CORE__DAGS_FOLDER ?= $(CURDIR)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER ?= $(CURDIR)/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES ?= False
DEMO_PRODUCTS ?= 2000

.PHONY: help venv demo test lint format airflow clean stop

help:
	@echo "make demo     set up, seed $(DEMO_PRODUCTS) products, run catalog_incremental twice"
	@echo "make test     run the test suite"
	@echo "make lint     ruff"
	@echo "make airflow  Airflow UI (standalone) on the embedded PostgreSQL"

$(BIN)/activate:
	$(PY) -m venv $(VENV)

$(VENV)/.installed: requirements.txt requirements-dev.txt constraints.txt pyproject.toml | $(BIN)/activate
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt -c constraints.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $@

venv: $(VENV)/.installed

demo: venv
	$(PYTHON) -m enrichment demo run --products $(DEMO_PRODUCTS)

test: venv
	$(BIN)/pytest -q

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

airflow: venv
	$(PYTHON) -m enrichment airflow standalone

stop: venv
	$(PYTHON) -m enrichment db stop

clean: stop
	rm -rf .data
