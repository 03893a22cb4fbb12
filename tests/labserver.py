"""Run JupyterLab for the browser tests and drive notebooks in Debian's Chromium.

The server runs on 127.0.0.1 with a token, a free port and isolated config, data, runtime
and settings folders, on a *copy* of the notebooks (JupyterLab autosaves, and the tests must
not touch tracked files). It is stopped by its own process id.
"""
from __future__ import annotations

import json
import re
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("INFERLAB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
REQUIRE_ENV = "INFERLAB_REQUIRE_BROWSER"


def browser_missing() -> str | None:
    """Why the browser tests cannot run here (None when they can)."""
    if not Path(CHROMIUM).exists():
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[test]')"
    return None


def wait_until_up(base: str, token: str, server, log_path: Path, timeout: float = 90) -> None:
    """Wait until the Jupyter server at ``base`` answers; RuntimeError with the end of its log
    if the process ends or ``timeout`` seconds pass first."""
    deadline = time.time() + timeout
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2).read()
            return
        except OSError:
            if server.poll() is not None or time.time() > deadline:
                raise RuntimeError("JupyterLab did not start:\n" + Path(log_path).read_text()[-3000:])
            time.sleep(0.5)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def jupyterlab(python: str = sys.executable, notebooks=("lessons", "solutions"), source: Path = ROOT):
    """Start JupyterLab from ``python``'s environment on a copy of the notebooks (the folders
    ``notebooks`` of ``source``).

    Yields (base_url, token, root folder of the copy)."""
    work = Path(tempfile.mkdtemp(prefix="inferlab-lab-"))
    root = work / "course"
    for folder in notebooks:
        shutil.copytree(Path(source) / folder, root / folder)
    settings = work / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    # Render every cell (no windowing) so the whole notebook is in the page.
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    apputils = work / "settings" / "@jupyterlab" / "apputils-extension"
    apputils.mkdir(parents=True)
    (apputils / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(work / "config"),
               JUPYTER_RUNTIME_DIR=str(work / "runtime"), IPYTHONDIR=str(work / "ipython"),
               JUPYTERLAB_SETTINGS_DIR=str(work / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(work / "workspaces"), MPLBACKEND="Agg")
    env.pop("JUPYTER_DATA_DIR", None)
    token, port = secrets.token_hex(16), _free_port()
    log = open(work / "jupyterlab.log", "w")
    server = subprocess.Popen(
        [python, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         "--LabApp.expose_app_in_browser=True", "--ServerApp.disable_check_xsrf=False",
         "--LabServerApp.open_browser=False", "--allow-root"],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, token, server, work / "jupyterlab.log")
        yield base, token, root
    finally:
        try:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(server.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        log.close()
        shutil.rmtree(work, ignore_errors=True)


@contextmanager
def chromium():
    """A Playwright browser on Debian's Chromium (never `playwright install`)."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


RUN_ALL = """async () => {
  const app = window.jupyterapp;
  const panel = app.shell.currentWidget;
  await panel.sessionContext.ready;
  await app.commands.execute('notebook:run-all-cells');
}"""

STATE = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  if (!panel || !panel.content || !panel.sessionContext.session) return null;
  const kernel = panel.sessionContext.session.kernel;
  const cells = panel.content.widgets;
  let pending = 0, errors = [], executed = 0, code = 0;
  for (const cell of cells) {
    if (cell.model.type !== 'code') continue;
    code += 1;
    const count = cell.model.executionCount;
    if (count) executed += 1;
    if (cell.promptNode && cell.promptNode.textContent.includes('*')) pending += 1;
    const outputs = cell.model.outputs.toJSON();
    for (const o of outputs) {
      if (o.output_type === 'error') errors.push(o.ename + ': ' + o.evalue);
    }
  }
  return {status: kernel ? kernel.status : 'none', pending, errors, executed, code};
}"""


# MathJax 3 keeps no TeX in the page. Before the notebook opens, wrap the render of
# JupyterLab's MathJax document so that each typeset element records its TeX source (and
# the character after it) in data attributes, for TYPESET_MATHS to read back.
# These are JupyterLab 4.6's internals: where they differ (another JupyterLab, as Binder's
# may be), nothing is recorded and TYPESET_MATHS falls back to the assistive MathML's text.
RECORD_TEX = """async () => {
  const app = window.jupyterapp;
  await app.started;
  const registry = app.pluginRegistry;
  const plugin = registry && registry._plugins && registry._plugins.get('@jupyterlab/mathjax-extension:plugin');
  const typesetter = plugin && plugin.service;
  if (!typesetter || !typesetter._ensureInitialized) return false;
  await typesetter._ensureInitialized();
  const doc = typesetter._mathDocument;
  if (!doc || !doc.render) return false;
  if (doc.__inferlabRecording) return true;
  const render = doc.render.bind(doc);
  doc.render = function () {
    const result = render();
    for (const item of doc.math) {
      const root = item.typesetRoot;
      if (!root || !root.setAttribute) continue;
      root.setAttribute('data-tex', item.math);
      const next = root.nextSibling;
      root.setAttribute('data-after', next && next.textContent ? next.textContent.slice(0, 1) : '');
    }
    return result;
  };
  doc.__inferlabRecording = true;
  return true;
}"""

TYPESET_MATHS = """() => Array.from(document.querySelectorAll('.jp-Notebook mjx-container')).map((m) => {
  const cell = m.closest('.jp-Cell');
  const cells = Array.from(document.querySelectorAll('.jp-Notebook .jp-Cell'));
  const mml = m.querySelector('mjx-assistive-mml');
  let run = 0, letters = 0;  // the longest run of one-letter identifiers: words set as maths
  for (const node of mml ? mml.querySelectorAll('*') : []) {
    if (node.children.length) continue;
    run = (node.tagName.toLowerCase() === 'mi' && /^[A-Za-z]$/.test(node.textContent)) ? run + 1 : 0;
    letters = Math.max(letters, run);
  }
  const next = m.nextSibling;
  return {tex: m.getAttribute('data-tex'),
          after: m.getAttribute('data-after') || (next && next.textContent ? next.textContent.slice(0, 1) : ''),
          text: mml ? mml.textContent : m.textContent, letters, cell: cells.indexOf(cell),
          output: !!m.closest('.jp-Cell-outputArea')};
})"""


def open_and_run(page, base: str, token: str, path: str, timeout: float = 120.0) -> dict:
    """Open notebook ``path`` (relative to the server root), run all cells, wait until the
    kernel is idle and every code cell has run. Returns the final state. Maths typeset in
    the page carries its TeX source (see RECORD_TEX)."""
    page.goto(f"{base}/lab?token={token}&reset")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.started", timeout=60_000)
    page.evaluate(RECORD_TEX)
    page.evaluate("(path) => window.jupyterapp.commands.execute('docmanager:open', "
                  "{path, factory: 'Notebook'})", path)
    page.wait_for_function(
        "() => window.jupyterapp && window.jupyterapp.shell.currentWidget && "
        "window.jupyterapp.shell.currentWidget.content && "
        "window.jupyterapp.shell.currentWidget.content.widgets.length > 0", timeout=60_000)
    page.evaluate(RUN_ALL)
    deadline = time.time() + timeout
    state = None
    while time.time() < deadline:
        state = page.evaluate(STATE)
        if state and state["errors"]:
            return state
        if state and state["status"] == "idle" and state["pending"] == 0 and \
                state["executed"] == state["code"]:
            page.wait_for_timeout(300)  # let the last outputs (widgets, images) render
            return page.evaluate(STATE)
        page.wait_for_timeout(250)
    raise TimeoutError(f"{path} did not finish in {timeout} s: {state}")


CHECK_CALL = re.compile(r"(?<!\w)check\(")  # il.check(...) or check(...), not decode_check(


def _source(cell):
    return "".join(cell["source"])


# The static figure is an image output either earlier in the explorer's own cell (static()
# and widget() in one cell) or in the code cell before it.
EXPLORERS = """() => Array.from(document.querySelectorAll('.inferlab-explorer')).map((el) => {
  let cell = el.closest('.jp-Cell'), previous = cell && cell.previousElementSibling, staticFigure = false;
  if (cell) staticFigure = Array.from(cell.querySelectorAll('.jp-OutputArea-output img')).some(
    (img) => !el.contains(img) && (img.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING));
  while (previous && !previous.classList.contains('jp-CodeCell')) previous = previous.previousElementSibling;
  if (previous && !staticFigure) staticFigure = previous.querySelectorAll('.jp-OutputArea-output img').length > 0;
  return {staticFigure};
})"""

SNAPSHOT = """(index) => {
  const el = document.querySelectorAll('.inferlab-explorer')[index];
  const summary = el.querySelector('.inferlab-summary');
  const image = el.querySelector('.inferlab-figure');
  return {text: summary ? summary.innerText : null, image: image ? image.getAttribute('src') : null};
}"""


def _move_first_control(page, index: int) -> str:
    """Change one control of explorer ``index`` as a learner would; returns what was done."""
    explorer = page.locator(".inferlab-explorer").nth(index)
    select = explorer.locator("select")
    if select.count():
        options = select.first.locator("option").all_inner_texts()
        current = select.first.input_value()
        target = next(o for o in options if o != current)
        select.first.select_option(label=target)
        return f"select {target}"
    buttons = explorer.locator(".widget-toggle-button:not(.mod-active)")
    if buttons.count():
        buttons.first.scroll_into_view_if_needed()
        buttons.first.click()
        return "toggle button"
    handle = explorer.locator(".noUi-handle, .slider-handle, input[type=range]").first
    handle.scroll_into_view_if_needed()
    handle.focus()
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    return "slider"


def maths_that_is_not_maths(page) -> list:
    """Each element JupyterLab typeset as maths whose TeX is money or prose (see
    ``inferlab.lint.not_maths``: a %, two ordinary words, a price), as ``cell N: $tex$``."""
    from inferlab.lint import not_maths
    found = []
    for maths in page.evaluate(TYPESET_MATHS):
        recorded = maths["tex"] is not None  # else RECORD_TEX could not reach MathJax
        tex = maths["tex"] if recorded else maths["text"]
        if not_maths(tex, maths["after"]) or (not recorded and maths["letters"] >= 6):
            where = "output of cell" if maths["output"] else "cell"
            found.append(f"{where} {maths['cell']}: ${tex.strip()[:60]}$")
    return found


def check_notebook(browser, lab, path: str, screenshots: Path | None = None) -> None:
    """Run notebook ``path`` in the page and assert what a learner should see (see
    test_browser's docstring). ``lab`` is what ``jupyterlab()`` yields."""
    base, token, root = lab
    notebook = json.loads((Path(root) / path).read_text())
    widget_cells = sum(".widget()" in _source(c) for c in notebook["cells"] if c["cell_type"] == "code")
    check_cells = sum(bool(CHECK_CALL.search(_source(c))) for c in notebook["cells"]
                      if c["cell_type"] == "code")

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page_errors = []
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    try:
        state = open_and_run(page, base, token, path)
        assert not state["errors"], f"error outputs in {path}: {state['errors']}"
        text = page.locator(".jp-NotebookPanel").inner_text()
        assert "Error displaying widget" not in text
        assert "Traceback" not in text

        money = maths_that_is_not_maths(page)
        assert not money, f"{path}: typeset as maths (money or prose; write a money dollar as " \
                          f"\\\\$ in Markdown): {money}"

        explorers = page.evaluate(EXPLORERS)
        assert len(explorers) == widget_cells, \
            f"{widget_cells} explorer cells but {len(explorers)} live explorers rendered"
        for index, explorer in enumerate(explorers):
            assert explorer["staticFigure"], f"explorer {index} has no static figure before it"
            before = page.evaluate(SNAPSHOT, index)
            assert before["text"] and before["image"], f"explorer {index} shows no text or figure"
            action = _move_first_control(page, index)
            page.wait_for_function(
                "([index, before]) => { const el = document.querySelectorAll('.inferlab-explorer')[index];"
                " return el.querySelector('.inferlab-summary').innerText !== before.text &&"
                " el.querySelector('.inferlab-figure').getAttribute('src') !== before.image; }",
                arg=[index, before], timeout=15_000)
            assert action

        feedback = page.locator(".inferlab-feedback")
        assert feedback.count() == check_cells
        expected = "inferlab-correct" if path.startswith("solutions") else "inferlab-unanswered"
        statuses = [feedback.nth(i).get_attribute("class") for i in range(feedback.count())]
        assert all(expected in s for s in statuses), f"{path}: feedback {statuses}"
        assert not page_errors, f"page errors: {page_errors}"
    finally:
        if screenshots is not None:
            _screenshot(page, path, screenshots)
        page.close()


def _screenshot(page, path: str, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    try:
        height = page.evaluate(
            "() => { const n = document.querySelector('.jp-NotebookPanel .jp-WindowedPanel-outer');"
            " if (!n) return 900; n.scrollTop = 0; return n.scrollHeight; }")
        page.set_viewport_size({"width": 1280, "height": min(int(height) + 250, 16000)})
        page.wait_for_timeout(500)
        page.evaluate("() => { const n = document.querySelector('.jp-NotebookPanel .jp-WindowedPanel-outer');"
                      " if (n) n.scrollTop = 0; }")
        page.screenshot(path=str(folder / path.replace("/", "_").replace(".ipynb", ".png")))
    except Exception:  # a screenshot is an artifact, never the reason a test fails
        pass
