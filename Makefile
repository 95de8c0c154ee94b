# `make book` builds the HTML book; `make test` runs every test. Both set up first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
READY := $(VENV)/.ready
NOTEBOOKS := $(sort $(wildcard chapters/*.ipynb))

.PHONY: setup book test execute benchmark clean train

setup: $(READY)

$(READY): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -r requirements.txt
	@# The browser tests drive Debian's Chromium; install it when missing and we can.
	@command -v chromium >/dev/null || [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)
	touch $@

book: $(READY)
	$(BIN)/jupyter-book build . -W -n --keep-going

# Build the book, run every chapter under two other numerical back ends and under rounding
# noise with two seeds (as other CPUs would), then every test:
# unit tests, strict nbval on every chapter and the built pages in headless Chromium.
test: book
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

# Retrain chapter 6's two character-level models, the LSTM and the transformer, on equal CPU
# time: choose each one's size on the held-out end of the training text (six runs, two at a
# time), then train the chosen settings from two seeds each and overwrite the shipped files in
# data/ and data/training_record.json (about 41 min on 2 CPU cores; each final run about 4 min).
train: $(READY)
	$(BIN)/python scripts/train_shakespeare.py all --jobs 2
