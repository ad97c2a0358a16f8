# geodecoupage: every target does its own set-up (virtual environment, install).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MIRROR := $(abspath ../shared/data/quebec)
# The local data mirror, when it exists, is the data directory (never copied here).
ifeq ($(origin GEODECOUPAGE_DATA), undefined)
  ifneq ($(wildcard $(MIRROR)/PROVENANCE.md),)
    export GEODECOUPAGE_DATA := $(MIRROR)
  endif
endif
export MPLBACKEND := Agg
OUT ?= out

.PHONY: help install demo test lint typecheck pytest notebooks bench bench-scale fuzz check clean

help:
	@echo "make demo   - audit the whole province on the real layers (installs what it needs)"
	@echo "make test   - lint, type-check and run the whole test suite (installs what it needs)"
	@echo "make bench  - overlay benchmark against chained geopandas.overlay (same run)"

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=25.1"
	$(BIN)/python -m pip install --quiet -e ".[maps]" --group dev
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/geodecoupage layers check --all

lint: $(STAMP)
	$(BIN)/ruff check geodecoupage tests benchmarks
	$(BIN)/ruff format --check geodecoupage tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/python -m pytest

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_overlay.py

check: test

clean:
	rm -rf .pytest_cache .mypy_cache .ruff_cache build dist
	find . -name __pycache__ -prune -exec rm -rf {} +
