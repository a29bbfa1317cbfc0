# The two set-up commands of the README. Each creates .venv when it is missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

## make demo: install jobtrail and run the demo on the embedded SQLite default
demo: $(BIN)/python
	$(BIN)/python -m pip install -q .
	$(BIN)/jobtrail demo

## make test: install jobtrail with its test tools and run the whole suite
test: $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev,postgres]'
	$(BIN)/python -m pytest

## make lint: static checks
lint: $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev,postgres]'
	$(BIN)/python -m ruff check src tests benchmarks
	$(BIN)/python -m mypy
