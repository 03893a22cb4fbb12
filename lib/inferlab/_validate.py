"""Input checks shared by every public function.

Each check turns a learner's input into a float numpy array (or float) and raises a
``ValueError`` that names the argument and says what was expected.
"""
from __future__ import annotations

import numbers

import numpy as np


def positive(value, name: str, *, allow_zero: bool = False, integer: bool = False):
    """Return ``value`` as a float (scalar input) or float array (array input).

    Raises ``ValueError`` when ``value`` is not numeric, not finite, not positive
    (or negative when ``allow_zero``), or not a whole number when ``integer``.
    """
    if isinstance(value, bool) or value is None or isinstance(value, (str, bytes)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number or an array of numbers, got {value!r}") from None
    if array.size == 0:
        raise ValueError(f"{name} must not be empty")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if allow_zero:
        if np.any(array < 0):
            raise ValueError(f"{name} must be zero or positive, got {_show(value)}")
    elif np.any(array <= 0):
        raise ValueError(f"{name} must be positive (> 0), got {_show(value)}")
    if integer and np.any(array != np.round(array)):
        raise ValueError(f"{name} must be a whole number, got {_show(value)}")
    if array.ndim == 0 and isinstance(value, (numbers.Number, np.generic)):
        return float(array)
    return array


def _show(value) -> str:
    array = np.asarray(value, dtype=float)
    if array.ndim == 0:
        return repr(float(array)) if not isinstance(value, numbers.Integral) else repr(int(value))
    bad = array[(array <= 0)] if array.size else array
    return f"an array containing {bad.flat[0]!r}" if bad.size else "an array"


def optional_number(text):
    """A number from a data-file cell, or None for an empty cell."""
    text = (text or "").strip()
    return float(text) if text else None
