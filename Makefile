# The two README commands: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test test-fast lint typecheck pytest cockpit-deps cockpit-test clean

# The Seller Cockpit's Performance page (cockpit/): Node >= 20.19 and npm for its tests
# and build; Debian's chromium for the browser test.
NODE ?= node
NPM ?= npm
CHROMIUM ?= /usr/bin/chromium
FRONTEND := cockpit/frontend
BROWSER_TESTS := tests/browser

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

test: lint typecheck pytest cockpit-test

# npm ci (the lockfiles' exact versions) when a lockfile changed since the last install.
$(FRONTEND)/node_modules/.package-lock.json: $(FRONTEND)/package-lock.json
	cd $(FRONTEND) && $(NPM) ci --no-audit --no-fund

$(BROWSER_TESTS)/node_modules/.package-lock.json: $(BROWSER_TESTS)/package-lock.json
	cd $(BROWSER_TESTS) && $(NPM) ci --no-audit --no-fund

cockpit-deps: $(FRONTEND)/node_modules/.package-lock.json $(BROWSER_TESTS)/node_modules/.package-lock.json

# The service against a live `chanperf serve` (node --test), the components (Vitest), the
# shipped build against a fresh one, and the page in headless Chromium. One planted demo
# database is generated for the live tests; each server runs on its own copy.
cockpit-test: $(VENV)/.installed cockpit-deps
	@$(NODE) -e 'const [a, b] = process.versions.node.split(".").map(Number); if (a < 20 || (a === 20 && b < 19)) { console.error("node >= 20.19 is needed, found " + process.version); process.exit(1) }'
	@test -x $(CHROMIUM) || { echo "$(CHROMIUM) not found: apt-get install chromium (or CHROMIUM=path)" >&2; exit 1; }
	cd $(FRONTEND) && node_modules/.bin/vitest run
	cd $(FRONTEND) && $(NODE) scripts/check-build.mjs
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  $(NODE) cockpit/testing/live-chanperf.mjs "$$tmp/demo.db" && \
	  export CHANPERF_E2E_DEMO_DB="$$tmp/demo.db" CHROMIUM_PATH="$(CHROMIUM)" && \
	  $(NODE) --test --test-reporter=spec --test-concurrency=1 cockpit/backend/test/ && \
	  $(NODE) --test --test-reporter=spec --test-concurrency=1 $(BROWSER_TESTS)/

# The edit loop: SQLite only, no MariaDB, Redis or slow (whole-channel) tests.
test-fast: $(VENV)/.installed
	$(BIN)/pytest -q -m "not mariadb and not redis and not slow"

clean:
	rm -rf $(VENV) chanperf-demo.db chanperf-demo-keys .pytest_cache .mypy_cache .ruff_cache build \
	  $(FRONTEND)/node_modules $(BROWSER_TESTS)/node_modules
