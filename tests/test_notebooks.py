"""The notebooks: lessons generated from solutions, stored clean, shaped like a lesson."""
import json
import re
from pathlib import Path

import pytest

from inferlab import authoring

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
LESSONS = sorted((ROOT / "lessons").glob("*.ipynb"))


def _cells(path):
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _text(cell):
    return "".join(cell["source"])


def test_there_are_notebooks():
    assert len(SOLUTIONS) >= 2


def test_every_solution_has_its_lesson_and_back():
    assert [p.name for p in SOLUTIONS] == [p.name for p in LESSONS]


def test_lessons_are_not_stale():
    stale = authoring.generate_lessons(ROOT, write=False)
    assert not stale, f"run `make lessons`: stale {[str(p.relative_to(ROOT)) for p in stale]}"


@pytest.mark.parametrize("path", SOLUTIONS + LESSONS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_stored_without_outputs(path):
    for cell in _cells(path):
        if cell["cell_type"] == "code":
            assert not cell["outputs"] and cell["execution_count"] is None


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_lesson_skeleton(path):
    cells = _cells(path)
    text = "\n".join(_text(c) for c in cells)
    assert cells[0]["cell_type"] == "markdown" and _text(cells[0]).startswith("# ")
    for heading in ("Learning goals", "Key points", "Further reading"):
        assert heading in text, f"{path.name} lacks '{heading}'"
    first_code = next(c for c in cells if c["cell_type"] == "code")
    assert _text(first_code).startswith("%matplotlib inline")


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_solutions_answer_every_exercise(path):
    lesson = authoring.lesson_from_solution(json.loads(path.read_text()))
    blanked = sum(authoring.ANSWER_PROMPT in _text(c) for c in lesson["cells"])
    checks = sum(bool(re.search(r"(?<!\w)check\(", _text(c))) for c in _cells(path))
    if path.name.startswith("00_"):
        return
    assert checks >= 4, f"{path.name} has {checks} checked exercises"
    assert blanked >= 4
    for cell in _cells(path):
        if authoring.BEGIN in _text(cell) and cell["cell_type"] == "code":
            assert "= ..." not in _text(cell), "a solution left unanswered"


def test_blanking_keeps_the_names_and_drops_the_answer():
    solution = {"cells": [{"cell_type": "code", "source": "x = 1\n### BEGIN SOLUTION\n"
                           "answer = 2 * x\nother, more = 1, 2\nprint(answer)\n### END SOLUTION\n"
                           "check('01.a', answer)", "outputs": [], "execution_count": None,
                           "metadata": {}}]}
    lesson = authoring.lesson_from_solution(solution)
    source = lesson["cells"][0]["source"]
    assert "2 * x" not in source and "print" not in source
    assert "answer = ...\nother = ...\nmore = ...\n" in source
    assert source.startswith("x = 1\n") and source.endswith("check('01.a', answer)")


def test_readme_lesson_map_matches_the_notebooks():
    import re
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ready = set(re.findall(r"\]\(lessons/(\d\d_[a-z_]+)\.ipynb\) \|[^\n]*\| ready \|", readme))
    assert ready == {p.stem for p in LESSONS}, "README's lesson map is out of date"


def test_course_map_names_every_notebook():
    from inferlab import course
    stems = {stem for _, stem, _, _ in course.LESSONS}
    assert {p.stem for p in SOLUTIONS} <= stems
