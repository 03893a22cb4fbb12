"""The course website (`make site`): built from the executed learner lessons, every page opened
in Chromium. A page must load nothing from outside the site (it serves a room without network),
log no console error, show every image (with alt text), link only to pages that exist, render
its mathematics, and typeset no money or prose as mathematics. Screenshots go to
test-artifacts/site/.

The build needs the `site` extra (Jupyter Book); without it, or without Chromium, the test is
skipped with the reason (CI installs both and makes a skip a failure)."""
from __future__ import annotations

import functools
import http.server
import importlib.util
import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import pytest

from inferlab import lint

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "build" / "site"
HTML = OUT / "_build" / "html"
ARTIFACTS = ROOT / "test-artifacts" / "site"
CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


def _skip(reason):
    if os.environ.get("INFERLAB_REQUIRE_BROWSER"):
        pytest.fail(f"required, but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def site():
    if importlib.util.find_spec("jupyter_book") is None:
        _skip("the site extra is not installed (pip install -e '.[site]')")
    done = subprocess.run([sys.executable, str(ROOT / "site" / "build.py"), "--out", str(OUT)],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return HTML


@pytest.fixture(scope="module")
def server(site):
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _pages(html: Path):
    return sorted(p.relative_to(html).as_posix() for p in html.rglob("*.html")
                  if "_static" not in p.parts and "_sources" not in p.parts)


def test_the_site_has_every_lesson_and_doc(site):
    pages = set(_pages(site))
    for notebook in sorted((ROOT / "lessons").glob("[0-9][0-9]_*.ipynb")):
        assert f"lessons/{notebook.stem}.html" in pages
    for doc in sorted((ROOT / "docs").rglob("*.md")):
        page = doc.relative_to(ROOT).with_suffix(".html").as_posix()
        assert page in pages, f"{page} is missing from the site"
    assert "intro.html" in pages and "search.html" in pages


def test_explorer_figures_and_downloads(site):
    """Every lesson with an explorer shows a figure between its static() call and its note
    (lessons 01-05 draw the static figure in the widget's own cell), and the download button
    gives the lesson exactly as learners get it."""
    for notebook in sorted((ROOT / "lessons").glob("[0-9][0-9]_*.ipynb")):
        if ".widget()" in notebook.read_text(encoding="utf-8"):
            html = (site / "lessons" / f"{notebook.stem}.html").read_text(encoding="utf-8")
            before_note = html.split("The live explorer needs a running kernel")[0]
            last_code = before_note.rfind("<span class=\"n\">static</span>")
            assert last_code > 0, notebook.name
            assert "<img" in before_note[last_code:], f"{notebook.stem}: no figure for its explorer"
        download = site / "_sources" / "lessons" / notebook.name
        assert download.read_bytes() == notebook.read_bytes(), f"{download} is not the lesson"


def test_no_page_refers_to_a_cdn(site):
    outside = re.compile(r'<(?:script|link|img|iframe)\b[^>]*(?:src|href)="(https?:)?//[^"]*"')
    for page in _pages(site):
        found = outside.findall((site / page).read_text(encoding="utf-8"))
        assert not found, f"{page} loads something from outside the site"


def test_every_page_in_the_browser(server, site):
    if not CHROMIUM.exists():
        _skip("Debian's chromium is not installed (apt-get install chromium)")
    playwright = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    problems = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        outside, errors = [], []
        page.on("request", lambda r: outside.append(r.url)
                if not r.url.startswith(server) and not r.url.startswith("data:") else None)
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        for name in _pages(site):
            outside.clear(), errors.clear()
            page.goto(server + name, wait_until="load")
            page.wait_for_function("() => !window.MathJax || !MathJax.startup || "
                                   "MathJax.startup.promise.then(() => true)")
            page.wait_for_timeout(150)
            page.screenshot(path=str(ARTIFACTS / (name.replace("/", "__") + ".png")))
            problems += [f"{name}: loads {u}" for u in outside]
            problems += [f"{name}: console error {e}" for e in errors]
            images = page.evaluate("""() => [...document.images].map(i => ({src: i.src,
                ok: i.complete && i.naturalWidth > 0, alt: (i.getAttribute('alt') || '').trim()}))""")
            problems += [f"{name}: image does not load {i['src']}" for i in images if not i["ok"]]
            problems += [f"{name}: image without alt text {i['src']}" for i in images
                         if not i["alt"] or i["alt"].endswith(".png")]
            for href in page.evaluate("() => [...document.querySelectorAll('a[href]')]"
                                      ".map(a => a.getAttribute('href'))"):
                target = urlparse(urljoin(server + name, href))
                if target.scheme in ("http", "https") and (server.startswith(f"{target.scheme}://{target.netloc}/")):
                    path = site / unquote(target.path).lstrip("/")
                    if path.is_dir():
                        path = path / "index.html"
                    if not path.exists():
                        problems.append(f"{name}: broken link {href}")
            # every typeset formula, read back as its TeX source
            for tex in page.evaluate("() => window.MathJax && MathJax.startup && MathJax.startup.document"
                                     " ? Array.from(MathJax.startup.document.math).map(m => m.math)"
                                     " : []"):
                if lint.not_maths(tex):
                    problems.append(f"{name}: money or prose typeset as maths: {tex[:60]!r}")
            if name.startswith("lessons/"):
                problems += _check_lesson_page(page, name)
        browser.close()
    assert not problems, "\n".join(problems[:40])


def _check_lesson_page(page, name):
    problems = []
    source = (ROOT / "lessons" / Path(name).with_suffix(".ipynb").name).read_text(encoding="utf-8")
    if "Going deeper" in source:
        marked = page.evaluate("""() => [...document.querySelectorAll('section[id^="going-deeper"]')]
            .map(s => getComputedStyle(s).borderLeftWidth)""")
        if not marked or any(width in ("0px", "") for width in marked):
            problems.append(f"{name}: 'Going deeper' sections are not visibly marked")
    for label, selector in (("launch on Binder", 'a[href*="mybinder.org"]'),
                            ("download the notebook", 'a[href$=".ipynb"], button[onclick*=".ipynb"]')):
        if not page.evaluate(f"() => document.querySelectorAll('{selector}').length"):
            problems.append(f"{name}: no '{label}' link")
    return problems
