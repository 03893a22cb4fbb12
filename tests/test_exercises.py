"""Exercise checks: plain-words feedback, never a traceback at a learner."""
from pathlib import Path

import pytest

from inferlab import exercises
from inferlab.exercises import Exercise, check, grade, register

register(
    Exercise("99.seconds", "a test question", expected=lambda: 4.8e-3, unit="seconds",
             hint="divide bytes by bytes per second."),
    Exercise("99.choice", "memory or compute?", expected=lambda: "memory",
             choices=("memory", "compute")),
    Exercise("99.relation", "ridge = peak / bandwidth", expected=lambda peak, bandwidth: peak / bandwidth),
)


@pytest.mark.parametrize("answer, status", [
    (4.8e-3, "correct"), (4.85e-3, "correct"), (5.1e-3, "close"), (4.8, "units"),
    (4.8e-6, "units"), (9.6e-3, "factor2"), (2.4e-3, "factor2"), (1.0, "wrong"),
    (0.48, "units"), (..., "unanswered"), (None, "unanswered"), ("4.8 ms", "type"),
    ("abc", "type"), ([1, 2], "type"), (float("inf"), "type"), (True, "type"),
])
def test_numeric_feedback(answer, status):
    assert grade("99.seconds", answer).status == status


def test_unit_hint_converts_text():
    assert "0.0048" in grade("99.seconds", "4.8 ms").message


def test_choice_feedback():
    assert grade("99.choice", "Memory").status == "correct"
    assert grade("99.choice", "compute").status == "wrong"
    assert grade("99.choice", "disk").status == "type"
    assert grade("99.choice", 3).status == "type"


def test_relation_checks_use_the_learners_inputs():
    assert grade("99.relation", 300.0, peak=900.0, bandwidth=3.0).status == "correct"
    assert grade("99.relation", 30.0, peak=900.0, bandwidth=3.0).status == "wrong"
    assert grade("99.relation", 300.0).status == "type"  # inputs missing: a message, no raise


def test_unknown_question_is_a_message():
    assert grade("99.nope", 1).status == "unknown"
    assert grade(12, 1).status == "unknown"


def test_check_never_raises_for_a_learner(monkeypatch, capsys):
    monkeypatch.delenv(exercises.STRICT_ENV, raising=False)
    for answer in (1.0, "x", None, object(), [1]):
        check("99.seconds", answer)
    check("no.such", 1)
    assert "Exercise 99.seconds" in capsys.readouterr().out


def test_strict_mode_fails_wrong_answers_but_not_unanswered(monkeypatch):
    monkeypatch.setenv(exercises.STRICT_ENV, "1")
    check("99.seconds", 4.8e-3)
    check("99.seconds", ...)
    with pytest.raises(AssertionError):
        check("99.seconds", 1.0)


LESSON_MODULES = sorted(p.stem[len("lesson"):] for p in
                        (Path(exercises.__file__).parent).glob("lesson[0-9][0-9].py"))


def test_every_lesson_with_a_notebook_has_exercises():
    assert "01" in LESSON_MODULES


@pytest.mark.parametrize("lesson", LESSON_MODULES)
def test_lesson_exercises_compute_their_answers(lesson):
    registered = exercises.exercises_for(lesson)
    assert len(registered) >= (1 if lesson == "00" else 4)
    for exercise in registered:
        if exercise.qid.startswith(lesson + ".") and not _needs_inputs(exercise):
            value = exercise.expected()
            assert value is not None
            assert grade(exercise.qid, value).status == "correct"


def _needs_inputs(exercise):
    import inspect
    return any(p.default is p.empty for p in inspect.signature(exercise.expected).parameters.values())
