"""The setup check a participant runs before the day: ``make check``, or
``python -m inferlab.setup_check`` in the course's environment (Windows:
``.venv\\Scripts\\python -m inferlab.setup_check``).

It checks, and prints PASS or FAIL with the fix for each failure:
the Python version; each package the course needs, at its minimum version; the course
library and its data; the widget extension enabled in JupyterLab; a figure renders; a
Jupyter kernel starts and imports the course. The exit code is 0 when everything passes,
1 otherwise.
"""
from __future__ import annotations

import importlib.metadata as metadata
import io
import re
import subprocess
import sys
from dataclasses import dataclass

MIN_PYTHON = (3, 10)
# What the course needs besides its own dependencies (read from inferlab's metadata when
# it is installed): JupyterLab and the kernel. The fallback list mirrors pyproject.toml.
LAB = ["jupyterlab>=4.0", "ipykernel>=6.0"]
FALLBACK = ["numpy>=1.24", "matplotlib>=3.7", "ipywidgets>=8.0"]
REINSTALL = ("run `make lab` again in the course folder (Windows: `python lib/inferlab/lab.py`), "
             "or `python -m pip install -e \".[lab]\"` in the course's environment")


@dataclass(frozen=True)
class Result:
    """One check: its name, whether it passed, what was found, and the fix when it failed."""
    name: str
    passed: bool
    detail: str
    fix: str = ""


def _version_tuple(text: str) -> tuple:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def check_python(version=None, minimum=MIN_PYTHON) -> Result:
    version = tuple(sys.version_info[:3] if version is None else version)
    found = ".".join(str(v) for v in version)
    need = ".".join(str(v) for v in minimum)
    if version[:len(minimum)] >= tuple(minimum):
        return Result("Python", True, f"Python {found} ({need} or newer needed)")
    return Result("Python", False, f"Python {found}, but the course needs {need} or newer",
                  f"install Python {need} or newer (https://www.python.org/downloads/), then "
                  "delete the course's .venv folder and run `make lab` again")


def _requirements() -> list:
    try:
        required = [r for r in (metadata.requires("inferlab") or []) if "extra ==" not in r]
    except metadata.PackageNotFoundError:
        required = []
    return (required or FALLBACK) + LAB


def check_packages(requirements=None, version_of=metadata.version) -> list:
    """One result per requirement ``name>=X.Y`` (a missing package or an older one fails)."""
    results = []
    for requirement in (_requirements() if requirements is None else requirements):
        match = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*(?:>=\s*([0-9.]+))?", requirement)
        name, minimum = match.group(1), match.group(2)
        try:
            found = version_of(name)
        except metadata.PackageNotFoundError:
            results.append(Result(name, False, f"{name} is not installed", REINSTALL))
            continue
        if minimum and _version_tuple(found) < _version_tuple(minimum):
            results.append(Result(name, False, f"{name} {found}, but {minimum} or newer is needed",
                                  f"`python -m pip install \"{name}>={minimum}\"` in the course's "
                                  f"environment, or {REINSTALL}"))
        else:
            results.append(Result(name, True, f"{name} {found}"
                                  + (f" ({minimum} or newer needed)" if minimum else "")))
    return results


def check_library() -> Result:
    try:
        import inferlab
        chips, models = inferlab.list_hardware(), inferlab.list_models()
    except Exception as error:  # the point is to report any failure, never to raise
        return Result("course library", False, f"inferlab failed: {type(error).__name__}: {error}",
                      REINSTALL)
    return Result("course library", True, f"inferlab {inferlab.__version__} (its catalogues "
                  f"load: {len(chips)} chips, {len(models)} models)")


WIDGETS = "@jupyter-widgets/jupyterlab-manager"


def check_widgets(listing: str | None = None) -> Result:
    """The widget extension is enabled in this environment's JupyterLab (``listing`` is the
    output of ``jupyter labextension list``; read here when not given)."""
    if listing is None:
        try:
            done = subprocess.run([sys.executable, "-m", "jupyter", "labextension", "list"],
                                  capture_output=True, text=True, timeout=120)
            listing = done.stdout + done.stderr
        except (OSError, subprocess.SubprocessError) as error:
            listing = str(error)
    line = next((l for l in listing.splitlines() if WIDGETS in l), "")
    if "enabled" in line and "OK" in line:
        return Result("widgets in JupyterLab", True, f"{WIDGETS} enabled")
    found = line.strip() or "not found"
    return Result("widgets in JupyterLab", False, f"{WIDGETS}: {found}",
                  "`python -m pip install \"ipywidgets>=8\" jupyterlab_widgets` in the course's "
                  f"environment; if it is listed as disabled: `jupyter labextension enable {WIDGETS}`;"
                  " then restart JupyterLab")


def check_figure() -> Result:
    try:
        import matplotlib
        matplotlib.use("Agg", force=False)
        from matplotlib.figure import Figure
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        figure = Figure(figsize=(3, 2))
        FigureCanvasAgg(figure)
        figure.add_subplot().plot([1, 2, 3], [1, 4, 9])
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        png = buffer.getvalue()
    except Exception as error:
        return Result("a figure renders", False, f"{type(error).__name__}: {error}", REINSTALL)
    if png[:8] != b"\x89PNG\r\n\x1a\n" or len(png) < 1000:
        return Result("a figure renders", False, f"matplotlib wrote {len(png)} bytes, not a PNG",
                      REINSTALL)
    return Result("a figure renders", True, f"a {len(png) // 1024} KB PNG from matplotlib")


def check_kernel(kernel_name: str = "python3", timeout: float = 60.0) -> Result:
    """A Jupyter kernel starts within ``timeout`` seconds and imports the course."""
    fix = ("`python -m pip install ipykernel` in the course's environment; if an old kernel is "
           "registered elsewhere, `jupyter kernelspec list` shows it")
    try:
        from jupyter_client.manager import start_new_kernel
        # the kernel's own log (e.g. a warning about TCP without encryption) is not for learners
        manager, client = start_new_kernel(kernel_name=kernel_name, startup_timeout=timeout,
                                           stderr=subprocess.DEVNULL)
    except Exception as error:
        return Result("a kernel starts", False, f"kernel {kernel_name!r}: {type(error).__name__}: "
                      f"{error}", fix)
    try:
        reply = client.execute_interactive("import inferlab, ipywidgets, matplotlib",
                                           timeout=timeout, output_hook=lambda message: None)
        ok = reply["content"]["status"] == "ok"
        detail = (f"kernel {kernel_name!r} started and imported the course" if ok else
                  f"kernel {kernel_name!r} started but could not import the course: "
                  f"{reply['content'].get('ename')}: {reply['content'].get('evalue')}")
    except Exception as error:
        ok, detail = False, f"kernel {kernel_name!r} did not answer: {type(error).__name__}: {error}"
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    return Result("a kernel starts", ok, detail, "" if ok else fix)


def run_checks() -> list:
    return [check_python(), *check_packages(), check_library(), check_widgets(), check_figure(),
            check_kernel()]


def report(results) -> str:
    lines = ["The Latency Floor: setup check", ""]
    for result in results:
        lines.append(f"{'PASS' if result.passed else 'FAIL'}  {result.detail}")
        if not result.passed:
            lines.append(f"      fix: {result.fix}")
    failed = sum(not r.passed for r in results)
    lines += ["", f"All {len(results)} checks passed: you are ready for the course." if not failed
              else f"{failed} of {len(results)} checks failed: apply the fixes above and run the "
              "check again (or bring this output to the instructor)."]
    return "\n".join(lines)


def main(results=None) -> int:
    results = run_checks() if results is None else results
    print(report(results))
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
