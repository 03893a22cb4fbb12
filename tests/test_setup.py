"""Setup: the setup check (`python -m inferlab.setup_check`), the environment that `make lab` and
`make test` keep (installs only what changed, carries on offline), and the lab's settings
and address."""
import importlib.metadata as metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from inferlab import environment, lab
from inferlab import setup_check as check

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = (ROOT / "pyproject.toml").read_text()


# --- the setup check ------------------------------------------------------------------

def test_the_setup_check_passes_here():
    result = subprocess.run([sys.executable, "-m", "inferlab.setup_check"], capture_output=True,
                            text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [l for l in result.stdout.splitlines() if l.startswith(("PASS", "FAIL"))]
    assert len(lines) >= 8 and all(l.startswith("PASS") for l in lines), result.stdout
    for item in ("Python", "numpy", "jupyterlab", "jupyterlab-manager enabled", "PNG", "kernel"):
        assert item in result.stdout


def test_an_old_python_fails_with_the_fix():
    result = check.check_python((3, 8, 10))
    assert not result.passed and "3.8.10" in result.detail and "python.org" in result.fix
    assert check.check_python((3, 10, 0)).passed


def test_a_missing_or_old_package_fails_with_the_fix():
    def version_of(name):
        if name == "ipywidgets":
            raise metadata.PackageNotFoundError(name)
        return {"numpy": "1.21.6", "jupyterlab": "4.0.1"}[name]

    results = check.check_packages(["numpy>=1.24", "ipywidgets>=8.0", "jupyterlab>=4.0"], version_of)
    assert [r.passed for r in results] == [False, False, True]
    assert "1.21.6" in results[0].detail and 'pip install "numpy>=1.24"' in results[0].fix
    assert "not installed" in results[1].detail and "make lab" in results[1].fix


def test_a_disabled_widget_extension_fails_with_the_fix():
    listing = ("JupyterLab v4.2.0\n/srv/share/jupyter/labextensions\n"
               "        @jupyter-widgets/jupyterlab-manager v5.0.11 disabled OK (python, jupyterlab_widgets)\n")
    result = check.check_widgets(listing)
    assert not result.passed and "jupyter labextension enable" in result.fix
    assert not check.check_widgets("JupyterLab v4.2.0\n").passed
    assert check.check_widgets(listing.replace("disabled", "enabled")).passed


def test_a_kernel_that_cannot_start_fails_with_the_fix():
    result = check.check_kernel("no-such-kernel", timeout=20)
    assert not result.passed and "no-such-kernel" in result.detail and "ipykernel" in result.fix


def test_any_failure_makes_the_exit_code_non_zero(capsys):
    results = [check.check_python((3, 12, 0)), check.check_python((3, 9, 1))]
    assert check.main(results) == 1
    out = capsys.readouterr().out
    assert "PASS  Python 3.12.0" in out and "FAIL  Python 3.9.1" in out and "fix:" in out
    assert check.main(results[:1]) == 0


# --- the environment: installs only what changed ---------------------------------------

def test_touching_pyproject_changes_no_hash_and_a_new_extra_changes_only_its_own():
    before = environment.requirement_hashes(PYPROJECT, ["lab"])
    assert environment.requirement_hashes(PYPROJECT + "\n# a comment\n", ["lab"]) == before
    other = PYPROJECT.replace('[project.optional-dependencies]',
                              '[project.optional-dependencies]\nnew-extra = ["something>=1.0"]')
    assert environment.requirement_hashes(other, ["lab"]) == before
    changed = PYPROJECT.replace('lab = ["jupyterlab>=4.0"', 'lab = ["jupyterlab>=4.2"')
    assert changed != PYPROJECT
    after = environment.requirement_hashes(changed, ["lab"])
    assert after["lab"] != before["lab"] and after[""] == before[""]
    with pytest.raises(ValueError, match="extras"):
        environment.requirement_hashes(PYPROJECT, ["no-such-extra"])


def test_the_lab_extra_holds_no_test_tools():
    extras = environment._toml(PYPROJECT)["project"]["optional-dependencies"]
    names = " ".join(extras["lab"]).lower()
    for tool in ("pytest", "nbval", "playwright", "xdist"):
        assert tool not in names


@pytest.fixture
def fake_venv(tmp_path, monkeypatch):
    """A course folder with a venv whose python exists; pip calls are recorded."""
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    venv = tmp_path / ".venv"
    python = environment.venv_python(venv)
    python.parent.mkdir(parents=True)
    python.write_text("")
    calls = []
    monkeypatch.setattr(environment, "_pip", lambda python, root, args: calls.append(args) or 0)
    monkeypatch.setattr(environment, "_pip_can_install_editable", lambda python: True)
    return tmp_path, venv, python, calls


def test_a_working_environment_is_not_reinstalled(fake_venv):
    root, venv, python, calls = fake_venv
    assert environment.ensure(root, ["lab"]) == python and len(calls) == 1  # first install
    os.utime(root / "pyproject.toml")  # as a git pull may
    environment.ensure(root, ["lab"])
    assert len(calls) == 1
    environment.ensure(root, ["lab", "test"])  # `make test` adds its tools once ...
    environment.ensure(root, ["lab"])  # ... and `make lab` is then content
    assert len(calls) == 2 and calls[1][-1] == ".[lab,test]"


def test_offline_with_a_working_environment_warns_and_carries_on(fake_venv, monkeypatch, capsys):
    root, venv, python, calls = fake_venv
    monkeypatch.setattr(environment, "_pip", lambda python, root, args: 1)
    monkeypatch.setattr(environment, "missing_imports", lambda python, extras, cwd: [])
    assert environment.ensure(root, ["lab"]) == python
    assert "WARNING" in capsys.readouterr().out
    assert not (venv / environment.STAMP).exists()  # it tries again next time


def test_offline_without_an_environment_explains_the_wheelhouse(fake_venv, monkeypatch):
    root, venv, python, calls = fake_venv
    monkeypatch.setattr(environment, "_pip", lambda python, root, args: 1)
    monkeypatch.setattr(environment, "missing_imports", lambda python, extras, cwd: ["jupyterlab"])
    with pytest.raises(SystemExit, match="wheelhouse"):
        environment.ensure(root, ["lab"])


def test_a_wheelhouse_folder_is_installed_from_without_network(tmp_path, monkeypatch):
    (tmp_path / "wheelhouse").mkdir()
    seen = []
    monkeypatch.setattr(environment.subprocess, "call", lambda command, cwd: seen.append(command) or 0)
    environment._pip(Path("python"), tmp_path, ["-e", ".[lab]"])
    assert seen[0][4:7] == ["--no-index", "--find-links", str(tmp_path / "wheelhouse")]


# --- the lab: settings and address ------------------------------------------------------

def test_the_lab_settings_turn_off_the_news_popup(tmp_path):
    from jupyterlab_server.settings_utils import _get_overrides
    lab.install_settings(tmp_path)
    overrides, error = _get_overrides(str(tmp_path))
    assert not error
    assert overrides["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"


def test_the_settings_go_where_jupyterlab_reads_them():
    from jupyterlab.commands import get_app_dir
    from jupyterlab.labapp import LabApp
    assert Path(LabApp().app_settings_dir) == Path(get_app_dir()) / "settings"


def test_the_lab_opens_the_learners_lesson_00(tmp_path):
    command = lab.lab_command(tmp_path, ["--no-browser"])
    assert f"--LabApp.default_url=/lab/tree/my-work/00_start_here.ipynb" in command
    assert f"--ServerApp.root_dir={tmp_path}" in command
    assert (ROOT / "lessons" / lab.FIRST_LESSON).exists()


def test_too_old_a_python_is_told_so_before_anything_is_installed():
    with pytest.raises(SystemExit, match="3.10 or newer; this is Python 3.9"):
        environment.require_python((3, 9))
    environment.require_python((3, 10))


def test_the_lab_prints_lesson_00s_address_and_asks_no_news_question(tmp_path):
    """The command `make lab` runs, started for real (its settings put in a temporary folder
    rather than this environment's): the terminal shows lesson 00's address, `/` leads there,
    and JupyterLab's settings say never to fetch news (so it never asks)."""
    import secrets
    import signal
    import urllib.error
    import urllib.request
    from labserver import _free_port, wait_until_up

    root = tmp_path / "course"
    (root / "my-work").mkdir(parents=True)
    (root / "my-work" / lab.FIRST_LESSON).write_bytes((ROOT / "lessons" / lab.FIRST_LESSON).read_bytes())
    settings = tmp_path / "app-settings"
    lab.install_settings(settings)
    token, port = secrets.token_hex(8), _free_port()
    command = lab.lab_command(root, ["--no-browser", f"--port={port}", "--ip=127.0.0.1",
                                     f"--IdentityProvider.token={token}",
                                     f"--LabApp.app_settings_dir={settings}"])
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
               JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "user-settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"))
    log_path = tmp_path / "lab.log"
    base = f"http://127.0.0.1:{port}"
    with open(log_path, "w") as log:
        server = subprocess.Popen(command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
        try:
            wait_until_up(base, token, server, log_path)
            reply = json.loads(urllib.request.urlopen(
                f"{base}/lab/api/settings/@jupyterlab/apputils-extension:notification?token={token}",
                timeout=30).read())
            assert reply["schema"]["properties"]["fetchNews"]["default"] == "false"
            assert reply["schema"]["properties"]["checkForUpdates"]["default"] is False
            opener = urllib.request.build_opener(type("NoRedirect", (urllib.request.HTTPRedirectHandler,),
                                                      {"redirect_request": lambda *a, **k: None}))
            try:
                opener.open(f"{base}/?token={token}", timeout=30)
                location = None
            except urllib.error.HTTPError as redirect:
                location = redirect.headers["Location"]
            assert location and location.split("?")[0].endswith(lab.lesson_url())
            page = urllib.request.urlopen(f"{base}{lab.lesson_url()}?token={token}", timeout=30)
            assert page.status == 200
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
    assert f"127.0.0.1:{port}{lab.lesson_url()}?token=" in log_path.read_text()
