"""The course's virtual environment (``.venv``): create it, install what a command needs,
and never reinstall a working one for nothing.

Standard library only: it runs with whatever Python the learner has, before anything is
installed (``python lib/inferlab/environment.py lab`` or ``... lab test``; ``make lab`` and
``make test`` call it).

- **Only what is needed**: ``lab`` installs the course and JupyterLab; ``test`` adds the test
  tools (pytest, nbval, playwright, ...), which a learner never needs.
- **No reinstall for nothing**: what was installed is recorded in ``.venv/.inferlab-installed``
  as a hash of each dependency list read from ``pyproject.toml`` (not its modification time):
  touching ``pyproject.toml``, or a ``git pull`` that changes something else in it, installs
  nothing.
- **Offline**: when the install fails (no network) but the environment already imports what
  the command needs, it warns and carries on with what is there. A folder ``wheelhouse/`` in
  the course (``make wheelhouse`` fills it) is installed from without any network.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

STAMP = ".inferlab-installed"
WHEELHOUSE = "wheelhouse"
# What each extra must import for the command to work (checked when an install fails).
IMPORTS = {"": ["numpy", "matplotlib", "ipywidgets", "inferlab"],
           "lab": ["jupyterlab", "ipykernel"],
           "test": ["pytest", "nbval", "xdist"],
           "site": ["jupyter_book", "mathjax"],
           "grade": ["nbgrader"]}


def _toml(text: str) -> dict:
    try:
        import tomllib  # Python 3.11+
    except ImportError:
        try:
            from pip._vendor import tomli as tomllib  # pip has carried tomli since 21.2
        except ImportError:
            return {}
    return tomllib.loads(text)


def requirement_hashes(pyproject_text: str, extras) -> dict:
    """One hash per dependency list a command needs: the build system, the package's own
    dependencies and each extra in ``extras``. Raises ValueError for an unknown extra."""
    data = _toml(pyproject_text)
    project = data.get("project", {})
    optional = project.get("optional-dependencies", {})
    groups = {"build": data.get("build-system", {}).get("requires", []),
              "": project.get("dependencies", [])}
    for extra in extras:
        if data and extra not in optional:
            raise ValueError(f"extras: pyproject.toml has no extra {extra!r} "
                             f"(it has {', '.join(sorted(optional))})")
        groups[extra] = optional.get(extra, [])
    if not data:  # no TOML reader (Python 3.10 without pip's tomli): the whole file decides
        groups = {"pyproject": pyproject_text, **{extra: extra for extra in extras}}
    return {name: hashlib.sha256(json.dumps(sorted(deps) if isinstance(deps, list) else deps)
                                 .encode()).hexdigest()[:16] for name, deps in groups.items()}


def venv_python(venv: Path) -> Path:
    windows = venv / "Scripts" / "python.exe"
    return windows if os.name == "nt" else venv / "bin" / "python"


def _installed(venv: Path) -> dict:
    try:
        recorded = json.loads((venv / STAMP).read_text())
        return recorded if isinstance(recorded, dict) else {}
    except (OSError, ValueError):
        return {}


def missing_imports(python: Path, extras, cwd: Path) -> list:
    """The modules the command needs that ``python`` cannot import ([] when all import)."""
    names = IMPORTS[""] + [n for extra in extras for n in IMPORTS.get(extra, [])]
    probe = ("import importlib.util, sys\n"
             f"print(' '.join(n for n in {names!r} if importlib.util.find_spec(n) is None))")
    try:
        result = subprocess.run([str(python), "-c", probe], cwd=cwd, capture_output=True,
                                text=True, timeout=120)
    except (OSError, subprocess.SubprocessError):
        return names
    return result.stdout.split() if result.returncode == 0 else names


def _pip_can_install_editable(python: Path) -> bool:
    """pip 21.3 and later install a pyproject-only package in editable mode (PEP 660)."""
    try:
        text = subprocess.run([str(python), "-m", "pip", "--version"], capture_output=True,
                              text=True, timeout=120).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    match = re.match(r"pip (\d+)\.(\d+)", text)
    return bool(match) and (int(match.group(1)), int(match.group(2))) >= (21, 3)


def _pip(python: Path, root: Path, args: list) -> int:
    command = [str(python), "-m", "pip", "install", "--disable-pip-version-check", *args]
    wheelhouse = root / WHEELHOUSE
    if wheelhouse.is_dir():  # a room without network: only the wheelhouse
        command[4:4] = ["--no-index", "--find-links", str(wheelhouse)]
    print("+", " ".join(command), flush=True)
    return subprocess.call(command, cwd=root)


def ensure(root: Path, extras=("lab",), venv: Path | None = None) -> Path:
    """Make ``venv`` (default ``ROOT/.venv``) hold the course with ``extras`` installed;
    returns its Python. Installs only when a needed dependency list changed since the last
    install; when that install fails but the environment works, warns and carries on."""
    root = Path(root).resolve()
    venv = Path(venv) if venv else root / ".venv"
    extras = [e for e in extras if e]
    wanted = requirement_hashes((root / "pyproject.toml").read_text(encoding="utf-8"), extras)
    installed = _installed(venv)
    python = venv_python(venv)
    if python.exists() and all(installed.get(k) == v for k, v in wanted.items()):
        return python
    if not python.exists():
        print(f"Creating the course's environment in {venv} ...", flush=True)
        if subprocess.call([sys.executable, "-m", "venv", str(venv)]) != 0:
            raise SystemExit(f"\nCould not create {venv} with {sys.executable}. On Debian or "
                             "Ubuntu, install the venv module first (`sudo apt install "
                             "python3-venv`), delete the half-made folder, and run this again.\n")
    print(f"Installing the course{' with ' + ', '.join(extras) if extras else ''} into {venv} "
          "(once; it is reused afterwards) ...", flush=True)
    if not _pip_can_install_editable(python):
        _pip(python, root, ["--quiet", "--upgrade", "pip"])
    target = "." + (f"[{','.join(extras)}]" if extras else "")
    if _pip(python, root, ["--quiet", "-e", target]) == 0:
        installed.update(wanted)
        (venv / STAMP).write_text(json.dumps(installed, indent=1, sort_keys=True) + "\n")
        return python
    missing = missing_imports(python, extras, root)
    if not missing:
        print("\nWARNING: could not install or update the course's packages (no network?).\n"
              "Carrying on with what is already installed, which has everything needed.\n"
              "Run the same command again when you are online to update.\n", flush=True)
        return python
    raise SystemExit(
        f"\nCould not install the course's packages; missing: {', '.join(missing)}.\n"
        "Without network, install from a wheelhouse (a folder of downloaded packages):\n"
        "  an instructor runs `make wheelhouse` (or `python -m pip download -d wheelhouse "
        "\".[lab]\" setuptools wheel`)\n"
        "  on a machine like yours with network, and you copy that folder into the course as "
        "`wheelhouse/`; then run this command again.\n")


def require_python(version=None, minimum=(3, 10)) -> None:
    """Stop with a plain message when this Python is older than the course needs."""
    version = tuple(sys.version_info[:2] if version is None else version)
    if version < minimum:
        raise SystemExit(f"The course needs Python {minimum[0]}.{minimum[1]} or newer; this is "
                         f"Python {version[0]}.{version[1]} ({sys.executable}). Install a newer "
                         "one (https://www.python.org/downloads/) and run the command with it.")


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    require_python()
    root = Path(__file__).resolve().parents[2]
    try:
        python = ensure(root, extras=argv or ["lab"])
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    print(f"ready: {python}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
