# Rathaus: `make run` starts everything with demo data; `make test` runs the whole suite.
# Both set up what they need on a fresh machine (Python 3.11+, Node.js with npm).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
SERVICES := identity booking documents
PACKAGES := servicekit booking documents identity gateway
# uv verifies TLS with the system's certificate store, as pip does here.
export UV_SYSTEM_CERTS := 1
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: help install web system-packages run test lint typecheck contracts clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet "uv==$(UV_VERSION)"

$(VENV)/.synced: $(UV) uv.lock pyproject.toml $(wildcard */pyproject.toml */*/pyproject.toml)
	$(UV) sync --all-packages --locked
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The reference web frontend (web/): its own package.json and lock; built into web/dist,
# which the gateway serves at / (make run).
WEB_SOURCES := $(shell find web/src -type f 2>/dev/null) web/index.html web/vite.config.ts web/tsconfig.json

web/node_modules/.installed: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

web/dist/index.html: web/node_modules/.installed $(WEB_SOURCES)
	cd web && npm run --silent build

web: web/dist/index.html ## build the web frontend (web/dist, served by the gateway at /)

system-packages: ## the Debian packages the real-component tests need (where apt exists)
	@scripts/install_system_packages.sh

install: $(VENV)/.synced node_modules/.installed web/dist/index.html system-packages ## create the environment and install everything

run: $(VENV)/.synced web/dist/index.html ## migrate, seed and start every service locally (SQLite, var/)
	$(BIN)/python scripts/run_local.py

lint: install ## ruff, formatting and architecture boundaries
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

TYPED_TEST_DIRS := libs/servicekit/tests $(wildcard services/*/tests) $(wildcard gateway/tests) tests scripts

typecheck: install ## mypy --strict on every package and its tests
	$(BIN)/mypy $(addprefix -p ,$(PACKAGES))
	@# Test folders share module names (conftest), so each is checked on its own.
	@for dir in $(TYPED_TEST_DIRS); do echo "mypy $$dir"; $(BIN)/mypy $$dir; done

# The suite runs in TEST_WORKERS processes (pytest-xdist, one per processor by default), a test
# module staying whole on one of them so that its live systems are started once.
TEST_WORKERS ?= auto

test: lint typecheck ## the whole suite: lint, types, tests on SQLite and PostgreSQL
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

contracts: install ## write each service's OpenAPI contract to contracts/<service>/v1.yaml
	@for service in $(SERVICES); do \
		$(BIN)/rathaus-$$service openapi --output contracts/$$service/v1.yaml; \
		echo "contracts/$$service/v1.yaml"; \
	done
	node_modules/.bin/redocly lint --config redocly.yaml contracts/*/v1.yaml
	cd web && npm run --silent generate
	@echo "web/src/api/schema.d.ts"

clean: ## remove the environment and local data
	rm -rf $(VENV) $(TOOLS) node_modules web/node_modules web/dist var
