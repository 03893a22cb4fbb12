"""`make bench`: how quick the course is, measured the same way every time.

Measures notebook execution (a fresh kernel each, with the environment `make test` uses),
the whole course, explorer redraw latency, `import inferlab` time, vectorised model
evaluation, the scheduling simulator (when present) and peak kernel memory. Prints a table
and writes JSON to bench-results/. Targets are reported, never enforced: timings depend on
the machine, so a missed target is a finding to explain, not a failure.

    python bench/run.py [--quick] [--repeats N] [--only notebooks,widgets,browser,import,model,sim]

``browser``: what the learner feels. JupyterLab and Debian's Chromium (as the browser test
runs them) show every explorer's live widget; a control is moved (a slider by one step with
the keyboard, or a menu) and the time runs from the input event to the new figure decoded in
the page. Skipped with a reason where Chromium or playwright is missing.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench-results"
TARGETS = {
    "notebook_seconds": ("each notebook", "< 10 s"),
    "course_seconds": ("whole course", "< 60 s"),
    "redraw_median_ms": ("widget redraw median", "< 50 ms"),
    "redraw_p95_ms": ("widget redraw p95", "< 100 ms"),
    "browser_p95_ms": ("control moved in Chromium to new figure shown, p95", "< 150 ms"),
    "import_extra_seconds": ("import inferlab beyond matplotlib", "< 0.3 s"),
    "model_configs_per_second": ("decode_step configurations/s", "> 1e7"),
    "sim_requests_per_second": ("simulated requests/s", "> 1e6"),
}


def summary(values) -> dict:
    values = [float(v) for v in values]
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "n": len(values)}


def machine() -> dict:
    import numpy
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        config = numpy.show_config(mode="dicts")
        blas = config.get("Build Dependencies", {}).get("blas", {})
        blas = f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # older numpy
        blas = "unknown"
    return {"platform": platform.platform(), "cpu": cpu, "cores": os.cpu_count(),
            "python": platform.python_version(), "numpy": numpy.__version__, "blas": blas,
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}


# --- notebooks ------------------------------------------------------------------------
def notebook_env() -> dict:
    env = dict(os.environ, INFERLAB_STRICT="1", INFERLAB_QUICK="1", MPLBACKEND="Agg",
               PYTHONPATH=str(ROOT / "lib") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return env


def run_notebook(path: Path) -> float:
    import nbformat
    from nbclient import NotebookClient
    notebook = nbformat.read(path, as_version=4)
    old = dict(os.environ)
    os.environ.update(notebook_env())
    try:
        start = time.perf_counter()
        NotebookClient(notebook, timeout=300, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
        return time.perf_counter() - start
    finally:
        os.environ.clear()
        os.environ.update(old)


def bench_notebooks(repeats: int) -> dict:
    paths = sorted((ROOT / "solutions").glob("*.ipynb")) + sorted((ROOT / "lessons").glob("*.ipynb"))
    per_notebook = {str(p.relative_to(ROOT)): [] for p in paths}
    course = []
    for _ in range(repeats):
        total = 0.0
        for path in paths:
            seconds = run_notebook(path)
            per_notebook[str(path.relative_to(ROOT))].append(seconds)
            total += seconds
        course.append(total)
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"notebooks": {k: summary(v) for k, v in per_notebook.items()},
            "course_seconds": summary(course),
            "course_parallel_seconds": summary([course_in_parallel() for _ in range(repeats)]),
            "peak_kernel_memory_MB": peak_kb / 1024.0}


def course_in_parallel(workers: int = 2) -> float:
    """Wall time of the notebook tests as `make test` runs them: nbval, one notebook per
    worker, ``workers`` at a time (2: the cores the course targets)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pytest", "lessons", "solutions", "--nbval-lax", "-q",
                    "-p", "no:cacheprovider", "-n", str(workers), "--dist", "loadfile"],
                   cwd=ROOT, env=notebook_env(), check=True, capture_output=True)
    return time.perf_counter() - start


# --- widgets ----------------------------------------------------------------------------
def explorers() -> list:
    from inferlab.widgets import explorer_classes
    return explorer_classes()


def control_values(control, count: int) -> list:
    """``count`` values that move ``control`` back and forth over its range."""
    options = getattr(control, "options", None)
    if options:
        values = [o[1] if isinstance(o, tuple) else o for o in options]
    elif hasattr(control, "max") and hasattr(control, "min"):
        import numpy as np
        if control.__class__.__name__ == "FloatLogSlider":
            values = list(control.base ** np.linspace(control.min, control.max, 7))
        else:
            values = list(np.linspace(control.min, control.max, 7))
            if isinstance(control.value, int):
                values = [int(round(v)) for v in values]
    elif isinstance(getattr(control, "value", None), bool):
        values = [True, False]
    else:
        return []
    values = [v for v in values if v != control.value] or values
    return [values[i % len(values)] for i in range(count)]


def bench_widgets(changes: int) -> dict:
    results = {}
    for cls in explorers():
        explorer = cls()
        explorer.widget()
        first = explorer.redraw_seconds[0]
        explorer.redraw_seconds.clear()
        for name, control in explorer._controls.items():
            for value in control_values(control, changes):
                control.value = value
        times = sorted(explorer.redraw_seconds)
        if not times:
            continue
        p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
        results[cls.__name__] = {"first_draw_ms": first * 1e3, "changes": len(times),
                                 "median_ms": statistics.median(times) * 1e3, "p95_ms": p95 * 1e3,
                                 "min_ms": times[0] * 1e3, "max_ms": times[-1] * 1e3}
    return results


# --- what the learner feels: a control moved in Chromium until the new figure is shown ------------
ARM = """(index) => {
  const el = document.querySelectorAll('.inferlab-explorer')[index];
  const image = el.querySelector('.inferlab-figure');
  const before = image.getAttribute('src');
  const bench = window.__bench = {start: null, end: null};
  const mark = () => { if (bench.start === null) bench.start = performance.now(); };
  for (const type of ['keydown', 'input', 'change']) {
    document.addEventListener(type, mark, {capture: true, once: true});
  }
  const observer = new MutationObserver(async () => {
    if (image.getAttribute('src') === before) return;
    observer.disconnect();
    try { await image.decode(); } catch (error) {}  // shown, not only fetched
    bench.end = performance.now();
  });
  observer.observe(image, {attributes: true, attributeFilter: ['src']});
  // a move too small to change a pixel leaves the image as it was: then the summary's
  // new text is what the learner sees change
  const summary = el.querySelector('.inferlab-summary');
  const text = summary.innerText;
  const textObserver = new MutationObserver(() => {
    if (summary.innerText === text) return;
    textObserver.disconnect();
    bench.text = performance.now();
  });
  textObserver.observe(summary, {subtree: true, childList: true, characterData: true});
  bench.text = null;
}"""


def _browser_notebook(classes) -> dict:
    """A notebook that shows every explorer's live widget, one per cell."""
    from inferlab.authoring import notebook_from_script
    cells = ["# %%\n%matplotlib inline"] + [  # as the lessons do: the static figure, then the widget
        f"# %%\nfrom {cls.__module__} import {cls.__name__}\nexplorer = {cls.__name__}()\n"
        f"explorer.static()\nexplorer.widget()" for cls in classes]
    return notebook_from_script("\n".join(cells), "bench-explorers")


def _move(page, index: int, step: int) -> None:
    """Move explorer ``index``'s first slider by five steps (PageUp/PageDown; its first menu
    when it has no slider), alternating direction so that it stays in range."""
    explorer = page.locator(".inferlab-explorer").nth(index)
    handle = explorer.locator(".noUi-handle")
    if handle.count():
        handle = handle.first
        handle.scroll_into_view_if_needed()
        at_max = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
        handle.focus()
        key = "PageDown" if (step % 2 == 0) == at_max else "PageUp"  # five steps
        page.keyboard.press(key)
        return f"slider {key}"
    select = explorer.locator("select").first
    options = select.locator("option").all_inner_texts()
    label = options[step % 2] if options[step % 2] != select.input_value() else options[(step + 1) % 2]
    select.select_option(label=label)
    return f"menu {label}"


def bench_browser(moves: int) -> dict:
    """Per explorer, milliseconds from a control's input event in Chromium to the new figure
    decoded in the page (JupyterLab, a live kernel; the new summary text when the move leaves
    every pixel as it was): the first move (it builds the live figure, as in a lesson, where
    the widget first shows the static image) and ``moves`` more (median, p95)."""
    sys.path.insert(0, str(ROOT / "tests"))
    import tempfile
    from labserver import browser_missing, chromium, jupyterlab, open_and_run
    missing = browser_missing()
    if missing:
        return {"skipped": missing}
    from inferlab.authoring import dumps
    from inferlab.widgets import explorer_classes
    classes = explorer_classes()
    source = Path(tempfile.mkdtemp(prefix="inferlab-bench-"))
    (source / "bench").mkdir()
    (source / "bench" / "explorers.ipynb").write_text(dumps(_browser_notebook(classes)), encoding="utf-8")
    results = {}
    with jupyterlab(notebooks=("bench",), source=source) as lab, chromium() as browser:
        base, token, _ = lab
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        state = open_and_run(page, base, token, "bench/explorers.ipynb", timeout=300)
        if state["errors"]:
            return {"skipped": f"the explorers' notebook failed: {state['errors']}"}
        for index, cls in enumerate(classes):
            times = []
            for step in range(moves + 1):
                page.evaluate(ARM, index)
                action = _move(page, index, step)
                try:
                    page.wait_for_function("() => window.__bench.end !== null || (window.__bench.text"
                                           " !== null && performance.now() - window.__bench.text > 3000)",
                                           timeout=30_000)
                except Exception:  # playwright's TimeoutError: say which move, go on
                    state = page.evaluate("() => window.__bench")
                    results[cls.__name__] = {"failed": f"move {step} ({action}): nothing changed "
                                                       f"within 30 s ({state})"}
                    break
                times.append(page.evaluate("() => (window.__bench.end !== null ? window.__bench.end :"
                                           " window.__bench.text) - window.__bench.start"))
            if len(times) < moves + 1:
                continue
            later = sorted(times[1:])
            p95 = later[min(len(later) - 1, int(round(0.95 * (len(later) - 1))))]
            results[cls.__name__] = {"first_move_ms": times[0], "moves": len(later),
                                     "median_ms": statistics.median(later), "p95_ms": p95,
                                     "max_ms": later[-1]}
        page.close()
    return results


# --- import, model, simulator -------------------------------------------------------------
def bench_import(repeats: int) -> dict:
    code = ("import time, sys; {pre}; t = time.perf_counter(); import inferlab; "
            "print(time.perf_counter() - t)")
    env = notebook_env()
    cold, warm = [], []
    for _ in range(repeats):
        for pre, bucket in (("pass", cold), ("import matplotlib.pyplot, ipywidgets", warm)):
            out = subprocess.run([sys.executable, "-c", code.format(pre=pre)], env=env,
                                 capture_output=True, text=True, check=True)
            bucket.append(float(out.stdout.strip()))
    return {"import_seconds": summary(cold), "import_extra_seconds": summary(warm)}


def bench_model(repeats: int, size: int) -> dict:
    import numpy as np
    import inferlab as il
    batch = np.arange(1, size + 1)[:, None]
    context = np.linspace(1, 131072, size).round()[None, :]
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        step = il.decode_step("llama-3.1-8b", "H100-SXM", batch, context)
        step.seconds.sum()
        rates.append(size * size / (time.perf_counter() - start))
    return {"model_configs_per_second": summary(rates), "grid": f"{size} x {size}"}


def bench_sim(repeats: int, quick: bool) -> dict:
    """The fixed-interval scheduling simulator (bench/bench_schedule.py), requests/s."""
    sys.path.insert(0, str(ROOT / "bench"))
    import bench_schedule
    count = 200_000 if quick else 1_000_000
    rates = [bench_schedule.fixed_interval_rate(count, repeats=3) for _ in range(repeats)]
    return {"sim_requests_per_second": summary(rates), "requests": count}


# --- report ------------------------------------------------------------------------------------
def table(results: dict) -> str:
    lines = [f"The Latency Floor benchmark, {results['machine']['date']}",
             f"{results['machine']['cpu']} ({results['machine']['cores']} cores), Python "
             f"{results['machine']['python']}, numpy {results['machine']['numpy']} "
             f"({results['machine']['blas']})", ""]
    row = "{:<46} {:>10} {:>10} {:>10}  {}"
    lines.append(row.format("measure", "median", "min", "max", "target"))
    def add(name, stats, unit, target="", scale=1.0):
        lines.append(row.format(name, f"{stats['median'] * scale:.3g}{unit}",
                                f"{stats['min'] * scale:.3g}{unit}", f"{stats['max'] * scale:.3g}{unit}", target))
    for name, stats in results.get("notebooks", {}).get("notebooks", {}).items():
        add(name, stats, " s", "< 10 s")
    if "notebooks" in results:
        add("whole course, one notebook after another", results["notebooks"]["course_seconds"], " s")
        add("whole course, 2 at a time (make test's way)", results["notebooks"]["course_parallel_seconds"],
            " s", "< 60 s")
        lines.append(row.format("peak kernel memory", f"{results['notebooks']['peak_kernel_memory_MB']:.0f} MB", "", "", ""))
    for name, stats in results.get("widgets", {}).items():
        lines.append(row.format(f"redraw {name} ({stats['changes']} changes)",
                                f"{stats['median_ms']:.3g} ms", f"{stats['min_ms']:.3g} ms",
                                f"{stats['max_ms']:.3g} ms", f"median < 50 ms; p95 {stats['p95_ms']:.3g} ms < 100"))
    browser = results.get("browser", {})
    if "skipped" in browser:
        lines.append(row.format("in the browser", "-", "", "", browser["skipped"]))
    else:
        for name, stats in browser.items():
            if "failed" in stats:
                lines.append(row.format(f"in Chromium {name}", "-", "", "", stats["failed"]))
                continue
            lines.append(row.format(f"in Chromium {name} ({stats['moves']} moves)",
                                    f"{stats['median_ms']:.0f} ms", "", f"{stats['max_ms']:.0f} ms",
                                    f"p95 {stats['p95_ms']:.0f} ms < 150; first move "
                                    f"{stats['first_move_ms']:,.0f} ms"))
    if "import" in results:
        add("import inferlab (fresh interpreter)", results["import"]["import_seconds"], " s")
        add("import inferlab after matplotlib, ipywidgets", results["import"]["import_extra_seconds"], " s", "< 0.3 s")
    if "model" in results:
        add(f"decode_step over {results['model']['grid']} grid (configs/s)",
            results["model"]["model_configs_per_second"], "", "> 1e7")
    sim = results.get("sim", {})
    if "sim_requests_per_second" in sim:
        add("scheduling simulator (requests/s)", sim["sim_requests_per_second"], "", "> 1e6")
    elif sim:
        lines.append(row.format("scheduling simulator", "-", "", "", sim.get("sim", "")))
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one repeat, fewer redraws (CI)")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--only", default="notebooks,widgets,browser,import,model,sim")
    args = parser.parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 3)
    only = set(args.only.split(","))
    sys.path.insert(0, str(ROOT / "lib"))
    os.environ.setdefault("MPLBACKEND", "Agg")
    results = {"machine": machine(), "quick": args.quick, "repeats": repeats}
    if "import" in only:
        results["import"] = bench_import(repeats)
    if "model" in only:
        results["model"] = bench_model(repeats, 300 if args.quick else 1000)
    if "widgets" in only:
        results["widgets"] = bench_widgets(5 if args.quick else 20)
    if "sim" in only:
        results["sim"] = bench_sim(repeats, args.quick)
    if "browser" in only:
        results["browser"] = bench_browser(3 if args.quick else 20)
    if "notebooks" in only:
        results["notebooks"] = bench_notebooks(repeats)
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"bench-{stamp}{'-quick' if args.quick else ''}.json"
    out.write_text(json.dumps(results, indent=1))
    print(table(results))
    print(f"\nwritten: {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
