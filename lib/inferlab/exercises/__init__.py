"""Checked exercises: a learner calls ``check(qid, answer)`` and reads plain-words feedback.

The expected value is computed by the library when the check runs, never copied in.
``check`` never raises at a learner. With the environment variable ``INFERLAB_STRICT=1``
(set by the test command) a wrong answer raises ``AssertionError``, so a solution
notebook with a wrong answer fails its test.

Each lesson registers its exercises in a module ``lessonNN.py`` beside this file, loaded
the first time one of its question ids (``"NN.name"``) is asked for.
"""
from __future__ import annotations

import html
import importlib
import math
import numbers
import os
import re
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

__all__ = ["Exercise", "Feedback", "check", "grade", "register", "exercises_for", "STRICT_ENV"]

STRICT_ENV = "INFERLAB_STRICT"
_REGISTRY: dict = {}


@dataclass(frozen=True)
class Exercise:
    """One checked question.

    ``expected`` computes the right answer (keyword arguments given to ``check`` are passed
    on, for answers that depend on the learner's own measurements). Numeric answers are
    correct within ``rtol`` and "close" within ``close_rtol``; ``choices`` makes the answer
    one of a few words, compared without case.
    """

    qid: str
    question: str
    expected: Callable
    unit: str = ""
    rtol: float = 0.02
    close_rtol: float = 0.10
    hint: str = ""
    choices: tuple = ()
    explanation: str = ""


@dataclass(frozen=True)
class Feedback:
    """The verdict: ``status`` is one of correct, close, units, factor2, wrong, type,
    unanswered, unknown; ``message`` says it in plain words."""

    qid: str
    status: str
    message: str
    expected: object = field(default=None, repr=False)

    @property
    def correct(self) -> bool:
        return self.status == "correct"

    def _repr_html_(self) -> str:
        colour = {"correct": "#009E73", "close": "#E69F00", "unanswered": "#56B4E9"}.get(
            self.status, "#D55E00")
        mark = {"correct": "✔", "close": "≈", "unanswered": "…"}.get(self.status, "✘")
        return (f'<div class="inferlab-feedback inferlab-{self.status}" style="border-left:6px solid '
                f'{colour};padding:6px 10px;margin:4px 0;background:#f7f7f7">'
                f"<b>{mark} Exercise {html.escape(self.qid)}</b>: {html.escape(self.message)}</div>")

    def __str__(self) -> str:
        return f"Exercise {self.qid} [{self.status}]: {self.message}"


def register(*exercises: Exercise) -> None:
    """Add exercises to the registry (a lesson module calls this at import)."""
    for exercise in exercises:
        _REGISTRY[exercise.qid] = exercise


def _lesson_of(qid: str) -> str:
    return qid.split(".", 1)[0]


def exercises_for(lesson: str) -> list:
    """Every registered exercise of lesson ``lesson`` ('01', '02', ...)."""
    _load(lesson)
    return [e for q, e in _REGISTRY.items() if _lesson_of(q) == lesson]


def _load(lesson: str) -> None:
    if re.fullmatch(r"\d\d", lesson or ""):
        try:
            importlib.import_module(f"{__name__}.lesson{lesson}")
        except ModuleNotFoundError as error:
            if error.name != f"{__name__}.lesson{lesson}":
                raise


def _find(qid) -> Exercise | None:
    if not isinstance(qid, str):
        return None
    if qid not in _REGISTRY:
        _load(_lesson_of(qid))
    return _REGISTRY.get(qid)


_UNIT_WORDS = {"ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9, "s": 1.0, "kb": 1e3, "mb": 1e6,
               "gb": 1e9, "tb": 1e12, "gb/s": 1e9, "tb/s": 1e12, "tflop/s": 1e12, "tflops": 1e12,
               "%": 1e-2, "k": 1e3, "m": 1e6}


def _number_from_text(text: str):
    match = re.fullmatch(r"\s*([-+]?\d[\d_,]*\.?\d*(?:[eE][-+]?\d+)?)\s*([a-zA-Zµ/%]*)\s*", text)
    if not match:
        return None, None
    try:
        value = float(match.group(1).replace(",", "").replace("_", ""))
    except ValueError:
        return None, None
    return value, match.group(2).lower()


def _as_number(answer):
    if isinstance(answer, np.ndarray) and answer.size == 1:
        answer = answer.item()
    if isinstance(answer, (numbers.Real, np.generic)) and not isinstance(answer, (bool, np.bool_)):
        return float(answer)
    return None


def _unit_text(exercise: Exercise) -> str:
    return f" in {exercise.unit}" if exercise.unit else ""


def grade(qid, answer, **inputs) -> Feedback:
    """Compare ``answer`` with exercise ``qid``'s expected value; never raises."""
    exercise = _find(qid)
    if exercise is None:
        known = sorted(_REGISTRY)
        return Feedback(str(qid), "unknown", f"there is no exercise called {qid!r}. "
                        f"Check the id in the cell above{': known ones include ' + ', '.join(known[:6]) if known else ''}.")
    if answer is ... or answer is None:
        return Feedback(qid, "unanswered", "not answered yet: replace the ... with your answer"
                        f"{_unit_text(exercise)} and run the cell again.")
    try:
        expected = exercise.expected(**inputs)
    except Exception as error:  # a learner's inputs for a relation check can be off
        return Feedback(qid, "type", f"could not check this answer with the inputs given ({error}).")
    if exercise.choices:
        return _grade_choice(exercise, answer, expected)
    return _grade_number(exercise, answer, float(expected))


def _grade_choice(exercise: Exercise, answer, expected) -> Feedback:
    options = ", ".join(repr(c) for c in exercise.choices)
    if not isinstance(answer, str):
        return Feedback(exercise.qid, "type", f"answer with one of {options} (a string in quotes), "
                        f"not {type(answer).__name__}.", expected)
    given = answer.strip().lower()
    if given not in [c.lower() for c in exercise.choices]:
        return Feedback(exercise.qid, "type", f"{answer!r} is not one of the options: {options}.", expected)
    if given == str(expected).lower():
        return Feedback(exercise.qid, "correct", f"correct! {exercise.explanation}".strip(), expected)
    return Feedback(exercise.qid, "wrong", f"not quite. {exercise.hint}".strip(), expected)


def _grade_number(exercise: Exercise, answer, expected: float) -> Feedback:
    qid, unit = exercise.qid, _unit_text(exercise)
    if isinstance(answer, str):
        value, word = _number_from_text(answer)
        if value is not None and word in _UNIT_WORDS:
            return Feedback(qid, "type", f"give a plain number{unit}, not text: "
                            f"{answer!r} is written {value * _UNIT_WORDS[word]:.4g} as a number "
                            "(if that is the unit asked for).", expected)
        return Feedback(qid, "type", f"give a number{unit}, not the text {answer!r}.", expected)
    value = _as_number(answer)
    if value is None:
        return Feedback(qid, "type", f"give one number{unit}; got a {type(answer).__name__}.", expected)
    if not math.isfinite(value):
        return Feedback(qid, "type", f"give a finite number{unit}, not {value}.", expected)
    if expected == 0:
        error = abs(value)
    else:
        error = abs(value - expected) / abs(expected)
    if error <= exercise.rtol:
        return Feedback(qid, "correct", f"correct! {exercise.explanation}".strip(), expected)
    if error <= exercise.close_rtol:
        return Feedback(qid, "close", f"close (within {error:.0%}) but not within "
                        f"{exercise.rtol:.0%}: check your rounding or which constant you used. "
                        f"{exercise.hint}".strip(), expected)
    if expected != 0 and value != 0 and np.sign(value) == np.sign(expected):
        ratio = value / expected
        exponent = math.log10(abs(ratio))
        for power in (3, 6, 9, 12):
            if abs(abs(exponent) - power) < 0.1:
                direction = "too large" if exponent > 0 else "too small"
                return Feedback(qid, "units", f"off by about 10^{power} ({direction}): check your "
                                f"units{unit} (ms vs s, GB vs bytes, TB/s vs bytes/s).", expected)
        if abs(abs(exponent) - 2) < 0.05:
            return Feedback(qid, "units", f"off by about 100x: did you give a percentage where a "
                            f"fraction is asked for (or the other way round)?{(' ' + exercise.hint) if exercise.hint else ''}", expected)
        if abs(ratio - 2) < 0.1 or abs(ratio - 0.5) < 0.05:
            return Feedback(qid, "factor2", f"off by a factor of about 2: did you count both the "
                            f"multiply and the add (2 FLOPs per multiply-add), or bytes per value? "
                            f"{exercise.hint}".strip(), expected)
    return Feedback(qid, "wrong", f"not quite. {exercise.hint}".strip(), expected)


def check(qid, answer, **inputs) -> None:
    """Check ``answer`` to exercise ``qid`` and show the feedback (HTML in a notebook).

    Never raises at a learner; in strict mode (``INFERLAB_STRICT=1``) a given answer that is
    not correct raises ``AssertionError`` so that tests of the solutions catch it.
    """
    try:
        feedback = grade(qid, answer, **inputs)
    except Exception as error:  # pragma: no cover - grade guards itself; belt and braces
        feedback = Feedback(str(qid), "unknown", f"the check itself failed ({error}); "
                            "please tell the course authors.")
    _show(feedback)
    if os.environ.get(STRICT_ENV) == "1" and feedback.status not in ("correct", "unanswered"):
        raise AssertionError(str(feedback))


def _show(feedback: Feedback) -> None:
    try:
        from IPython import get_ipython
        from IPython.display import display
        if get_ipython() is not None:
            display(feedback)
            return
    except ImportError:  # pragma: no cover - IPython comes with the notebook
        pass
    print(feedback)
