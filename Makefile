# Two commands for a newcomer: `make demo` and `make test`. Both create .venv when
# missing, install from pyproject.toml + constraints.txt, get Fashion-MNIST (`make data`),
# and are safe to re-run.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast test-floor lint install data clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install --disable-pip-version-check -q -c constraints.txt -e '.[dev,export,plots]'
	touch $(STAMP)

install: $(STAMP)

# Fashion-MNIST, which the demo trains on and the integration tests read: found where
# resnetlab looks, else downloaded and verified, else Debian's dataset-fashion-mnist through
# apt (root or passwordless sudo only), else a message saying how to provide it.
data: $(STAMP)
	RESNETLAB=$(BIN)/resnetlab scripts/get-data.sh

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

test: $(STAMP) lint data
	$(BIN)/python -m pytest -q

# Local loop: everything except the slow end-to-end tests.
test-fast: $(STAMP) lint
	$(BIN)/python -m pytest -q -m "not slow"

# The unit tests on the lowest torch that pyproject allows, in a venv of its own (the other
# pins as in constraints.txt). PyPI's Linux wheels of torch bring their CUDA libraries:
# about 3 GB to download and 5 GB on disk, a few minutes here.
TORCH_FLOOR := 2.8.0
FLOOR := .venv-floor
$(FLOOR)/.installed: pyproject.toml constraints.txt
	$(PY) -m venv $(FLOOR)
	grep -v '^torch==' constraints.txt > $(FLOOR)/constraints.txt
	$(FLOOR)/bin/pip install --disable-pip-version-check -q -c $(FLOOR)/constraints.txt \
		torch==$(TORCH_FLOOR) -e '.[dev,export,plots]'
	touch $@

test-floor: $(FLOOR)/.installed
	$(FLOOR)/bin/python -c 'import torch; assert torch.__version__.split("+")[0] == "$(TORCH_FLOOR)"'
	$(FLOOR)/bin/python -m pytest -q -m "not slow" tests/unit

demo: $(STAMP) data
	$(BIN)/resnetlab demo

clean:
	rm -rf $(VENV) $(FLOOR) build dist src/*.egg-info .pytest_cache .ruff_cache
