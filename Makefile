# The two README commands: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test test-fast lint typecheck pytest clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev,server]'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/chanperf demo

lint: $(VENV)/.installed
	$(BIN)/ruff check chanperf api tests benchmarks scripts
	$(BIN)/ruff format --check chanperf api tests benchmarks scripts
	$(BIN)/lint-imports

typecheck: $(VENV)/.installed
	$(BIN)/mypy

pytest: $(VENV)/.installed
	$(BIN)/pytest

test: lint typecheck pytest

# The edit loop: SQLite only, no MariaDB, Redis or slow (whole-channel) tests.
test-fast: $(VENV)/.installed
	$(BIN)/pytest -q -m "not mariadb and not redis and not slow"

clean:
	rm -rf $(VENV) chanperf-demo.db .pytest_cache .mypy_cache .ruff_cache
