"""Open the course in JupyterLab at the learner's copy of lesson 00: ``make lab``, or,
without ``make`` (Windows), ``python lib/inferlab/lab.py`` from the course folder.

Run with any Python, it first makes ``.venv`` hold the course and JupyterLab
(``environment.ensure``: nothing is reinstalled when nothing changed, and without network it
carries on with what is there), then starts itself again in that environment, where it:

1. prepares ``my-work/``, the learner's copies of the lessons (``workspace.prepare``: never
   overwrites them; says when a lesson they started has changed in the course);
2. installs the course's JupyterLab settings (``binder/overrides.json``: no "Jupyter news?"
   popup, no update check) into the environment's own settings folder, leaving the
   learner's JupyterLab settings alone (Binder's ``postBuild`` does the same);
3. starts JupyterLab with the course folder as its root and lesson 00 as its address, so
   the terminal prints lesson 00's address.

Extra arguments go to JupyterLab (e.g. ``--no-browser``, ``--port=8890``).
``python lib/inferlab/lab.py --check`` (``make check``) runs the setup check instead
(``inferlab.setup_check``) in the course's environment.
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OVERRIDES = ROOT / "binder" / "overrides.json"
FIRST_LESSON = "00_start_here.ipynb"
IN_ENV = "--in-env"


def lesson_url(work: str = "my-work") -> str:
    """The path JupyterLab opens (and prints): the learner's copy of lesson 00."""
    return f"/lab/tree/{work}/{FIRST_LESSON}"


def install_settings(settings_dir: Path | None = None) -> Path:
    """Write the course's JupyterLab overrides into ``settings_dir`` (default: the running
    environment's JupyterLab settings folder); returns the file written."""
    if settings_dir is None:
        from jupyterlab.commands import get_app_dir
        settings_dir = Path(get_app_dir()) / "settings"
    target = Path(settings_dir) / "overrides.json"
    wanted = json.loads(OVERRIDES.read_text(encoding="utf-8"))
    try:
        current = json.loads(target.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        current = {}
    merged = dict(current)
    for plugin, values in wanted.items():  # keep whatever else an admin put there
        merged[plugin] = {**current.get(plugin, {}), **values}
    if merged != current:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(merged, indent=2) + "\n", encoding="utf-8")
    return target


def lab_command(root: Path, args=()) -> list:
    """The JupyterLab command line ``make lab`` runs (in the current environment)."""
    command = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={root}",
               f"--LabApp.default_url={lesson_url()}", *args]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    return command


def launch(root: Path, args=()) -> int:
    """In the course's environment: prepare my-work/, install the settings, start the lab."""
    from inferlab import workspace

    notices = workspace.prepare(root)
    created = [n for n in notices if n.kind == "created"]
    if created:
        print(f"Your own copies of {len(created)} lesson(s) are in {workspace.WORK}/: "
              "work there; nothing the course runs overwrites them.")
    for notice in notices:
        if notice.kind != "created":
            print(notice.text)
    in_place = workspace.work_in_lessons(root)
    if in_place:
        print(f"Work was saved into {', '.join(str(p.relative_to(root)) for p in in_place)}, the "
              f"course's own copies (a `git pull` may refuse to update them). `make lessons` "
              f"moves that work into {workspace.WORK}/ and restores the course's copies.")
    install_settings()
    print(f"Opening lesson 00: {workspace.WORK}/{FIRST_LESSON} (stop the lab with Ctrl+C)",
          flush=True)
    try:
        return subprocess.call(lab_command(root, args), cwd=root)
    except KeyboardInterrupt:
        return 0


def _load_environment():
    spec = importlib.util.spec_from_file_location("_inferlab_environment",
                                                  Path(__file__).with_name("environment.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--settings-only"]:
        print(f"wrote {install_settings()}")
        return 0
    if argv[:1] == [IN_ENV]:
        return launch(ROOT, argv[1:])
    environment = _load_environment()
    environment.require_python()
    python = environment.ensure(ROOT, extras=["lab"])
    if argv[:1] == ["--check"]:  # the setup check, in the course's environment
        return subprocess.call([str(python), "-m", "inferlab.setup_check"], cwd=ROOT)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(ROOT / "lib"), os.environ.get("PYTHONPATH")])))
    try:
        return subprocess.call([str(python), "-m", "inferlab.lab", IN_ENV, *argv], env=env,
                               cwd=ROOT)
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
