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

.PHONY: help install demo test lint typecheck pytest browser-deps bench bench-scale fuzz check clean

help:
	@echo "make demo   - audit the whole province on the real layers (installs what it needs)"
	@echo "make test   - lint, type-check and run the whole test suite (installs what it needs)"
	@echo "make bench  - overlay benchmark against chained geopandas.overlay (same run)"
	@echo "make bench-scale - local vs dask engine, 10^3..10^5 polygons"
	@echo "make fuzz   - bounded fuzzing of the readers (not in CI)"

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=25.1"
	$(BIN)/python -m pip install --quiet -e ".[maps,grouping,scale]" --group dev
	touch $(STAMP)

install: $(STAMP)

DEMO_LAYERS ?= mrc,cisss,rls,css,cs_anglo

demo: $(STAMP)
	@echo "== 1/4 Couches : chargement et validation de toute la province"
	$(BIN)/geodecoupage layers check --all
	@echo "== 2/4 Atlas de la province, construit une seule fois (population comprise)"
	$(BIN)/geodecoupage atlas build --layers $(DEMO_LAYERS) --population -o $(OUT)/atlas-province.gpkg --overwrite
	@echo "== 3/4 Audit de la province : incohérence et surconcertation (tables = MRC)"
	$(BIN)/geodecoupage audit --atlas $(OUT)/atlas-province.gpkg --layers $(DEMO_LAYERS) --tables mrc -o $(OUT)/audit-province --overwrite
	@echo "== 4/4 Rapport HTML autonome (hors ligne)"
	$(BIN)/geodecoupage report --atlas $(OUT)/atlas-province.gpkg --layers $(DEMO_LAYERS) --tables mrc -o $(OUT)/rapport-province.html --overwrite

lint: $(STAMP)
	$(BIN)/ruff check geodecoupage tests benchmarks
	$(BIN)/ruff format --check geodecoupage tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

# Debian's Chromium drives the browser tests; installed when missing and possible.
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian chromium for the browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "warning: no chromium; browser tests will be skipped (install Debian's chromium)"; fi; }

# Unit, real-data, bad-input and browser tests and every notebook (nbmake); then
# the doctests of the package and the README (a separate run: --doctest-modules
# would import the tests' conftest files as modules).
pytest: $(STAMP) browser-deps
	$(BIN)/python -m pytest tests notebooks --nbmake --nbmake-timeout=300
	$(BIN)/python -m pytest geodecoupage README.md --doctest-modules --doctest-glob=README.md

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_overlay.py

# Local and dask engines from 10^3 to 10^5 polygons (BENCH_SCALE_ARGS=--million adds 10^6: ~8 GiB).
bench-scale: $(STAMP)
	$(BIN)/python benchmarks/bench_scale.py $(BENCH_SCALE_ARGS)

# Bounded fuzzing of the readers and the loader (not in CI); FUZZ_SECONDS to change.
FUZZ_SECONDS ?= 60
fuzz: $(STAMP)
	$(BIN)/python -m pip install --quiet --group fuzz || echo "atheris unavailable: hypothesis-based fuzzing"
	$(BIN)/python fuzz/fuzz_readers.py --seconds $(FUZZ_SECONDS)

check: test

clean:
	rm -rf .pytest_cache .mypy_cache .ruff_cache build dist
	find . -name __pycache__ -prune -exec rm -rf {} +
