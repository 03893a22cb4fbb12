"""The course's reading model: how long a lesson takes, core alone and everything.

One model for every lesson, calibrated on two learners who worked the whole course
(about 9.5 hours for a course this model put at 9.3 hours before the core/deeper split):

- prose (Markdown cells): 120 words per minute, technical text with equations;
- an exercise (a code cell that calls ``check(``): 3 minutes;
- an explorer (a code cell that calls ``.widget()``): 2 minutes;
- any other code cell (run it, read its output or figure): 0.5 minutes.

A cell tagged ``deeper`` (nbformat cell metadata ``tags``) belongs to a "Going deeper"
section: it counts towards "everything" but not towards the core. Each lesson's header
states both, as ``core: N min, everything: M min``.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from .authoring import _source

WORDS_PER_MINUTE = 120
EXERCISE_MINUTES = 3.0
EXPLORER_MINUTES = 2.0
CODE_CELL_MINUTES = 0.5
DEEPER_TAG = "deeper"

_HEADER = re.compile(r"core:\s*(\d+)\s*min,\s*everything:\s*(\d+)\s*min", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z0-9]+")
_CHECK = re.compile(r"(?<!\w)check\(")


def is_deeper(cell) -> bool:
    """True when the cell carries the ``deeper`` tag."""
    return DEEPER_TAG in cell.get("metadata", {}).get("tags", [])


def cell_minutes(cell) -> float:
    """Minutes one cell takes a learner under the reading model."""
    text = _source(cell)
    if cell.get("cell_type") == "markdown":
        return len(_WORD.findall(text)) / WORDS_PER_MINUTE
    if cell.get("cell_type") != "code" or not text.strip():
        return 0.0
    if _CHECK.search(text):
        return EXERCISE_MINUTES
    if ".widget()" in text:
        return EXPLORER_MINUTES
    return CODE_CELL_MINUTES


def _notebook(notebook) -> dict:
    if isinstance(notebook, (str, Path)):
        return json.loads(Path(notebook).read_text(encoding="utf-8"))
    return notebook


def minutes(notebook, *, core_only: bool = False) -> float:
    """Minutes a notebook (a dict or a path) takes: the core alone, or everything."""
    cells = _notebook(notebook)["cells"]
    return sum(cell_minutes(c) for c in cells if not (core_only and is_deeper(c)))


def core_notebook(notebook) -> dict:
    """The same notebook with every ``deeper`` cell removed."""
    notebook = dict(_notebook(notebook))
    notebook["cells"] = [c for c in notebook["cells"] if not is_deeper(c)]
    return notebook


def stated_minutes(notebook):
    """``(core, everything)`` minutes as the lesson's first cell states them, or None."""
    cells = _notebook(notebook)["cells"]
    match = _HEADER.search(_source(cells[0])) if cells else None
    return (int(match.group(1)), int(match.group(2))) if match else None
