"""Patterns of answers a learner may leave in a notebook, built from a solution with
``inferlab.authoring`` (which blanks a solution block to ``name = ...``), and a runner that
executes a notebook and returns its error outputs.

Used by test_run_patterns_core.py and test_run_patterns_wrong.py (issue 13 §2: Run All
survives any pattern of answers; issue 15: the core runs alone).
"""
from __future__ import annotations

import ast
import copy
import json
import os
import re
from pathlib import Path

from inferlab import authoring, reading_time

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
#: wrong answers of three kinds, used in turn: a wrong number, a string, None
WRONG_VALUES = ("12345", "'twelve'", "None")
_BLANK_LINE = re.compile(r"^([ \t]*)([A-Za-z_]\w*) = \.\.\.$", re.M)


def _source(cell) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _exercise_cells(notebook) -> list:
    """Indices of the code cells holding a solution block, in order."""
    return [i for i, c in enumerate(notebook["cells"])
            if c["cell_type"] == "code" and authoring.BEGIN in _source(c)]


def _blanked(cell) -> dict:
    return authoring.lesson_from_solution({"cells": [copy.deepcopy(cell)]})["cells"][0]


def partly_answered(cell) -> dict:
    """The exercise half done, as learners leave it: the first name the solution assigns is
    left as ``name = ...`` and the rest of the solution is written out. An exercise whose
    solution assigns one name is left blank."""
    text = _source(cell)
    block = re.search(rf"^{re.escape(authoring.BEGIN)}[^\n]*\n(.*?)^{re.escape(authoring.END)}", text,
                      re.S | re.M)
    try:
        tree = ast.parse(block.group(1)) if block else None
    except SyntaxError:
        tree = None
    assigns = [n for n in (tree.body if tree else []) if isinstance(n, (ast.Assign, ast.AnnAssign))]
    names = {t.id for n in assigns for t in ast.walk(n) if isinstance(t, ast.Name)
             and isinstance(t.ctx, ast.Store)}
    if len(names) < 2:
        return _blanked(cell)
    first = assigns[0]
    lines = block.group(1).splitlines(keepends=True)
    targets = [t.id for t in ast.walk(first) if isinstance(t, ast.Name) and isinstance(t.ctx, ast.Store)]
    lines[first.lineno - 1:first.end_lineno] = [f"{name} = ...\n" for name in targets]
    cell = copy.deepcopy(cell)
    cell["source"] = text[:block.start(1)] + "".join(lines) + text[block.end(1):]
    return cell


def alternate(solution: dict, first_answered: bool = True) -> dict:
    """Every other exercise answered (the first one when ``first_answered``), the others
    partly answered (see ``partly_answered``; blank when they ask for one name)."""
    notebook = copy.deepcopy(solution)
    for k, index in enumerate(_exercise_cells(notebook)):
        if (k % 2 == 0) != first_answered:
            notebook["cells"][index] = partly_answered(notebook["cells"][index])
    return notebook


def wrong(solution: dict) -> dict:
    """Every exercise answered wrongly: each name a solution block assigns gets, in turn, a
    wrong number, a string or None."""
    notebook = authoring.lesson_from_solution(solution)
    counter = iter(range(10 ** 6))

    def wrong_value(match):
        return f"{match.group(1)}{match.group(2)} = {WRONG_VALUES[next(counter) % len(WRONG_VALUES)]}"

    for index in _exercise_cells(solution):
        cell = notebook["cells"][index]
        cell["source"] = _BLANK_LINE.sub(wrong_value, _source(cell))
    return notebook


def core(notebook: dict) -> dict:
    """The notebook without its ``deeper`` cells."""
    return reading_time.core_notebook(notebook)


def errors(notebook: dict, cwd: Path, strict: bool) -> list:
    """Run ``notebook`` top to bottom in a fresh kernel (in folder ``cwd``, with
    INFERLAB_STRICT on or off) and return each error output as ``cell N: Name: value``,
    plus any traceback printed to stderr. Execution goes on after an error, so every
    broken cell is listed."""
    import nbformat
    from nbclient import NotebookClient
    notebook = {"metadata": {}, "nbformat": 4, "nbformat_minor": 5, **notebook}
    node = nbformat.reads(json.dumps(notebook), as_version=4)  # sources as lists or strings
    saved = os.environ.get("INFERLAB_STRICT")
    os.environ["INFERLAB_STRICT"] = "1" if strict else "0"
    try:
        NotebookClient(node, timeout=180, kernel_name="python3", allow_errors=True,
                       resources={"metadata": {"path": str(cwd)}}).execute()
    finally:
        if saved is None:
            os.environ.pop("INFERLAB_STRICT", None)
        else:
            os.environ["INFERLAB_STRICT"] = saved
    found = []
    for index, cell in enumerate(node.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                found.append(f"cell {index}: {output.get('ename')}: {str(output.get('evalue'))[:200]}")
            elif output.get("name") == "stderr" and "Traceback" in output.get("text", ""):
                found.append(f"cell {index}: traceback on stderr: {output['text'][-200:]}")
    return found


def load(path: Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))
