# venturegate build and test entry points. The two documented ones are
# `make demo` and `make test`; both work on a fresh Debian machine with Python 3.11.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
# Targets install things with apt-get and pip: never run two of them at once.
.NOTPARALLEL:

VENV := .venv
BIN := $(VENV)/bin
PYTHON := $(BIN)/python
STAMP := $(VENV)/.venturegate-installed
LOCK := requirements.lock
# checkov pins its own fork of python-hcl2 (same module name): it lives in a venv of its own.
CHECKOV_VENV := .venv-checkov
CHECKOV_LOCK := requirements-checkov.lock
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed

.PHONY: help venv install services check test demo docs lock clean

help: ## List the targets
	@echo "Usage: make <target>   (entry points: make demo, make test)"
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-9s %s\n", $$1, $$2}'

venv: $(PYTHON) ## Create .venv with Python 3.11

$(PYTHON):
	@py=""; \
	for cand in python3.11 python3; do \
	  if command -v "$$cand" >/dev/null 2>&1 && \
	     "$$cand" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then \
	    py="$$cand"; break; \
	  fi; \
	done; \
	if [ -z "$$py" ]; then \
	  echo "error: Python 3.11 not found (tried python3.11, python3)" >&2; exit 1; \
	fi; \
	if ! "$$py" -c 'import ensurepip, venv' >/dev/null 2>&1; then \
	  echo "==> $$py cannot create a venv: installing python3.11-venv"; \
	  if [ "$$(id -u)" -ne 0 ]; then sudo=sudo; else sudo=; fi; \
	  $$sudo apt-get update; \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y --no-install-recommends python3.11-venv; \
	fi; \
	echo "==> Creating $(VENV) with $$py ($$("$$py" --version))"; \
	rm -rf $(VENV); \
	"$$py" -m venv $(VENV)

install: $(STAMP) $(CHECKOV_STAMP) ## Install the project and its locked dependencies into .venv (checkov: .venv-checkov)

$(CHECKOV_STAMP): $(CHECKOV_LOCK) | $(PYTHON)
	@echo "==> Installing checkov into $(CHECKOV_VENV) from $(CHECKOV_LOCK)"
	@if [ ! -x $(CHECKOV_VENV)/bin/python ]; then $(PYTHON) -m venv $(CHECKOV_VENV); fi
	$(CHECKOV_VENV)/bin/pip install --disable-pip-version-check -q -r $(CHECKOV_LOCK)
	@touch $@

# Re-installs only when the lock or pyproject.toml changed since the last install.
$(STAMP): $(LOCK) pyproject.toml | $(PYTHON)
	@echo "==> Installing locked dependencies from $(LOCK)"
	$(BIN)/pip install --disable-pip-version-check -q -r $(LOCK)
	$(BIN)/pip install --disable-pip-version-check -q --no-deps -e .
	@$(BIN)/pip check --disable-pip-version-check >/dev/null || { \
	  $(BIN)/pip check --disable-pip-version-check; \
	  echo "error: $(LOCK) does not satisfy pyproject.toml: run 'make lock' and commit it" >&2; \
	  exit 1; }
	@touch $@

services: ## Install and start PostgreSQL and Redis, install HAProxy (for the tests)
	@bash scripts/services.sh

check: install ## Run format, lint, type checks and the tests (services must be up)
	@bash scripts/check

test: install services ## Set everything up, then run every check and test
	@bash scripts/check

demo: install ## Run the demo (SQLite; installs HAProxy for stage 30, PostgreSQL with hypopg for stage 28); in a terminal it then serves the dashboard
	@bash scripts/services.sh haproxy
	@bash scripts/services.sh stage28
	@if [ -t 0 ] && [ -t 1 ]; then $(BIN)/venturegate demo --serve; else $(BIN)/venturegate demo; fi

docs: install ## Regenerate the generated references (docs/cli.md, docs/workflow-format.md fields)
	$(PYTHON) -m venturegate.cli.reference > docs/cli.md
	$(PYTHON) -m venturegate.cli.reference README.md
	$(PYTHON) -m venturegate.definitions.reference docs/workflow-format.md

# UPGRADE=1 moves every pin to the newest release; otherwise existing pins are kept.
lock: | $(PYTHON) ## Regenerate requirements.lock from pyproject.toml (UPGRADE=1 to bump all)
	@if [ ! -x $(BIN)/uv ]; then \
	  echo "==> Installing uv into $(VENV)"; \
	  $(BIN)/pip install --disable-pip-version-check -q \
	    "$$(grep -E '^uv==' $(LOCK) 2>/dev/null || echo 'uv>=0.5')"; \
	fi
	env -u UV_INDEX -u UV_EXTRA_INDEX_URL -u UV_FIND_LINKS -u UV_CONSTRAINT -u UV_OVERRIDE \
	  -u UV_INDEX_URL -u UV_DEFAULT_INDEX -u UV_NO_INDEX \
	  $(BIN)/uv --no-config pip compile pyproject.toml --extra dev \
	    --python-version 3.11 \
	    --custom-compile-command 'make lock' --quiet --output-file $(LOCK) $(if $(UPGRADE),--upgrade)
	@echo "==> Wrote $(LOCK); commit it together with pyproject.toml"

clean: ## Remove .venv, caches and build output
	rm -rf $(VENV) $(CHECKOV_VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis build dist src/*.egg-info
	find src tests -name __pycache__ -type d -prune -exec rm -rf {} + 2>/dev/null || true
