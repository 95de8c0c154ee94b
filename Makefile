# `make book` builds the HTML book; `make test` runs every test. Both set up first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
READY := $(VENV)/.ready
NOTEBOOKS := $(sort $(wildcard chapters/*.ipynb))

.PHONY: setup book test execute benchmark clean

setup: $(READY)

$(READY): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -r requirements.txt
	touch $@

book: $(READY)
	$(BIN)/jupyter-book build . -W -n --keep-going

# Every chapter run twice under other hash seeds, then unit tests and strict nbval.
test: $(READY)
	$(BIN)/python scripts/check_reproducible.py
	$(BIN)/python -m pytest

# Refresh the stored outputs: re-run every notebook in place, top to bottom.
execute: $(READY)
	$(BIN)/python scripts/execute_notebooks.py $(NOTEBOOKS)

clean:
	rm -rf _build .pytest_cache

# Execution time and memory of every chapter against the budgets (a table; see README).
benchmark: $(READY)
	$(BIN)/python scripts/benchmark.py
