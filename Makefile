# exsync developer entry points. Every target bootstraps what it needs (idempotent).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
CHROMIUM := /usr/bin/chromium
PYTEST_ARGS ?=

.PHONY: package reliability demo demo-loop serve bench bench-parts test lint types imports infra-check pytest bootstrap clean screenshots addin

bootstrap: $(VENV_STAMP) $(NODE_STAMP) $(CHROMIUM)

$(VENV_STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps -e .
	touch $@

# Browser tests drive Debian's Chromium through Playwright's Python client (never a downloaded browser).
$(CHROMIUM):
	(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || { echo "browser tests need Debian's chromium: run 'apt-get install chromium' as root"; exit 1; }

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

demo: bootstrap
	$(PY) -m devhost.demo

# `make demo` N times in a row (default 10); prints "demo: k/N runs passed".
demo-loop: bootstrap
	scripts/demo_loop.sh $(or $(N),10)

serve: bootstrap
	$(PY) -m devhost.serve $(if $(SEED),--seed $(SEED))

# The Flex Consumption deployment zip (app files + Linux wheels of requirements.txt): dist/exsync.zip
package: $(VENV_STAMP)
	$(PY) scripts/package.py --out dist/exsync.zip

# make bench: the performance table (docs/benchmarks.md); QUICK=1 a one-minute subset, PROFILE=1 profiles.
bench: bootstrap
	$(PY) -m bench $(if $(QUICK),--quick) $(if $(PROFILE),--profile)

bench-parts: bootstrap
	$(PY) -m bench.engine_sync
	$(PY) -m bench.graph_throttle --writes 2000

test: lint types imports infra-check pytest

# Fault matrix, host kills, fuzzing, hostile content -> docs/reliability.md (the fault x outcome table).
reliability: bootstrap
	$(PY) scripts/reliability_report.py

lint: $(VENV_STAMP)
	$(VENV)/bin/ruff check .

types: $(VENV_STAMP)
	$(VENV)/bin/mypy

imports: $(VENV_STAMP)
	$(VENV)/bin/lint-imports

infra-check: $(VENV_STAMP)
	$(PY) scripts/infra_check.py

pytest: bootstrap
	$(PY) -m pytest $(PYTEST_ARGS)

# The console's screenshots in docs/console.md, written by its browser tests.
screenshots: bootstrap
	EXSYNC_SCREENSHOTS=docs/console $(PY) -m pytest tests/browser/test_console.py tests/browser/test_console_signin.py -q

# The Outlook add-in's app package for one deployment (docs/outlook-addin.md):
#   make addin BASE_URL=https://<function app> [NAME="Contoso CRM"] [ICON=logo-192.png] [APP_ID=<guid>] [OFFICE=local]
BASE_URL ?= https://localhost:7071
addin: bootstrap
	$(PY) scripts/vendor_addin.py $(if $(filter local,$(OFFICE)),,--no-office)
	$(PY) scripts/build_addin.py --base-url "$(BASE_URL)" $(if $(NAME),--name "$(NAME)") \
	  $(if $(ICON),--icon "$(ICON)") $(if $(APP_ID),--app-id "$(APP_ID)") $(if $(OFFICE),--office "$(OFFICE)")

clean:
	rm -rf $(VENV) .checkov-venv node_modules .pytest_cache .mypy_cache .ruff_cache .hypothesis
