"""What a learner sees: every notebook run in JupyterLab in a real browser (Chromium).

For each notebook in lessons/ and solutions/: run all cells, wait for the kernel, fail on
any error output or page error; nothing JupyterLab typesets as maths is money or prose
(MathJax's TeX source of each typeset element is read back and judged by
``inferlab.lint.not_maths``); every explorer renders as a live widget after a static
figure, and moving one of its controls changes both its text and its figure; exercise
feedback reads "correct" in the solutions and "not answered yet" in the lessons. A
full-page screenshot of each notebook goes to test-artifacts/screenshots/.

Skipped, with one line saying why, where Chromium or playwright is missing; with
INFERLAB_REQUIRE_BROWSER=1 (set by .ci/run) a skip is a failure instead.
"""
from __future__ import annotations

import os
import subprocess

import pytest

from labserver import REQUIRE_ENV, ROOT, browser_missing, check_notebook, chromium, jupyterlab

NOTEBOOKS = sorted(str(p.relative_to(ROOT)) for d in ("lessons", "solutions")
                   for p in (ROOT / d).glob("*.ipynb"))
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
_missing = browser_missing()
if _missing and os.environ.get(REQUIRE_ENV) == "1":
    raise RuntimeError(f"browser tests required ({REQUIRE_ENV}=1) but {_missing}")
pytestmark = pytest.mark.skipif(bool(_missing), reason=f"browser tests skipped: {_missing}")


@pytest.fixture(scope="module")
def lab():
    with jupyterlab() as server:
        yield server


@pytest.fixture(scope="module")
def browser():
    with chromium() as instance:
        yield instance


@pytest.fixture(scope="module", autouse=True)
def tracked_files_untouched():
    before = _git_status()
    yield
    assert _git_status() == before, "the browser tests changed files in the repository"


def _git_status():
    try:
        return subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                              capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):  # not a git checkout: nothing to compare
        return ""


@pytest.mark.parametrize("path", NOTEBOOKS)
def test_notebook_in_the_browser(lab, browser, path):
    check_notebook(browser, lab, path, SCREENSHOTS)
