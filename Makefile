# Two commands for a newcomer: `make demo` and `make test`. Both create .venv when
# missing, install from pyproject.toml + constraints.txt, and are safe to re-run.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint install clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install --disable-pip-version-check -q -c constraints.txt -e '.[dev,export]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

test: $(STAMP) lint
	$(BIN)/python -m pytest -q

# Local loop: everything except the slow end-to-end tests.
test-fast: $(STAMP) lint
	$(BIN)/python -m pytest -q -m "not slow"

demo: $(STAMP)
	$(BIN)/resnetlab demo

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache
