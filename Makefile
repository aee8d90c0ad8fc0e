# Two commands on a fresh machine with only python3: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
SOURCES := sync_worker connectors mappings hubspot_sandbox tests benchmarks
LOCKS := requirements/build.lock requirements/dev.lock
UV := uv==0.13.9
COMPILE = $(BIN)/uv pip compile --quiet --generate-hashes --universal --python-version 3.11 \
	--custom-compile-command "make lock"

# A .venv made by another Python (another version, a moved or removed interpreter) is rebuilt,
# not kept half-working: compare the interpreter behind it with $(PYTHON).
WHICH_PY := import sys; print(sys.base_prefix, *sys.version_info[:3])
WANT_PY := $(shell $(PYTHON) -c '$(WHICH_PY)')
HAVE_PY := $(shell $(BIN)/python -c '$(WHICH_PY)' 2>/dev/null)
ifneq ($(WANT_PY),$(HAVE_PY))
STALE_VENV := stale-venv
endif

.PHONY: install lint typecheck test pytest demo screenshots bench sandbox lock clean stale-venv

# Installs exactly the versions in the hashed lock files (requirements/*.lock), so a new
# release of a dependency cannot change what CI runs; `make lock` refreshes them on purpose.
$(STAMP): pyproject.toml $(LOCKS) $(STALE_VENV)
	@if [ "$(WANT_PY)" != "$(HAVE_PY)" ]; then rm -rf $(VENV); fi
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes $(addprefix -r ,$(LOCKS))
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check $(SOURCES)
	$(BIN)/ruff format --check $(SOURCES)
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy --strict

pytest: $(STAMP)
	$(BIN)/python -m pytest

# The test command the README and .ci/run use: lint, types, then the whole suite.
test: lint typecheck pytest

# Starts two local sandbox CRMs, seeds them, and runs the real worker against them (SQLite state);
# `make demo ARGS=--keep-open` then leaves the web console up (and the worker syncing).
demo: $(STAMP)
	$(BIN)/sync-worker demo --config config.example.toml $(ARGS)

# PNGs of every console page (docs/screenshots/), from headless chromium over a live daemon.
screenshots: $(STAMP)
	$(BIN)/python -m tests.console.screenshots docs/screenshots

# Reproducible measurements (not part of `make test`).
bench: $(STAMP)
	$(BIN)/python -m benchmarks

sandbox: $(STAMP)
	$(BIN)/sync-worker sandbox --seed-demo

# Re-resolve the lock files from pyproject.toml (newest versions allowed by its ranges).
lock: $(STAMP)
	$(BIN)/python -m pip install --quiet '$(UV)'
	$(COMPILE) pyproject.toml --extra postgres -o requirements/runtime.lock
	$(COMPILE) pyproject.toml --extra postgres --group dev -o requirements/dev.lock
	$(COMPILE) requirements/build.in -o requirements/build.lock

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis demo-state build *.egg-info
