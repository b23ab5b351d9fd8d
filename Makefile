# The two commands the README promises: `make demo` and `make test`.
# Both build .venv from pyproject.toml first; nothing else needs installing.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: venv test demo bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

demo: $(STAMP)
	$(BIN)/flowdrop demo

bench: $(STAMP)
	$(BIN)/python bench/compile.py
	$(BIN)/python bench/local_runtime.py
	$(BIN)/python bench/e2e.py
	$(BIN)/python bench/triggers.py

clean:
	rm -rf $(VENV) .flowdrop .pytest_cache
