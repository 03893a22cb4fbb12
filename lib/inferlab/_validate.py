"""Input checks shared by every public function.

Each check turns a learner's input into a float numpy array (or float) and raises a
``ValueError`` that names the argument and says what was expected. What passes is a real
number (or an array of them) of a size the library's arithmetic keeps finite and non-zero:
between ``SMALLEST`` and ``LARGEST`` in SI units. Text, yes/no values, complex numbers,
dates, ragged lists, NaN and infinity are refused, so every accepted input gives a finite,
non-negative result.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

#: The largest magnitude an input may have (SI units). No quantity of the course comes near
#: it (a year of an exaflop machine is 3e25 FLOPs), and products of a few such inputs stay
#: far from a float's 1.8e308, so no result overflows to infinity.
LARGEST = 1e30
#: The largest whole number (a count: tokens, sequences, chips, layers). Products of two counts
#: stay within LARGEST, so a quantity computed from counts is not refused under another name.
LARGEST_COUNT_INPUT = 1e15
#: The most bytes one stored number may take (weight_bytes, kv_bytes per value): fp64 is 8.
BYTES_PER_VALUE_MOST = 16
#: The smallest non-zero magnitude (SI units): a picojoule is 1e-12 J. Below this a product or
#: quotient of a few inputs can underflow to 0 (5e-324 bytes per weight gave a 0 s floor).
SMALLEST = 1e-30


def positive(value, name: str, *, allow_zero: bool = False, integer: bool = False,
             scalar: bool = False, most: float | None = None):
    """Return ``value`` as a float (scalar input) or float array (array input).

    Raises ``ValueError`` naming ``name`` when ``value`` is not a real number or an array of
    them (text, bool, complex, dates, None, ragged lists), not finite, not positive (or
    negative when ``allow_zero``), outside ``SMALLEST`` .. ``LARGEST``, not a whole number
    when ``integer``, an array when ``scalar``, or above ``most`` (a limit of what the
    function can do in reasonable time and memory, such as a simulation's request count).
    """
    if type(value) is float or type(value) is int:  # the common case, without numpy
        return _plain_number(value, name, allow_zero, integer, most)
    array = _real_array(value, name)
    if scalar and array.ndim:
        raise ValueError(f"{name} must be one number here, not an array (got shape {array.shape})")
    if array.size == 0:
        raise ValueError(f"{name} must not be empty")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite, got {_show(value)}")
    if allow_zero:
        if np.any(array < 0):
            raise ValueError(f"{name} must be zero or positive, got {_show(value, array < 0)}")
    elif np.any(array <= 0):
        raise ValueError(f"{name} must be positive (> 0), got {_show(value, array <= 0)}")
    if np.any(array > LARGEST):
        raise ValueError(f"{name} must be at most {LARGEST:g} (larger values overflow the "
                         f"arithmetic), got {_show(value, array > LARGEST)}")
    tiny = (array > 0) & (array < SMALLEST)
    if np.any(tiny):
        floor = f"0 or at least {SMALLEST:g}" if allow_zero else f"at least {SMALLEST:g}"
        raise ValueError(f"{name} must be {floor} (smaller values vanish in the arithmetic), "
                         f"got {_show(value, tiny)}")
    if integer and most is None and np.any(array > LARGEST_COUNT_INPUT):
        raise ValueError(f"{name} must be at most {LARGEST_COUNT_INPUT:g} (a count beyond that "
                         f"overflows the arithmetic), got {_show(value, array > LARGEST_COUNT_INPUT)}")
    if most is not None and np.any(array > most):
        raise ValueError(f"{name} must be at most {most:,.0f} here (more would take too long or too "
                         f"much memory), got {_show(value, array > most)}")
    if integer and np.any(array != np.round(array)):
        raise ValueError(f"{name} must be a whole number, got {_show(value, array != np.round(array))}")
    if array.ndim == 0 and isinstance(value, (numbers.Number, np.generic)):
        return float(array)
    return array


#: The largest whole count a function returns (2**53: every whole number below it is exact
#: in a float and fits an int64).
LARGEST_COUNT = 2 ** 53


def whole_count(values, what: str):
    """Whole counts (an int, or an int array) from non-negative float ``values``; a
    ``ValueError`` saying which inputs to shrink when one exceeds ``LARGEST_COUNT`` (an int64
    conversion would wrap round to a negative count)."""
    array = np.asarray(values, dtype=float)
    if np.any(array > LARGEST_COUNT):
        raise ValueError(f"{what} would be more than {LARGEST_COUNT:.3g}: check the sizes given")
    return int(array) if array.ndim == 0 else array.astype(np.int64)


def _plain_number(value, name, allow_zero, integer, most) -> float:
    """``positive`` for a Python float or int: the same checks and messages."""
    try:
        number = float(value)
    except OverflowError:
        raise ValueError(f"{name} must be at most {LARGEST:g}, got {_short(value)}") from None
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite, got {number!r}")
    if number < 0 or (number == 0 and not allow_zero):
        rule = "zero or positive" if allow_zero else "positive (> 0)"
        raise ValueError(f"{name} must be {rule}, got {value!r}")
    if number > LARGEST:
        raise ValueError(f"{name} must be at most {LARGEST:g} (larger values overflow the "
                         f"arithmetic), got {value!r}")
    if 0 < number < SMALLEST:
        floor = f"0 or at least {SMALLEST:g}" if allow_zero else f"at least {SMALLEST:g}"
        raise ValueError(f"{name} must be {floor} (smaller values vanish in the arithmetic), got {value!r}")
    if integer and most is None and number > LARGEST_COUNT_INPUT:
        raise ValueError(f"{name} must be at most {LARGEST_COUNT_INPUT:g} (a count beyond that "
                         f"overflows the arithmetic), got {value!r}")
    if most is not None and number > most:
        raise ValueError(f"{name} must be at most {most:,.0f} here (more would take too long or too "
                         f"much memory), got {value!r}")
    if integer and not number.is_integer():
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    return number


def fraction(value, name: str, *, allow_zero: bool = True, allow_one: bool = True):
    """``value`` as a float (array) between 0 and 1; ``ValueError`` naming ``name`` otherwise."""
    result = positive(value, name, allow_zero=allow_zero)
    above = np.asarray(result) >= 1 if not allow_one else np.asarray(result) > 1
    if np.any(above):
        limit = "at most 1" if allow_one else "below 1"
        raise ValueError(f"{name} must be {limit}, got {_show(value, above)}")
    return result


def same_shape(**arrays) -> tuple:
    """The common broadcast shape of the named inputs; a ``ValueError`` naming them if none.

    ``same_shape(batch=batch, context=context)`` raises "batch (shape (2,)) and context
    (shape (3,)) cannot be combined: ..." where numpy would name no argument. At the top of a
    function, ``same_shape(**locals())`` checks every argument (names and objects pass).
    """
    shapes = {}
    for name, value in arrays.items():
        if not isinstance(value, (np.ndarray, list, tuple)):
            continue  # a number, a name, a model: nothing to broadcast
        try:
            shapes[name] = np.shape(value)
        except (TypeError, ValueError):  # ragged nesting
            raise ValueError(f"{name} must be a number or an array of numbers, got {_short(value)}") from None
    if not shapes:
        return ()
    try:
        return np.broadcast_shapes(*shapes.values())
    except ValueError:
        listed = " and ".join(f"{name} (shape {shape})" for name, shape in shapes.items() if shape)
        raise ValueError(f"{listed} cannot be combined: give arrays of the same shape, or "
                         "shapes that broadcast (one of length 1, or a column against a row)") from None


def _real_array(value, name: str) -> np.ndarray:
    """``value`` as a float array, or a ``ValueError`` saying in plain words why not."""
    if value is None or isinstance(value, (bool, np.bool_, str, bytes, np.str_, np.bytes_)):
        raise ValueError(f"{name} must be a number, got {_short(value)}")
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError, OverflowError):  # ragged nesting, objects numpy refuses
        raise ValueError(f"{name} must be a number or an array of numbers, got {_short(value)}") from None
    kind = raw.dtype.kind
    if kind == "O":  # mixed or exotic elements (Fraction, Decimal, ints beyond int64)
        items = raw.reshape(-1)
        if not all(isinstance(x, numbers.Real) and not isinstance(x, (bool, np.bool_)) for x in items):
            raise ValueError(f"{name} must be a number or an array of numbers, got {_short(value)}")
        try:
            return np.array([float(x) for x in items], dtype=float).reshape(raw.shape)
        except OverflowError:
            raise ValueError(f"{name} must be at most {LARGEST:g}, got {_short(value)}") from None
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a number or an array of numbers, got {_short(value)}") from None
    if kind in "iuf":
        return raw.astype(float, copy=False)  # integers become floats: no int32 overflow downstream
    words = {"b": "yes/no values", "c": "complex numbers", "M": "dates", "m": "time spans",
             "U": "text", "S": "text", "V": "records"}.get(kind, f"{raw.dtype} values")
    raise ValueError(f"{name} must be a real number or an array of them, not {words}: got {_short(value)}")


def _short(value, limit: int = 60) -> str:
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a learner's object may break repr
        text = f"a {type(value).__name__}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _show(value, bad=None) -> str:
    """The offending value: the number itself, or the first bad entry of an array."""
    array = np.asarray(value, dtype=float) if not isinstance(value, np.ndarray) else value.astype(float)
    if array.ndim == 0:
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            return repr(int(value))
        return repr(float(array))
    picked = array[bad] if bad is not None else array[~np.isfinite(array)]
    return f"an array containing {float(picked.flat[0])!r}" if picked.size else "an array"


def optional_number(text):
    """A number from a data-file cell, or None for an empty cell."""
    text = (text or "").strip()
    return float(text) if text else None
