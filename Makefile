# Quick start: `make demo` and `make test`. Each sets up what it needs, idempotently.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
QUICK ?=

.PHONY: setup system-deps demo test test-fast lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

# Debian packages for the real servers the integration tests start (PostgreSQL, RabbitMQ)
# and the browser the admin page's tests drive (chromium, through Playwright).
system-deps:
	@sh scripts/system-deps.sh

demo: setup
	$(BIN)/epj-adapter demo $(if $(DIR),--dir $(DIR),)

# ruff (rules and format), mypy (strict, tests and benchmarks too) and the architecture's
# import rules.
lint: setup
	$(BIN)/ruff check adapter tests scripts $(wildcard bench)
	$(BIN)/ruff format --check adapter tests scripts $(wildcard bench)
	$(BIN)/mypy
	$(BIN)/python scripts/check_imports.py

test: setup system-deps lint
	$(BIN)/python -m pytest -p no:cacheprovider $(PYTEST_ARGS)

test-fast: setup
	$(BIN)/python -m pytest -q -m "not postgres and not amqp and not e2e and not browser" $(PYTEST_ARGS)

bench: setup system-deps
	$(BIN)/python -m bench $(if $(QUICK),--quick,)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
