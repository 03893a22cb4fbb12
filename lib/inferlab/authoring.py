"""Authoring tools: generate the learner notebooks from the solutions, and build a
notebook from a plain script.

``solutions/`` is the source of truth. ``python -m inferlab.authoring lessons`` writes
``lessons/`` from it: in code cells, what stands between ``### BEGIN SOLUTION`` and
``### END SOLUTION`` becomes ``name = ...`` for each name the solution assigns (so the
lesson still runs, and its checks say "not answered yet"); in markdown cells it becomes
an invitation to write. ``python -m inferlab.authoring script FILE.py OUT.ipynb`` turns a
``# %%``-separated script into a notebook stored without outputs.
"""
from __future__ import annotations

import ast
import hashlib
import json
import re
import sys
from pathlib import Path

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
ANSWER_PROMPT = "# YOUR ANSWER HERE: replace each ... below"
WRITE_PROMPT = "*Write your answer here.*"


def _source(cell) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _assigned_names(code: str) -> list:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    names = []
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else (
            [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else [])
        for target in targets:
            for leaf in ast.walk(target):
                if isinstance(leaf, ast.Name) and leaf.id not in names:
                    names.append(leaf.id)
    return names


def _blank(text: str, markdown: bool) -> str:
    pattern = re.compile(rf"^([ \t]*){re.escape(BEGIN)}[^\n]*\n(.*?)^[ \t]*{re.escape(END)}[^\n]*(\n|$)",
                         re.S | re.M)

    def replace(match):
        indent, body, tail = match.group(1), match.group(2), match.group(3)
        if markdown:
            return f"{WRITE_PROMPT}{tail}"
        lines = [indent + ANSWER_PROMPT] + [f"{indent}{name} = ..." for name in
                                            _assigned_names(_dedent(body, indent))]
        return "\n".join(lines) + tail

    return pattern.sub(replace, text)


def _dedent(body: str, indent: str) -> str:
    return "\n".join(line[len(indent):] if line.startswith(indent) else line
                     for line in body.splitlines())


def has_solution(notebook: dict) -> bool:
    return any(BEGIN in _source(c) for c in notebook["cells"])


def lesson_from_solution(notebook: dict) -> dict:
    """The learner notebook: solutions blanked, outputs cleared."""
    lesson = json.loads(json.dumps(notebook))
    for cell in lesson["cells"]:
        text = _source(cell)
        if BEGIN in text:
            cell["source"] = _blank(text, cell["cell_type"] == "markdown")
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    return lesson


def dumps(notebook: dict) -> str:
    """The one canonical way notebooks are written (stable diffs)."""
    for cell in notebook["cells"]:
        text = _source(cell)
        cell["source"] = text.splitlines(keepends=True)
    return json.dumps(notebook, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def generate_lessons(root: Path = Path("."), write: bool = True) -> list:
    """Regenerate ``lessons/`` from ``solutions/``; returns the lessons that were (or would be)
    changed. With ``write=False`` nothing is written (the staleness test uses this)."""
    root = Path(root)
    changed = []
    for solution in sorted((root / "solutions").glob("*.ipynb")):
        expected = dumps(lesson_from_solution(json.loads(solution.read_text(encoding="utf-8"))))
        target = root / "lessons" / solution.name
        if not target.exists() or target.read_text(encoding="utf-8") != expected:
            changed.append(target)
            if write:
                target.parent.mkdir(exist_ok=True)
                target.write_text(expected, encoding="utf-8")
    return changed


def notebook_from_script(text: str, name: str) -> dict:
    """Cells from a script whose cells start with ``# %%`` (code) or ``# %% [markdown]``;
    ``# %% tags=["a", "b"]`` adds cell tags. Markdown lines lose their leading ``# ``."""
    cells = []
    header = re.compile(r"^# %%(?P<md> \[markdown\])?(?:\s+tags=(?P<tags>\[.*\]))?\s*$")
    current = None
    for line in text.splitlines():
        match = header.match(line)
        if match:
            current = {"markdown": bool(match.group("md")),
                       "tags": json.loads(match.group("tags")) if match.group("tags") else [],
                       "lines": []}
            cells.append(current)
        elif current is not None:
            if current["markdown"]:
                line = line[2:] if line.startswith("# ") else line[1:] if line.startswith("#") else line
            current["lines"].append(line)
    notebook_cells = []
    for index, cell in enumerate(cells):
        source = "\n".join(cell["lines"]).strip("\n")
        cell_id = hashlib.sha1(f"{name}:{index}".encode()).hexdigest()[:12]
        metadata = {"tags": cell["tags"]} if cell["tags"] else {}
        if cell["markdown"]:
            notebook_cells.append({"cell_type": "markdown", "id": cell_id, "metadata": metadata,
                                   "source": source})
        else:
            notebook_cells.append({"cell_type": "code", "id": cell_id, "metadata": metadata,
                                   "source": source, "outputs": [], "execution_count": None})
    return {
        "cells": notebook_cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python",
                           "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["lessons"]:
        changed = generate_lessons(Path(argv[1]) if len(argv) > 1 else Path("."))
        print(f"regenerated {len(changed)} lesson(s)" + "".join(f"\n  {p}" for p in changed))
        return 0
    if argv[:1] == ["script"] and len(argv) == 3:
        source, target = Path(argv[1]), Path(argv[2])
        notebook = notebook_from_script(source.read_text(encoding="utf-8"), target.stem)
        target.write_text(dumps(notebook), encoding="utf-8")
        print(f"wrote {target} ({len(notebook['cells'])} cells)")
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
