# Two commands on a fresh machine with only python3: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
SOURCES := sync_worker connectors mappings hubspot_sandbox tests benchmarks

.PHONY: install lint typecheck test pytest demo bench sandbox clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
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

# Starts two local sandbox CRMs, seeds them, and runs the real worker against them (SQLite state).
demo: $(STAMP)
	$(BIN)/sync-worker demo --config config.example.toml

# Reproducible measurements (not part of `make test`).
bench: $(STAMP)
	$(BIN)/python -m benchmarks

sandbox: $(STAMP)
	$(BIN)/sync-worker sandbox --seed-demo

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis demo-state build *.egg-info
