# Two entry points for a fresh machine: `make up` and `make test`. Each bootstraps .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: up test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

up: $(STAMP)
	$(BIN)/cityops up

test: $(STAMP)
	$(BIN)/pytest -q

# Every package and the tests: lint, formatting and strict types.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/cityops bench classify
	$(BIN)/cityops bench route

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
