# The two commands of the README: `make serve` and `make test`. Both set up
# everything they need (virtualenv, packages, database, browser) on first run.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: serve test lint pytest nodetest chromium

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

# The demo runs in DEBUG: the development keys, cookies over plain HTTP. Off DEBUG
# the settings refuse to start without SECRET_KEY and JWT_SECRET (README, "Production").
serve: export DEBUG := true
serve: $(VENV)/.runtime
	$(BIN)/python manage.py migrate --noinput -v0
	$(BIN)/python manage.py demo
	@echo "Serving on http://$(HOST):$(PORT)/ (Ctrl-C to stop)"
	$(BIN)/daphne -b $(HOST) -p $(PORT) realtime.asgi:application

chromium:
	@command -v chromium >/dev/null || (apt-get update -q && apt-get install -y -q chromium)

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

nodetest:
	node --test tests/

# Tests run side by side in PYTEST_WORKERS processes (pytest-xdist), each on a
# database of its own; most of a test's time is spent waiting on servers,
# browsers and the database, so more workers than cores pays.
PYTEST_WORKERS ?= 3

pytest: $(VENV)/.dev chromium
	$(BIN)/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

test: lint nodetest pytest
