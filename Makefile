# The Latency Floor: `make lab` opens the course, `make test` runs every test.
# Both make .venv hold what they need (lib/inferlab/environment.py: installs only when a
# dependency list in pyproject.toml changed; without network, carries on with what is there).
# Without make (Windows): `python lib/inferlab/lab.py` does what `make lab` does.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
ENSURE := $(PYTHON) lib/inferlab/environment.py
NOTEBOOKS := lessons solutions
PYTEST_NB := --nbval-lax --nbval-cell-timeout=120
# every core, one test file (a notebook) per worker so its cells run in order in one kernel
PARALLEL  := -n auto --dist loadfile

.PHONY: lab check test test-lib test-notebooks lessons binder-check bench wheelhouse site clean

## Open the course in JupyterLab at your copy of lesson 00 (my-work/, never overwritten).
lab:
	$(PYTHON) lib/inferlab/lab.py

## Before the day: is this computer ready? (PASS/FAIL per item, with the fix.)
check:
	$(PYTHON) lib/inferlab/lab.py --check

## Every test: library, notebook sync, every notebook executed, browser tests.
## INFERLAB_QUICK=1 makes lab 03 measure small sizes (seconds, not its full run).
## It also builds the course website (site extra) and grades three lessons end to end with
## nbgrader (grade extra; INFERLAB_GRADING_LESSONS="" grades all twelve).
test:
	$(ENSURE) lab test site grade
	INFERLAB_GRADING_LESSONS="$${INFERLAB_GRADING_LESSONS-01 07 11}" INFERLAB_STRICT=1 INFERLAB_QUICK=1 $(BIN)/python -m pytest tests $(NOTEBOOKS) $(PYTEST_NB) $(PARALLEL)

test-lib:
	$(ENSURE) lab test
	INFERLAB_STRICT=1 $(BIN)/python -m pytest tests

test-notebooks:
	$(ENSURE) lab test
	INFERLAB_STRICT=1 INFERLAB_QUICK=1 $(BIN)/python -m pytest $(NOTEBOOKS) $(PYTEST_NB) $(PARALLEL)

## Benchmarks: notebook run times, widget redraws, import, model, simulator (QUICK=1: fewer repeats).
bench:
	$(ENSURE) lab test
	$(BIN)/python bench/run.py $(if $(QUICK),--quick,)

## Regenerate lessons/ from solutions/ (the source of truth). Work a learner saved in
## lessons/ is first copied to my-work/ (inferlab.workspace rescue).
lessons:
	$(ENSURE) lab
	$(BIN)/python -m inferlab.workspace rescue
	$(BIN)/python -m inferlab.authoring lessons

## Binder's environment built from binder/ alone (with runtime.txt's Python when this
## machine has it) runs every lesson, and lesson 00's widgets work in a browser.
binder-check:
	$(ENSURE) lab test
	INFERLAB_BINDER_ALL=1 $(BIN)/python -m pytest tests/test_binder.py -v

## For a room without network: download every package `make lab` installs into wheelhouse/
## (for this operating system and Python); copy the course with it onto each laptop.
wheelhouse:
	$(PYTHON) -m pip download --dest wheelhouse ".[lab]" "setuptools>=64" wheel pip

## The course website in build/site/_build/html (needs the site extra; reuses executed outputs).
site:
	$(ENSURE) lab site
	$(BIN)/python site/build.py

clean:
	rm -rf $(VENV) .binder-venv test-artifacts bench-results
