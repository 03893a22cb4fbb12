"""The core runs alone, with every other exercise answered (issue 15; issue 13 §2).

Each solution, with its ``deeper`` cells removed, exercises 1, 3, 5... answered and the
others partly answered (the first name left ``...``, the rest written out; blank when the
exercise asks for one name), runs top to bottom with no error output (INFERLAB_STRICT off,
as for a learner). One run per lesson covers the core alone, the "alternate answers" pattern
and the half-done exercise of issue 13 §2; nbval runs the whole lessons (all blank) and
solutions (all answered); test_run_patterns_wrong.py every answer wrong.
"""
import pytest

from answer_patterns import ROOT, SOLUTIONS, alternate, core, errors, load, partly_answered


def _exercise(name, body, qid):
    return {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
            "source": f"### BEGIN SOLUTION\n{body}\n### END SOLUTION\nprint({qid!r}, {name})"}


def test_the_alternate_pattern_can_fail():
    """Exercise 2 uses the name exercise 1 defines: answering only exercise 1... works;
    answering only exercise 2 leaves exercise 1's name as Ellipsis and exercise 2 breaks."""
    solution = {"cells": [_exercise("a", "a = 2", "01.a"), _exercise("b", "b = a + 1", "01.b")],
                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    first = alternate(solution, first_answered=True)
    assert "a = 2" in first["cells"][0]["source"] and "b = ..." in first["cells"][1]["source"]
    second = alternate(solution, first_answered=False)
    assert errors(second, ROOT, strict=False) and not errors(first, ROOT, strict=False)


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_core_alone_with_every_other_exercise_answered(path):
    notebook = core(alternate(load(path), first_answered=True))
    found = errors(notebook, ROOT / "solutions", strict=False)
    assert not found, f"{path.name}, core alone, exercises 1, 3, 5... answered, the others " \
                      f"partly:\n" + "\n".join(found)


def test_a_half_done_exercise_keeps_the_rest_of_the_solution():
    cell = _exercise("ridge", "h200 = 'H200'\nridge = len(h200)\nprint(ridge)", "02.a")
    source = partly_answered(cell)["source"]
    assert "h200 = ...\nridge = len(h200)\nprint(ridge)\n" in source
    assert errors({"cells": [partly_answered(cell)]}, ROOT, strict=False)  # len(Ellipsis) fails
    single = _exercise("a", "a = 2", "01.a")
    assert "a = ...\n" in partly_answered(single)["source"]
