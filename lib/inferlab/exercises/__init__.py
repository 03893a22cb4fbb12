"""Checked exercises: a learner calls ``check(qid, answer)`` and reads plain-words feedback.

The expected value is computed by the library when the check runs, never copied in.
``check`` never raises at a learner, and ``grade`` never raises at all: every answer, however
odd (text, a list, a complex number, 10**400, NaN, an object that cannot become a number),
gets a verdict about the answer. With the environment variable ``INFERLAB_STRICT=1`` (set by
the test command) a wrong answer raises ``AssertionError``, so a solution notebook with a
wrong answer fails its test.

Hints come in steps: the first wrong answer to an exercise gets the diagnosis and a nudge,
a second wrong try the exercise's formula (``check`` counts the tries; ``grade`` is
stateless and always gives the formula).

Each lesson registers its exercises in a module ``lessonNN.py`` beside this file, loaded
the first time one of its question ids (``"NN.name"``) is asked for.
"""
from __future__ import annotations

import html
import importlib
import inspect
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
#: Wrong tries per exercise in this kernel (``check`` only): the first gets a nudge, later
#: ones the formula. A correct answer resets the count.
_TRIES: dict = {}

#: Shown after a first wrong try when the exercise names no nudge of its own ({unit}: the
#: exercise's unit, as " in seconds").
DEFAULT_NUDGE = ("Re-read the question: which quantities does it combine, and is your answer{unit}? "
                 "A second try shows the formula.")


@dataclass(frozen=True)
class Exercise:
    """One checked question.

    ``expected`` computes the right answer (keyword arguments given to ``check`` are passed
    on, for answers that depend on the learner's own measurements; each must be a positive
    number unless it is an object such as a ``DecodeStack``). Numeric answers are correct
    within ``rtol`` and "close" within ``close_rtol``; ``choices`` makes the answer one of a
    few words, compared without case. ``quantity`` names what the answer counts (for the
    factor-of-two hint, e.g. "FLOPs", "bytes", "dollars"); ``nudge`` is the first, gentler
    hint, ``hint`` the formula shown after a second wrong try.
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
    quantity: str = ""
    nudge: str = ""


@dataclass(frozen=True)
class Feedback:
    """The verdict: ``status`` is one of correct, close, units (a power of ten, hours vs
    seconds, cents vs dollars, percent vs fraction), factor2, factor (a batch, sequence or
    other number of the question left out or applied twice), reciprocal, sign, wrong, type
    (not an answer of the right kind, or unusable inputs), unanswered, unknown; ``message``
    says it in plain words."""

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
    qid = qid.strip()
    if qid not in _REGISTRY:
        _load(_lesson_of(qid))
    return _REGISTRY.get(qid)


def _safe_repr(value, limit: int = 60) -> str:
    """``repr(value)``, shortened, and never raising (a learner's object may break repr)."""
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - any object can be passed in
        text = f"<a {type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _kind(value) -> str:
    """Plain words for what ``value`` is: 'a list of 3 values', 'a complex number', ..."""
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of {len(value)} value{'s' if len(value) != 1 else ''}"
    if isinstance(value, np.ndarray):
        return f"an array of {value.size} value{'s' if value.size != 1 else ''}"
    if isinstance(value, (complex, np.complexfloating)):
        return "a complex number"
    if isinstance(value, (np.datetime64, np.timedelta64)):
        return "a date or time span"
    if isinstance(value, (bool, np.bool_)):
        return f"{bool(value)} (a yes/no value)"
    if isinstance(value, dict):
        return "a dictionary"
    if isinstance(value, numbers.Number):  # an int, a float: "a number" reads better
        return f"a number ({_safe_repr(value)})"
    name = type(value).__name__
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


_UNIT_WORDS = {"ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9, "s": 1.0, "kb": 1e3, "mb": 1e6,
               "gb": 1e9, "tb": 1e12, "gb/s": 1e9, "tb/s": 1e12, "tflop/s": 1e12, "tflops": 1e12,
               "%": 1e-2, "k": 1e3, "m": 1e6}


def _number_from_text(text: str):
    match = re.fullmatch(r"\s*([-+]?\d[\d_,]*\.?\d*(?:[eE][-+]?\d+)?)\s*([a-zA-Zµ/%]*)\s*", text)
    if not match:
        return None, None
    try:
        value = float(match.group(1).replace(",", "").replace("_", ""))
    except (ValueError, OverflowError):
        return None, None
    return value, match.group(2).lower()


class _NotANumber(Exception):
    """A value that is not one real number; the message says why in plain words."""


def _real(value):
    """``value`` as one real number: a float, or a Python int too large for a float.

    Raises ``_NotANumber`` with plain words for anything else.
    """
    if isinstance(value, (bool, np.bool_)):
        raise _NotANumber(f"{value} is a yes/no value, not a number")
    if isinstance(value, (str, bytes, np.str_, np.bytes_)):
        raise _NotANumber(f"{_safe_repr(value)} is text, not a number")
    if isinstance(value, (np.datetime64, np.timedelta64)):
        raise _NotANumber(f"{_safe_repr(value)} is a date or time span, not a number")
    if isinstance(value, (complex, np.complexfloating)):
        raise _NotANumber(f"{_safe_repr(value)} is a complex number; give a real one")
    if isinstance(value, (list, tuple, np.ndarray)):
        try:
            array = np.asarray(value, dtype=object)
        except Exception:  # noqa: BLE001 - ragged nesting and the like
            raise _NotANumber(f"got {_kind(value)}; give one number") from None
        if array.size != 1:
            raise _NotANumber(f"got {_kind(value)}; give one number")
        return _real(array.reshape(-1)[0])
    if isinstance(value, numbers.Integral) or isinstance(value, np.integer):
        try:
            number = int(value)
        except Exception:  # noqa: BLE001 - an int subclass may break int()
            raise _NotANumber(f"{_kind(value)} that could not be read as a number") from None
        try:
            return float(number)
        except OverflowError:
            return number  # beyond a float: still compared, by its logarithm
    if isinstance(value, (numbers.Real, np.floating)) or hasattr(value, "__float__"):
        try:
            number = float(value)
        except Exception:  # noqa: BLE001 - a broken __float__, a tensor with many values
            raise _NotANumber(f"{_kind(value)} could not be read as one number") from None
        return number
    raise _NotANumber(f"got {_kind(value)}; give one number")


def _log10(value) -> float:
    """log10 of ``abs(value)`` for a non-zero float or a huge int (never a domain error)."""
    if isinstance(value, int):
        return math.log10(abs(value))
    mantissa, exponent = math.frexp(abs(value))  # exact even for subnormal floats
    return math.log10(mantissa) + exponent * math.log10(2.0)


def _unit_text(exercise: Exercise) -> str:
    unit = exercise.unit
    if not unit:
        return ""
    return f" {unit}" if unit.startswith("(") else f" in {unit}"


def _percent(fraction: float) -> str:
    """0.023 -> '2.3%', 0.0004 -> '0.04%': enough digits that two different values differ."""
    percent = fraction * 100
    if percent >= 10:
        return f"{percent:.0f}%"
    return f"{percent:.3g}%"


def grade(qid, answer, **inputs) -> Feedback:
    """Compare ``answer`` with exercise ``qid``'s expected value; never raises.

    Stateless: the message carries the exercise's full hint (``check`` gives hints in steps).
    """
    return _grade_safely(qid, answer, inputs, tries=2)


def _grade_safely(qid, answer, inputs, tries) -> Feedback:
    try:
        return _grade(qid, answer, inputs, tries)
    except Exception as error:  # noqa: BLE001 - the last guard: a verdict, never a traceback
        name = qid.strip() if isinstance(qid, str) else _safe_repr(qid)
        return Feedback(name, "type", f"this answer ({_kind(answer)}) could not be checked "
                        f"({type(error).__name__}); give one plain number or one of the words asked for.")


def _grade(qid, answer, inputs, tries) -> Feedback:
    exercise = _find(qid)
    if exercise is None:
        known = sorted(_REGISTRY)
        shown = qid if isinstance(qid, str) else _safe_repr(qid)
        return Feedback(str(shown).strip(), "unknown", f"there is no exercise called {_safe_repr(qid)}. "
                        f"Check the id in the cell above{': known ones include ' + ', '.join(known[:6]) if known else ''}.")
    if answer is ... or answer is None:
        return Feedback(exercise.qid, "unanswered", "not answered yet: replace the ... with your answer"
                        f"{_unit_text(exercise)} and run the cell again.")
    expected, problem = _expected(exercise, inputs)
    if problem is not None:
        return problem
    if exercise.choices:
        return _grade_choice(exercise, answer, expected, tries)
    return _grade_number(exercise, answer, expected, tries)


def _expected(exercise: Exercise, inputs: dict):
    """(expected value, None) or (None, a Feedback saying what is wrong with the inputs)."""
    qid = exercise.qid
    try:
        parameters = inspect.signature(exercise.expected).parameters
    except (TypeError, ValueError):  # pragma: no cover - a builtin without a signature
        parameters = {}
    needed = [name for name, p in parameters.items() if p.default is p.empty]
    call = f"check({qid!r}, answer, {', '.join(f'{n}=...' for n in needed)})"
    missing = [name for name in needed if name not in inputs]
    if missing:
        return None, Feedback(qid, "type", f"this check needs your own numbers too: "
                              f"{', '.join(missing)}. Call {call}.")
    extra = [name for name in inputs if name not in parameters]
    if extra:
        takes = f"it takes {', '.join(parameters)}" if parameters else "it takes none"
        return None, Feedback(qid, "type", f"this check does not use {', '.join(extra)} ({takes}).")
    given = {}
    for name, value in inputs.items():
        if _is_numeric_input(value):
            try:
                number = _real(value)
            except _NotANumber as why:
                return None, Feedback(qid, "type", f"the input {name}= must be one positive number: {why}.")
            if isinstance(number, int) or not math.isfinite(number) or number <= 0:
                return None, Feedback(qid, "type", f"the input {name}= must be one positive, finite "
                                      f"number (it is one of your own measurements or choices), "
                                      f"got {_safe_repr(value)}.")
            given[name] = number
        else:
            given[name] = value
    try:
        expected = exercise.expected(**given)
    except Exception as error:  # noqa: BLE001 - a learner's inputs for a relation check can be off
        return None, Feedback(qid, "type", f"could not work out the expected answer from the inputs "
                              f"given ({', '.join(f'{n}={_safe_repr(v, 30)}' for n, v in inputs.items())}): "
                              f"{error}. Check them.")
    if exercise.choices:
        return expected, None
    try:
        value = _real(expected)
        finite = not isinstance(value, int) and math.isfinite(value)
    except _NotANumber:
        finite = False
    if not finite:
        return None, Feedback(qid, "type", "the inputs given lead to no finite answer "
                              f"({', '.join(f'{n}={_safe_repr(v, 30)}' for n, v in inputs.items())}); check them.")
    return value, None


def _is_numeric_input(value) -> bool:
    """True for what a learner means as a number (so it is checked as one)."""
    return isinstance(value, (numbers.Number, np.generic, np.ndarray, list, tuple, str, bytes))


# --- words --------------------------------------------------------------------------------
def _choice_key(text: str) -> str:
    """'Memory-bound.' -> 'memory': case, spaces, dashes, a trailing '-bound' and punctuation
    do not matter."""
    key = re.sub(r"[\s_\-]+", " ", text.strip().lower()).strip(" .!?'\"")
    key = re.sub(r"\s*([/:,])\s*", r"\1", key)  # 'cached/input' is 'cached / input'
    return re.sub(r"\s*bound$", "", key) or key


def _grade_choice(exercise: Exercise, answer, expected, tries) -> Feedback:
    qid = exercise.qid
    options = ", ".join(repr(c) for c in exercise.choices)
    if not isinstance(answer, str):
        return Feedback(qid, "type", f"answer with one of {options} (a word in quotes), "
                        f"not {_kind(answer)}.", expected)
    keys = {_choice_key(c): c for c in exercise.choices}
    given = keys.get(_choice_key(answer))
    if given is None:
        given = next((c for c in exercise.choices if c.lower() == answer.strip().lower()), None)
    if given is None:
        return Feedback(qid, "type", f"{_safe_repr(answer)} is not one of the options: {options}.", expected)
    if given.lower() == str(expected).lower():
        _TRIES.pop(qid, None)
        return Feedback(qid, "correct", f"correct! {exercise.explanation}".strip(), expected)
    return Feedback(qid, "wrong", _with_hint("not quite.", exercise, tries), expected)


def _with_hint(diagnosis: str, exercise: Exercise, tries: int) -> str:
    if tries <= 1 and exercise.choices:
        extra = exercise.nudge or ("What decides between " + " and ".join(repr(c) for c in exercise.choices)
                                   + "? Work out the numbers that decide it; a second try shows the hint.")
    elif tries <= 1:
        extra = exercise.nudge or DEFAULT_NUDGE.format(unit=_unit_text(exercise) or " the quantity asked for")
    else:
        extra = exercise.hint
    if diagnosis and extra and diagnosis[-1] not in ".?!:":
        diagnosis += "."
    return f"{diagnosis} {extra}".strip()


# --- numbers ------------------------------------------------------------------------------
def _question_factors(exercise: Exercise) -> list:
    """Whole numbers of 3 or more named in the question (a batch, a context, a count): an
    answer off by one of them left out or applied twice a per-token or per-sequence factor."""
    found = []
    for text in re.findall(r"(?<![\w.\-\[\]/])(\d{1,3}(?:,\d{3})+|\d+)(?![\w.]*\w)", exercise.question):
        number = float(text.replace(",", ""))
        if number >= 3 and number not in found:
            found.append(number)
    return found


def _default_quantity(exercise: Exercise) -> str:
    """What a factor of 2 in this exercise's answer is most likely about, from its unit."""
    unit = exercise.unit.lower()
    if "flop" in unit and "byte" in unit:
        return "the FLOPs (2 per multiply-add) or the bytes (2 per bf16 value)"
    if "flop" in unit:
        return "the FLOPs: did you count both the multiply and the add (2 FLOPs per multiply-add)?"
    if "per second" in unit and "byte" in unit:
        return "the bytes moved (2 per bf16 value) or the seconds"
    if "per second" in unit:
        return "the step time: the bytes per weight (2 for bf16, 1 for fp8)"
    if "byte" in unit:
        return "the bytes: 2 per bf16 value (and a K and a V per token, for a KV cache)"
    if "second" in unit:
        return "the time: the bytes moved (2 per bf16 weight) or the FLOPs (2 per multiply-add)"
    if "$" in unit or "dollar" in unit:
        return "the dollars: the price per hour, the chips, or the tokens each step makes"
    if "joule" in unit:
        return "the energy: the bytes moved (2 per bf16 weight) or the FLOPs (2 per multiply-add)"
    if "chip" in unit:
        return "the bytes to hold: 2 per bf16 weight, 1 per fp8 weight"
    if any(word in unit for word in ("token", "row", "sequence")):
        return "the count: the bytes per weight (2 for bf16) or the 2 FLOPs per multiply-add"
    return ("the quantities you divided: 2 bytes per bf16 value, 2 FLOPs per multiply-add, "
            "K and V both")


def _grade_number(exercise: Exercise, answer, expected, tries) -> Feedback:
    qid, unit = exercise.qid, _unit_text(exercise)
    if isinstance(answer, (str, np.str_)):
        value, word = _number_from_text(str(answer))
        if value is not None and word in _UNIT_WORDS:
            return Feedback(qid, "type", f"give a plain number{unit}, not text: "
                            f"{_safe_repr(answer)} is written {value * _UNIT_WORDS[word]:.4g} as a number "
                            "(if that is the unit asked for).", expected)
        return Feedback(qid, "type", f"give a number{unit}, not the text {_safe_repr(answer)}.", expected)
    try:
        value = _real(answer)
    except _NotANumber as why:
        return Feedback(qid, "type", f"give one real number{unit}: {why}.", expected)
    if not isinstance(value, int) and not math.isfinite(value):
        return Feedback(qid, "type", f"give a finite number{unit}, not {value}.", expected)

    verdict = _compare(exercise, value, expected)
    status, diagnosis = verdict
    if status == "correct":
        _TRIES.pop(qid, None)
        return Feedback(qid, "correct", f"correct! {exercise.explanation}".strip(), expected)
    return Feedback(qid, status, _with_hint(diagnosis, exercise, tries), expected)


def _compare(exercise: Exercise, value, expected: float):
    """(status, diagnosis) for a finite real ``value`` against a finite ``expected``."""
    unit = _unit_text(exercise)
    if expected == 0:  # no relative error exists: only 0 itself is right
        return ("correct", "") if value == 0 else ("wrong", "not quite.")
    if value == 0:
        return "wrong", "not quite: the answer is not zero."
    # log10 of |answer / expected|, exact for subnormal floats and ints beyond a float
    exponent = _log10(value) - _log10(expected)
    same_sign = (value > 0) == (expected > 0)
    error = abs(10 ** exponent - 1) if abs(exponent) < 300 else math.inf
    if same_sign and error <= exercise.rtol:
        return "correct", ""
    if not same_sign and error <= exercise.close_rtol:
        return "sign", "the size is right but the sign is not."
    if not same_sign:
        return "wrong", "not quite: the answer has the other sign."
    whole = not isinstance(expected, int) and float(expected).is_integer() and exercise.rtol == 0
    if whole and isinstance(value, float) and abs(value - expected) < 1 and not value.is_integer():
        return "close", ("right before rounding: the answer is a whole number. Round up (to hold "
                         "everything) or down (what fits)?")
    if whole and isinstance(value, float) and abs(value - expected) == 1:
        return "close", ("one away: did you round the right way (up for the chips that hold "
                         "everything, down for what fits)?")
    if error <= exercise.close_rtol:
        must = "be exact (a whole number: round up or down?)" if exercise.rtol == 0 else f"be within {_percent(exercise.rtol)}"
        off = _percent(error)
        if exercise.rtol and off == _percent(exercise.rtol):
            off = f"just over {off}"
        return "close", (f"close ({off} off), but it must {must}: check your rounding "
                         "or which constant you used.")
    ratio = 10 ** exponent if abs(exponent) < 300 else math.inf
    direction = "too large" if exponent > 0 else "too small"

    def near(factor: float, tolerance: float) -> bool:
        return abs(abs(exponent) - math.log10(factor)) <= math.log10(1 + tolerance)

    tight = max(exercise.rtol, 0.01)
    # the reciprocal: tokens/s where seconds are asked, a ratio upside down
    if abs(_log10(value) + _log10(expected)) <= math.log10(1 + max(exercise.rtol, 0.02)) \
            and abs(_log10(expected)) > math.log10(1 + exercise.close_rtol):
        if "second" in exercise.unit and "per second" not in exercise.unit:
            what = "a rate (per second) where a time in seconds is asked, or the other way round"
        elif "per second" in exercise.unit:
            what = "a time per item where a rate (per second) is asked"
        else:
            what = "the ratio upside down (this over that instead of that over this)"
        return "reciprocal", f"your answer is about 1 / the right one: {what}. Check which quantity is divided by which."
    for factor in _question_factors(exercise):
        if near(factor, tight):
            return "factor", (f"off by a factor of about {factor:,.0f} ({direction}), a number in the "
                              f"question: did you leave out, or apply twice, a per-token, per-sequence, per-chip "
                              f"or per-step factor (the {factor:,.0f})?")
    if near(3600, 0.03):
        return "units", (f"off by a factor of about 3600 ({direction}): hours against seconds; "
                         "did you forget (or double) a / 3600 s per hour?")
    if near(60, 0.03):
        return "units", f"off by a factor of about 60 ({direction}): minutes against seconds or hours?"
    if near(2, 0.05):
        quantity = exercise.quantity or _default_quantity(exercise)
        return "factor2", f"off by a factor of about 2 ({direction}): check the factors of 2 in {quantity}"
    if near(100, 0.05):
        text = exercise.unit.lower()
        if "$" in text or "dollar" in text:
            return "units", (f"off by about 100x ({direction}): cents against dollars? The answer is "
                             "asked in dollars.")
        if "fraction" in text:
            return "units", (f"off by about 100x ({direction}): a percentage where a fraction between "
                             "0 and 1 is asked (50% is 0.5)?")
        return "units", f"off by about 100x ({direction}): check the units{unit} and any percentages."
    for power in (3, 6, 9, 12, 15):
        if abs(abs(exponent) - power) < 0.1 and power == 6 and "million" in exercise.unit.lower():
            return "units", (f"off by about 10^6 ({direction}): per token against per million tokens? "
                             f"The answer is asked{unit}.")
        if abs(abs(exponent) - power) < 0.1:
            return "units", (f"off by about 10^{power} ({direction}): check your units{unit} "
                             "(ms vs s, GB vs bytes, TB/s vs bytes/s).")
    if abs(exponent) >= 15:
        return "wrong", f"not quite: far {direction} (more than 10^15 times)."
    return "wrong", "not quite."


def check(qid, answer, **inputs) -> None:
    """Check ``answer`` to exercise ``qid`` and show the feedback (HTML in a notebook).

    Never raises at a learner; in strict mode (``INFERLAB_STRICT=1``) a given answer that is
    not correct raises ``AssertionError`` so that tests of the solutions catch it. The
    first wrong answer to an exercise gets a nudge, later ones the exercise's formula.
    """
    try:
        exercise = _find(qid)
    except Exception:  # noqa: BLE001 - grade below says what is wrong
        exercise = None
    key = exercise.qid if exercise is not None else None
    tries = _TRIES.get(key, 0) + 1
    feedback = _grade_safely(qid, answer, inputs, tries)
    if key is not None and feedback.status not in ("correct", "unanswered", "type", "unknown"):
        _TRIES[key] = tries
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
