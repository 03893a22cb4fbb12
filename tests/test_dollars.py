"""Dollars that mean money are never typeset as maths (issue 13 §1).

JupyterLab typesets the text between two dollars, in Markdown cells and in HTML outputs.
``inferlab.lint`` decides which dollars of a Markdown cell JupyterLab pairs into maths and
whether the span is maths or money/prose; ``inferlab.display.no_maths`` escapes the HTML the
library emits. The browser test (test_browser.py) checks what JupyterLab actually typesets.
"""
import csv
import json
from pathlib import Path

import pytest

from inferlab import lint
from inferlab.display import Table, no_maths

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "solutions").glob("*.ipynb")) + sorted((ROOT / "lessons").glob("*.ipynb"))
DATA = ROOT / "lib" / "inferlab" / "data"


# --- the lint on hand-made Markdown: what JupyterLab 4.6 showed in Chromium ---------------
@pytest.mark.parametrize("text", [
    "A $2.40 marketplace offer to $12.29 on-demand.",          # prose between two prices
    "at $4.29 per GPU-hour, 50% utilised, $1.10",               # a % comments out the rest
    "Prices: $0.30 / $1.10 per million.",                       # digit first, space last
    "$/M tokens at $0.1/kWh",                                   # a unit, not maths
    "from $3 to $15 per million",                               # prose words
    r"Escaped once: \$2.40 offer to \$12.29.",                   # jupyterlab#8645: still maths
    "One price alone: $5 per hour.",                            # unpaired: breaks the next maths
    "costs $3 →$15",                                            # digit first, digit after
])
def test_money_dollars_are_found(text):
    assert lint.problems(text), text


@pytest.mark.parametrize("text", [
    r"A $2.40 offer to $12.29.".replace("$", "\\\\$"),          # the way to write money
    "A decode step reads $W b$ bytes in $t(B)$ seconds.",
    r"$$ t \ge \max\!\left(\frac{B}{\mathrm{BW}}, \frac{F}{P}\right) $$ and $I = F / B$.",
    r"The ridge is $989\,\text{TFLOP/s} \div 3.35\,\text{TB/s} \approx 295$ FLOP per byte.",
    "Code is not maths: `echo $HOME $PATH` and\n```\nprice = $5 + $6\n```",
    r"Mixed: \\$500 on books, and $x = 10$.",
    "Scale: $2N$ FLOPs per token, $M/2$ at small $M$.",
])
def test_maths_and_escaped_money_pass(text):
    assert lint.problems(text) == [], text


def test_fix_writes_money_so_that_the_lint_passes_and_keeps_maths():
    text = (r"A $2.40 offer to $12.29, \$3 once, and $x^2$ stays maths; `$code$` stays."
            "\nAlone: $5 per hour.")
    fixed = lint.fix(text)
    assert lint.problems(fixed) == []
    assert "$x^2$" in fixed and "`$code$`" in fixed
    assert fixed.count("\\\\$") == 4
    assert lint.fix(fixed) == fixed


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_money_typeset_as_maths_in_markdown(path):
    found = lint.notebook_problems(path.relative_to(ROOT))
    assert not found, "fix with `python -m inferlab.lint --fix solutions/*.ipynb` and `make " \
                      "lessons`:\n" + "\n".join(found)


# --- HTML the library emits ---------------------------------------------------------------------
def test_no_maths_escapes_every_dollar_once():
    assert no_maths("at $4.29 per GPU-hour, 50% utilised, $1.10") == \
        r"at \$4.29 per GPU-hour, 50% utilised, \$1.10"
    assert no_maths(r"already \$5") == r"already \$5"


def test_static_explorer_summary_is_escaped(monkeypatch):
    from inferlab import widgets
    shown = []

    class FakeShell:
        pass

    import IPython
    import IPython.display
    monkeypatch.setattr(IPython, "get_ipython", lambda: FakeShell())
    monkeypatch.setattr(IPython.display, "display", lambda obj: shown.append(obj))
    widgets._display_html("cost $4.29 per GPU-hour, 50% used, $1.10 per M")
    assert shown and shown[0].data == r"cost \$4.29 per GPU-hour, 50% used, \$1.10 per M"


def _data_texts():
    """Every text field of the library's data files that holds a dollar."""
    texts = []
    for path in sorted(DATA.rglob("*")):
        if path.suffix == ".csv":
            with path.open(encoding="utf-8") as handle:
                texts += [(path.name, v) for row in csv.reader(handle) for v in row if "$" in v]
        elif path.suffix == ".json":
            def walk(node):
                if isinstance(node, str) and "$" in node:
                    texts.append((path.name, node))
                elif isinstance(node, dict):
                    for value in node.values():
                        walk(value)
                elif isinstance(node, list):
                    for value in node:
                        walk(value)
            walk(json.loads(path.read_text(encoding="utf-8")))
    return texts


def test_data_text_with_dollars_reaches_html_escaped():
    """Data notes quote prices ("$49.24/h for 8 GPUs"); shown in a Table, no dollar may be left
    for MathJax to pair."""
    texts = _data_texts()
    assert texts, "expected some data notes that quote prices"
    for name, text in texts:
        markup = Table([{"note": text}])._repr_html_()
        assert "$" not in markup.replace("\\$", ""), (name, text)
