"""The nearest we can come to a Binder build here: a fresh virtual environment built from
binder/requirements.txt alone (plus binder/postBuild if there is one, run as Binder would),
with the widget extension enabled in its JupyterLab, runs lesson 00 in a real browser.

It installs from the package registry (as Binder does), so it needs the network; it runs
where the browser tests run and is skipped, with a one-line reason, where they are.
The environment is kept in .binder-venv and rebuilt whenever binder/ or pyproject.toml change.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pytest

from labserver import REQUIRE_ENV, ROOT, browser_missing, check_notebook, chromium, jupyterlab

VENV = ROOT / ".binder-venv"
_missing = browser_missing()
if _missing and os.environ.get(REQUIRE_ENV) == "1":
    raise RuntimeError(f"browser tests required ({REQUIRE_ENV}=1) but {_missing}")
pytestmark = pytest.mark.skipif(bool(_missing), reason=f"Binder test skipped: {_missing}")


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for path in sorted((ROOT / "binder").iterdir()) + [ROOT / "pyproject.toml"]:
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def binder_python():
    python = VENV / "bin" / "python"
    stamp = VENV / ".fingerprint"
    if not (stamp.exists() and stamp.read_text() == _fingerprint() and python.exists()):
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "-r",
                        "binder/requirements.txt"], cwd=ROOT, check=True, timeout=1200)
        post_build = ROOT / "binder" / "postBuild"
        if post_build.exists():
            env = dict(os.environ, PATH=f"{VENV / 'bin'}:{os.environ['PATH']}")
            subprocess.run(["bash", str(post_build)], cwd=ROOT, env=env, check=True, timeout=600)
        stamp.write_text(_fingerprint())
    return str(python)


def test_widget_extension_is_enabled(binder_python):
    listing = subprocess.run([binder_python, "-m", "jupyter", "labextension", "list"],
                             capture_output=True, text=True, timeout=120)
    text = listing.stdout + listing.stderr
    line = next((l for l in text.splitlines() if "@jupyter-widgets/jupyterlab-manager" in l), "")
    assert "enabled" in line and "OK" in line, text


def test_binder_environment_has_only_what_binder_installs(binder_python):
    # The notebooks must not rely on the test extras (nbval, pytest, playwright).
    probe = subprocess.run([binder_python, "-c", "import inferlab, ipywidgets, matplotlib, numpy;"
                            "import importlib.util as u; print(u.find_spec('nbval') is None)"],
                           capture_output=True, text=True, timeout=120)
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == "True"


def test_lesson_00_runs_in_a_browser_on_the_binder_environment(binder_python):
    with jupyterlab(python=binder_python, notebooks=("lessons",)) as lab, chromium() as browser:
        check_notebook(browser, lab, "lessons/00_start_here.ipynb",
                       ROOT / "test-artifacts" / "screenshots-binder")
