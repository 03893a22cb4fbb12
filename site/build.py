"""Build the course website (`make site`): the learner lessons, executed, with the README's
overview and every page in docs/, as a static Jupyter Book that works offline.

    python site/build.py [--out build/site]

Steps: copy the sources into ``<out>/src`` (the lessons as learners get them, the widget
cells' outputs removed because a saved widget shows nothing without a kernel, alt text on
every figure), copy MathJax (its one-file SVG build) so that no page loads
it from a CDN, write the book's config and table of contents, and run Jupyter Book. Executed
outputs are cached in ``<out>/cache`` (jupyter-cache) and reused while a notebook's code is
unchanged. Any cell error fails the build.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
DEFAULT_REPOSITORY = "OWNER/the-latency-floor"


def repository() -> str:
    """The GitHub ``owner/name`` of the course, from the one place it is set: the
    ``Repository`` URL under ``[project.urls]`` in pyproject.toml."""
    match = re.search(r'(?m)^Repository\s*=\s*"https://github\.com/([^"]+?)/?"',
                      (ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return match.group(1) if match else DEFAULT_REPOSITORY


def _source(cell) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _first_sentence(text: str) -> str:
    text = re.sub(r"[#*`$\\]", "", text)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = " ".join(text.split())
    sentence = re.split(r"(?<=[.:!?])\s", text, maxsplit=1)[0]
    return sentence[:180] or "Figure"


def prepare_notebook(notebook: dict) -> dict:
    """The lesson as the site shows it: widget outputs left out (with a pointer to Binder),
    figures given alt text (the prose just above them), everything else untouched."""
    cells, last_prose = [], "Figure"
    for cell in notebook["cells"]:
        cell = json.loads(json.dumps(cell))
        metadata = cell.setdefault("metadata", {})
        tags = metadata.setdefault("tags", [])
        if cell["cell_type"] == "markdown":
            # JupyterLab needs a money dollar written \\$ (inferlab.lint); MyST needs \$
            cell["source"] = _source(cell).replace("\\\\$", "\\$")
            last_prose = _first_sentence(_source(cell))
        elif ".widget()" in _source(cell):
            # a trailing ";" keeps the saved widget (nothing without a kernel) out of the
            # page, and keeps a static figure drawn in the same cell before it
            lines = _source(cell).rstrip().splitlines()
            if len(lines) == 1 and re.fullmatch(r"\s*\w+\.widget\(\)\s*;?\s*", lines[0]):
                tags.append("remove-cell")  # a bare `explorer.widget()`: nothing to read on a page
            elif ".widget()" in lines[-1]:
                cell["source"] = [line + "\n" for line in lines[:-1]] + [lines[-1].rstrip(";") + ";"]
            else:
                tags.append("remove-output")
            metadata.setdefault("mystnb", {}).setdefault("image", {})["alt"] = last_prose
            cells.append(cell)
            cells.append({"cell_type": "markdown", "metadata": {"tags": list(
                t for t in tags if t == "deeper")}, "source": [
                "```{note}\nThe live explorer needs a running kernel: launch this lesson on "
                "Binder (the rocket at the top of the page) or open it with `make lab`. "
                "The figure above shows it at its default settings.\n```"]})
            continue
        else:
            metadata.setdefault("mystnb", {}).setdefault("image", {})["alt"] = last_prose
            if _source(cell).rstrip().rpartition("\n")[2].startswith("ipywidgets."):
                # lesson 00's slider: a page shows nothing for it, and the prose below asks
                # the reader to see one
                cells += [cell, {"cell_type": "markdown", "metadata": {"tags": list(
                    t for t in tags if t == "deeper")}, "source": [
                    "```{note}\nA widget (here, the slider) needs a running kernel, so this page "
                    "cannot show it: launch this lesson on Binder (the rocket at the top of the "
                    "page) or open it with `make lab` to see it.\n```"]}]
                continue
        cells.append(cell)
    out = dict(notebook)
    out["cells"] = cells
    return out


def _overview() -> str:
    """The README's overview and lesson map, with links that work on the site."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    parts = re.split(r"(?m)^## ", readme)
    keep = [parts[0]] + ["## " + p for p in parts[1:] if p.startswith(("Lessons", "Exercises"))]
    text = "\n".join(keep)
    text = re.sub(r"(?m)^\[!\[Binder\].*$", "", text)
    return text + READING


#: The intro page's guide to the site itself (the README speaks to a clone, not to the site).
READING = """
## Reading the course on this site

Each lesson here has been run, so its figures and printed results are shown; nothing runs in
your browser.

- **Exercises**: a cell with `name = ...` is an exercise. Below it you see what the checker
  prints while it is unanswered; to answer it you need the notebook itself (below).
- **Explorers**: each is shown as its static figure at the default settings; the sliders need
  a running kernel.
- **Going deeper** sections (marked *optional*) can be skipped: each lesson's core makes sense
  without them.
- **To run a lesson**: the rocket button at the top of a lesson launches it on Binder (no
  installation; Binder keeps nothing, so download your work before you leave); the download
  button gives the lesson as a notebook (`.ipynb`). To work on your own computer, clone the
  course and run `make lab` ([setup](docs/setup/README.md)).
"""


def _toc(lessons, docs) -> str:
    lines = ["format: jb-book", "root: intro", "parts:", "  - caption: Lessons", "    chapters:"]
    lines += [f"      - file: lessons/{p.stem}" for p in lessons]
    if docs:
        lines += ["  - caption: For readers and instructors", "    chapters:"]
        lines += [f"      - file: docs/{p.with_suffix('').as_posix()}" for p in docs]
    return "\n".join(lines) + "\n"


#: The order of the pages from docs/ on the site (others follow, alphabetically).
DOCS_FIRST = ("summary.md", "instructor/README.md", "instructor/lessons.md", "setup/README.md")


def _docs() -> list:
    """Every Markdown page under docs/, relative to it, in reading order."""
    root = ROOT / "docs"
    if not root.is_dir():
        return []
    pages = sorted(p.relative_to(root) for p in root.rglob("*.md"))
    first = [Path(name) for name in DOCS_FIRST if Path(name) in pages]
    return first + [p for p in pages if p not in first]


def _config(repo: str, cache: Path) -> str:
    return f"""title: The Latency Floor
author: The Latency Floor authors
copyright: "2026"
only_build_toc_files: true
execute:
  execute_notebooks: cache
  cache: "{cache}"
  timeout: 300
  allow_errors: false
  stderr_output: remove
repository:
  url: https://github.com/{repo}
  branch: main
launch_buttons:
  binderhub_url: https://mybinder.org
  notebook_interface: jupyterlab
html:
  use_repository_button: true
  use_download_button: true
  favicon: _static/favicon.png
  extra_footer: "Code MIT, prose and figures CC-BY-4.0."
parse:
  myst_enable_extensions: [dollarmath, colon_fence]
sphinx:
  config:
    # Jupyter Book's defaults less sphinx_thebe (it loads thebe from a CDN, and declares its
    # settings twice on a cached rebuild)
    extensions: [sphinx_togglebutton, sphinx_copybutton, myst_nb, jupyter_book, sphinx_comments,
                 sphinx_external_toc, sphinx.ext.intersphinx, sphinx_design, sphinx_book_theme]
    mathjax_path: ../mathjax/tex-svg.js
    html_extra_path: ["_extra"]
    nb_execution_raise_on_error: true
    myst_heading_anchors: 3
    nb_merge_streams: true
    nb_ipywidgets_js: {{}}
    suppress_warnings: ["mystnb.unknown_mime_type"]
"""


def _mathjax() -> Path:
    """MathJax 3's single-file TeX-to-SVG build (no web fonts to fetch), from the
    ``django-static-mathjax`` wheel, which ships MathJax's files and nothing else."""
    import importlib.util
    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("the site needs MathJax: pip install -e '.[site]'")
    return Path(list(spec.submodule_search_locations)[0]) / "static" / "mathjax" / "es5" / "tex-svg.js"


def prepare(out: Path) -> Path:
    """Write the book's sources under ``out/src`` and return that folder."""
    src = out / "src"
    if src.exists():
        shutil.rmtree(src)
    (src / "lessons").mkdir(parents=True)
    lessons = sorted((ROOT / "lessons").glob("[0-9][0-9]_*.ipynb"))
    for path in lessons:
        notebook = prepare_notebook(json.loads(path.read_text(encoding="utf-8")))
        (src / "lessons" / path.name).write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n",
                                                 encoding="utf-8")
    docs = _docs()
    if docs:
        shutil.copytree(ROOT / "docs", src / "docs")
    (src / "intro.md").write_text(_overview(), encoding="utf-8")
    (src / "_toc.yml").write_text(_toc(lessons, docs), encoding="utf-8")
    (src / "_config.yml").write_text(_config(repository(), (out / "cache").resolve()), encoding="utf-8")
    shutil.copytree(HERE / "_static", src / "_static")
    (src / "_extra" / "mathjax").mkdir(parents=True)
    shutil.copy(_mathjax(), src / "_extra" / "mathjax" / "tex-svg.js")
    # browsers ask every page's site root for /favicon.ico (the redirecting index.html has no
    # <link rel="icon">): a PNG under that name answers them
    shutil.copy(HERE / "_static" / "favicon.png", src / "_extra" / "favicon.ico")
    return src


def build(out: Path) -> Path:
    """Prepare and build; returns the folder of the HTML site."""
    src = prepare(out)
    env = dict(os.environ, INFERLAB_QUICK="1", MPLBACKEND="Agg", PYTHONPATH=str(ROOT / "lib"))
    env.pop("INFERLAB_STRICT", None)
    command = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(src), "--path-output", str(out),
               "--keep-going", "-W", "-n"]
    done = subprocess.run(command, env=env)
    if done.returncode:
        raise SystemExit(f"the site build failed (exit {done.returncode}); see the messages above")
    html = out / "_build" / "html"
    # the "download this notebook" button serves _sources/: give the lesson exactly as a
    # learner gets it, not the site's copy (its Binder notes, its explorers silenced by ";")
    for path in sorted((ROOT / "lessons").glob("[0-9][0-9]_*.ipynb")):
        shutil.copy(path, html / "_sources" / "lessons" / path.name)
    return html


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "build" / "site"))
    args = parser.parse_args(argv)
    html = build(Path(args.out).resolve())
    print(f"site built: {html / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
