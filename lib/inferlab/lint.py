"""Dollar signs in Markdown: which ones JupyterLab typesets as maths, and how to write money.

JupyterLab typesets the text between two dollars as TeX, in Markdown cells and in HTML
outputs. Prices then come out as italic maths ("$2.40 offer to $12.29" runs the words
together), and a ``%`` inside starts a TeX comment that swallows the rest of the line.

**How to write a money dollar in Markdown: ``\\\\$`` (two backslashes).** Checked in
JupyterLab 4.6 in Chromium: Markdown's own escape ``\\$`` does *not* work there, because the
Markdown renderer turns ``\\$`` into ``$`` before MathJax looks at the page (jupyterlab
issue #8645, open since 2020); ``\\\\$`` leaves ``\\$`` in the page, which MathJax shows as a
plain ``$``. HTML entities (``&#36;``) and a ``tex2jax_ignore`` class do not help either. In
HTML that the library emits, ``\\$`` is right (see ``inferlab.display.no_maths``).

``python -m inferlab.lint [--fix] NOTEBOOK...`` lists (or rewrites) the dollars that
JupyterLab would typeset as maths although they mean money or enclose prose.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

MONEY = "\\\\$"  # how a money dollar is written in Markdown (two backslashes, then $)

_CODE = re.compile(r"```.*?```|~~~.*?~~~|`[^`\n]*`", re.S)
_DISPLAY_MATHS = re.compile(r"\$\$.*?\$\$", re.S)
# a dollar counts as escaped only after two backslashes (see the module docstring)
_DELIMITER = re.compile(r"(?<!\\\\)\$")
_SINGLE_ESCAPE = re.compile(r"(?<!\\)\\\$")
_TEX_COMMAND = re.compile(r"\\[A-Za-z]+(\{[^}]*\})?")
_TWO_WORDS = re.compile(r"[A-Za-z]{3,}[\s,]+[A-Za-z]{3,}")


def _blank_out(text: str, pattern) -> str:
    """``text`` with each match of ``pattern`` replaced by spaces (positions kept)."""
    return pattern.sub(lambda m: " " * len(m.group(0)), text)


def _delimiters(text: str) -> list:
    """Positions of the dollars JupyterLab pairs into inline maths, outside code."""
    plain = _blank_out(_blank_out(text, _CODE), _DISPLAY_MATHS)
    return [m.start() for m in _DELIMITER.finditer(plain)]


def not_maths(tex: str, after: str = "") -> bool:
    """True when ``tex`` (the text between two dollars) is money or prose, not maths:
    it holds a ``%`` (a TeX comment), two ordinary words of three or more letters, a
    leading ``/`` ("$/M tokens"), or starts with a digit and ends with a space or runs into
    a digit (``after`` is the character after the closing dollar: "$2.40 to $12")."""
    core = _TEX_COMMAND.sub(" ", tex)
    return ("%" in tex or bool(_TWO_WORDS.search(core)) or tex.lstrip().startswith("/")
            or (tex[:1].isdigit() and (tex[-1:].isspace() or after[:1].isdigit())))


def typeset_spans(text: str) -> list:
    """``(start, end)`` of each inline-maths span JupyterLab finds in Markdown ``text``
    (positions of the opening and closing dollar)."""
    marks = _delimiters(text)
    return [(marks[i], marks[i + 1]) for i in range(0, len(marks) - 1, 2)]


def problems(text: str) -> list:
    """What is wrong with the dollars of one Markdown cell, in words (empty when nothing)."""
    found = []
    for start, end in typeset_spans(text):
        tex = text[start + 1:end]
        if not_maths(tex, text[end + 1:end + 2]):
            found.append(f"typeset as maths: ${tex.strip()[:60]}$ (write a money dollar as {MONEY})")
    marks = _delimiters(text)
    singles = _single_escapes(text)
    if len(marks) % 2 and marks[-1] - 1 not in singles:  # a \$ is reported below
        found.append(f"a dollar without a partner at '{text[marks[-1]:marks[-1] + 12]}' (write a money "
                     f"dollar as {MONEY}; maths needs two)")
    for start in singles:
        found.append(f"\\$ at '{text[start:start + 12]}' pairs with other dollars in JupyterLab "
                     f"(write {MONEY})")
    return found


def _single_escapes(text: str) -> list:
    """Positions of ``\\$`` written with one backslash, outside code."""
    return [m.start() for m in _SINGLE_ESCAPE.finditer(_blank_out(text, _CODE))]


def fix(text: str) -> str:
    """``text`` with money dollars written as ``\\\\$``: single-backslash escapes doubled,
    then the opening dollar of each span that is not maths escaped, then any dollar left
    without a partner (never maths) escaped."""
    for start in reversed(_single_escapes(text)):
        text = text[:start] + "\\" + text[start:]
    for _ in range(text.count("$")):
        bad = [s for s, e in typeset_spans(text) if not_maths(text[s + 1:e], text[e + 1:e + 2])]
        if not bad:
            break
        text = text[:bad[0]] + MONEY + text[bad[0] + 1:]
    marks = _delimiters(text)
    if len(marks) % 2:
        last = marks[-1]
        text = text[:last] + MONEY + text[last + 1:]
    return text


def _cell_text(cell) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def notebook_problems(path) -> list:
    """``"path cell N: problem"`` for every Markdown cell of the notebook at ``path``."""
    cells = json.loads(Path(path).read_text(encoding="utf-8"))["cells"]
    return [f"{path} cell {index}: {problem}" for index, cell in enumerate(cells)
            if cell.get("cell_type") == "markdown" for problem in problems(_cell_text(cell))]


def fix_notebook(path) -> int:
    """Rewrite the Markdown cells of the notebook at ``path`` with ``fix``; returns how many
    cells changed. Cell ids, tags and code cells are kept as they are."""
    from .authoring import dumps
    path = Path(path)
    notebook = json.loads(path.read_text(encoding="utf-8"))
    changed = 0
    for cell in notebook["cells"]:
        if cell.get("cell_type") == "markdown":
            text = _cell_text(cell)
            fixed = fix(text)
            if fixed != text:
                cell["source"], changed = fixed, changed + 1
    if changed:
        path.write_text(dumps(notebook), encoding="utf-8")
    return changed


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    rewrite = "--fix" in argv
    paths = [a for a in argv if a != "--fix"]
    if not paths:
        print(__doc__)
        return 2
    if rewrite:
        for path in paths:
            print(f"{path}: {fix_notebook(path)} cell(s) rewritten")
    found = [p for path in paths for p in notebook_problems(path)]
    print("\n".join(found) if found else "no dollar typeset as maths")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
