"""Run All survives wrong answers (issue 13 §2).

Each lesson with every exercise answered wrongly (a wrong number, a string or None in turn
for each name a solution assigns) runs top to bottom with no error output: the checker
prints feedback and never raises (INFERLAB_STRICT off, as for a learner), and no later cell
or explorer uses a learner's answer.
"""
import pytest

from answer_patterns import ROOT, SOLUTIONS, errors, load, wrong


def test_wrong_answers_replace_each_solution():
    solution = {"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                           "source": "x = 3\n### BEGIN SOLUTION\nh200 = 'H200'\nridge = 2 * x\n"
                                     "### END SOLUTION\nprint(ridge)"}],
                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    cell = wrong(solution)["cells"][0]["source"]
    assert "h200 = 12345\nridge = 'twelve'\n" in cell and "2 * x" not in cell


def test_the_wrong_pattern_can_fail():
    """A template that builds an object from the learner's answer breaks on a wrong one."""
    solution = {"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                           "source": "### BEGIN SOLUTION\nname = 'H200'\n### END SOLUTION\n"
                                     "print(name.upper())"}],
                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    assert errors(wrong(solution), ROOT, strict=False)


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_every_exercise_answered_wrongly(path):
    found = errors(wrong(load(path)), ROOT / "solutions", strict=False)
    assert not found, f"{path.name}, every exercise answered wrongly:\n" + "\n".join(found)
