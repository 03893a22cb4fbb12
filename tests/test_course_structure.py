"""The course's shape (issue 15): core and "Going deeper" sections, honest times, the budget,
and every lesson's one idea taught in its core.

Each lesson's optional material sits under a heading that starts "Going deeper" (level 2 or
3), and every cell from that heading to the next heading of the same or a higher level
carries the nbformat tag ``deeper`` (and no other cell does). The first cell states
``core: N min, everything: M min``, each within 20 % of ``inferlab.reading_time``. The
core runs alone: see test_run_patterns_core.py. The key terms of each lesson's one idea
(``course.KEY_TERMS``, which also cover the seed claims in ``course.CLAIMS``) appear in its
core Markdown.
"""
import json
import re
from pathlib import Path

import pytest

from inferlab import course, reading_time

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
LESSONS = sorted((ROOT / "lessons").glob("*.ipynb"))
CORE_BUDGET, EVERYTHING_BUDGET = 120, 360  # minutes, the whole course (issue 15)
TOLERANCE = 0.20

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$", re.M)
_DEEPER = re.compile(r"going deeper", re.I)


def _cells(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))["cells"]


def _text(cell):
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def in_deeper_section(cells) -> list:
    """For each cell, whether it lies in a "Going deeper" section: from a Markdown heading
    that starts "Going deeper" to the next heading of the same or a higher level."""
    inside, level = [], None  # level of the open Going-deeper heading, None when outside
    for cell in cells:
        headings = _HEADING.findall(_text(cell)) if cell.get("cell_type") == "markdown" else []
        starts_here = False
        for hashes, title in headings:
            if level is not None and len(hashes) <= level:
                level = None  # this heading closes the section
            if level is None and _DEEPER.match(title):
                level, starts_here = len(hashes), True
        # a cell whose first heading closes the section and opens none is outside it
        inside.append(level is not None or starts_here)
    return inside


def deeper_problems(cells) -> list:
    """Cells tagged but outside a Going-deeper section, or inside one but untagged; and
    Going-deeper headings at a level other than 2 or 3."""
    problems = []
    for index, (cell, inside) in enumerate(zip(cells, in_deeper_section(cells))):
        tagged = reading_time.is_deeper(cell)
        first = _text(cell).strip().splitlines()[:1]
        if tagged and not inside:
            problems.append(f"cell {index} is tagged deeper outside a 'Going deeper' section: {first}")
        if inside and not tagged:
            problems.append(f"cell {index} lies in a 'Going deeper' section but lacks the tag: {first}")
        if cell.get("cell_type") == "markdown":
            for hashes, title in _HEADING.findall(_text(cell)):
                if _DEEPER.match(title) and len(hashes) not in (2, 3):
                    problems.append(f"cell {index}: '{hashes} {title}' should be a ## or ### heading")
    return problems


# --- the checks on hand-made notebooks (so that each check can fail) ---------------------------
def _md(text, deeper=False):
    return {"cell_type": "markdown", "metadata": {"tags": ["deeper"]} if deeper else {}, "source": text}


def _code(text, deeper=False):
    return {"cell_type": "code", "metadata": {"tags": ["deeper"]} if deeper else {}, "source": text,
            "outputs": [], "execution_count": None}


def test_section_rule_on_a_hand_made_notebook():
    good = [_md("# 01 · Title"), _md("## Core"), _code("x = 1"),
            _md("## Going deeper: caveats", True), _code("y = 2", True),
            _md("### a subsection", True), _md("text", True),
            _md("## Key points"), _md("### Going deeper: one more", True), _code("z", True),
            _md("## Further reading")]
    assert deeper_problems(good) == []
    untagged = [dict(c) for c in good]
    untagged[4] = _code("y = 2")
    assert any("lacks the tag" in p for p in deeper_problems(untagged))
    stray = good[:2] + [_code("x = 1", True)] + good[3:]
    assert any("outside" in p for p in deeper_problems(stray))
    runaway = good[:8] + [_md("## Key points", True)] + good[9:]
    assert any("outside" in p for p in deeper_problems(runaway))
    assert deeper_problems([_md("#### Going deeper: too small", True)])


def test_time_rule_on_a_hand_made_notebook():
    words = " ".join(["word"] * 1200)  # 10 min of prose at 120 words/min
    notebook = {"cells": [_md("# 01 · Title\n\n**Time:** core: 10 min, everything: 23 min"),
                          _md(words[:-5]), _code("check('01.a', x)", True),  # 3 min
                          _md(words, True)]}
    core = reading_time.minutes(notebook, core_only=True)
    assert core == pytest.approx(10.1, abs=0.1)
    assert _time_problems(notebook) == []
    notebook["cells"][0] = _md("# 01 · Title\n\n**Time:** core: 5 min, everything: 23 min")
    assert _time_problems(notebook)
    notebook["cells"][0] = _md("# 01 · Title\n\nTime: about 20 minutes")
    assert _time_problems(notebook)


def test_key_terms_rule_on_a_hand_made_notebook():
    cells = [_md("# 02 · The roofline"), _md("The ridge point and the roofline.", True)]
    assert _missing_key_terms(cells, ("ridge",)) == ["ridge"]
    cells[1] = _md("The ridge point and the roofline.")
    assert _missing_key_terms(cells, ("ridge",)) == []


# --- the course ----------------------------------------------------------------------------------
def _time_problems(notebook) -> list:
    stated = reading_time.stated_minutes(notebook)
    if stated is None:
        return ["the first cell does not state '**Time:** core: N min, everything: M min'"]
    problems = []
    for label, said, core_only in (("core", stated[0], True), ("everything", stated[1], False)):
        model = reading_time.minutes(notebook, core_only=core_only)
        if abs(said - model) > TOLERANCE * model:
            problems.append(f"{label}: says {said} min, the reading model gives {model:.0f} min")
    return problems


@pytest.mark.parametrize("path", SOLUTIONS + LESSONS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_deeper_cells_are_the_going_deeper_sections(path):
    problems = deeper_problems(_cells(path))
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_header_states_core_and_everything_by_the_reading_model(path):
    notebook = json.loads(path.read_text(encoding="utf-8"))
    problems = _time_problems(notebook)
    assert not problems, f"{path.name}: " + "; ".join(problems)


def test_the_course_fits_its_budget():
    core = sum(reading_time.minutes(p, core_only=True) for p in SOLUTIONS)
    everything = sum(reading_time.minutes(p) for p in SOLUTIONS)
    assert len(SOLUTIONS) == 12
    assert core <= CORE_BUDGET, f"the twelve cores take {core:.0f} min (budget {CORE_BUDGET})"
    assert everything <= EVERYTHING_BUDGET, \
        f"the whole course takes {everything:.0f} min (budget {EVERYTHING_BUDGET})"


def _missing_key_terms(cells, terms) -> list:
    core = "\n".join(_text(c) for c in cells
                     if c.get("cell_type") == "markdown" and not reading_time.is_deeper(c))
    return [term for term in terms if not re.search(term, core, re.I)]


def test_every_lesson_has_key_terms_for_its_one_idea():
    numbers = {number for number, *_ in course.LESSONS}
    assert set(course.KEY_TERMS) == numbers
    claimed = {number for _, number in course.CLAIMS}
    assert claimed <= numbers


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_the_one_idea_is_taught_in_the_core(path):
    terms = course.KEY_TERMS[path.name[:2]]
    missing = _missing_key_terms(_cells(path), terms)
    assert not missing, f"{path.name}: the core Markdown never says {missing} (the lesson's one " \
                        f"idea must not sit only in 'Going deeper' sections)"
