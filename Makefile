# The Latency Floor: `make lab` opens the course, `make test` runs every test.
# Both create .venv (from pyproject.toml) when it is missing or out of date.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NOTEBOOKS := lessons solutions
PYTEST_NB := --nbval-lax --nbval-cell-timeout=120
# every core, one test file (a notebook) per worker so its cells run in order in one kernel
PARALLEL  := -n auto --dist loadfile

.PHONY: site lab test test-lib test-notebooks lessons binder-check bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[lab,test]'
	touch $(STAMP)

## Open the course in JupyterLab at the first lesson.
lab: $(STAMP)
	$(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)" lessons/00_start_here.ipynb $(if $(filter 0,$(shell id -u)),--allow-root,)

## Every test: library, notebook sync, every notebook executed, browser tests.
## INFERLAB_QUICK=1 makes lab 03 measure small sizes (seconds, not its full run).
test: $(STAMP)
	INFERLAB_STRICT=1 INFERLAB_QUICK=1 $(BIN)/python -m pytest tests $(NOTEBOOKS) $(PYTEST_NB) $(PARALLEL)

test-lib: $(STAMP)
	INFERLAB_STRICT=1 $(BIN)/python -m pytest tests

test-notebooks: $(STAMP)
	INFERLAB_STRICT=1 INFERLAB_QUICK=1 $(BIN)/python -m pytest $(NOTEBOOKS) $(PYTEST_NB) $(PARALLEL)

## Benchmarks: notebook run times, widget redraws, import, model, simulator (QUICK=1: fewer repeats).
bench: $(STAMP)
	$(BIN)/python bench/run.py $(if $(QUICK),--quick,)

## Regenerate lessons/ from solutions/ (the source of truth).
lessons: $(STAMP)
	$(BIN)/python -m inferlab.authoring lessons

## A fresh venv built only from binder/requirements.txt runs lessons 00 and 01.
binder-check:
	rm -rf .binder-venv && $(PYTHON) -m venv .binder-venv
	.binder-venv/bin/python -m pip install --quiet -r binder/requirements.txt nbval pytest
	.binder-venv/bin/python -m pytest lessons/00_start_here.ipynb lessons/01_latency_floor.ipynb $(PYTEST_NB) -p no:cacheprovider

## The course website in build/site/_build/html (needs the site extra; reuses executed outputs).
site: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[site]'
	$(BIN)/python site/build.py

clean:
	rm -rf $(VENV) .binder-venv test-artifacts bench-results
