"""Lesson 03 exercises: measure your machine.

The learner's numbers differ on every computer and every run, so each check computes its
expected answer from the learner's own measurements, passed as keyword inputs:
``check("03.ridge", ridge, peak=fit.peak_flops, bandwidth=fit.bandwidth)``.
"""

from .. import reference
from ..roofline_fit import RooflineFit, knee_rows
from ..measure import CPU_BYTES_PER_VALUE
from . import Exercise, register


def _ridge(peak, bandwidth):
    return RooflineFit(peak_flops=peak, bandwidth=bandwidth).ridge


def _knee(ridge, k, n):
    return knee_rows(ridge, k, n, CPU_BYTES_PER_VALUE)


def _predicted_step(stack, bandwidth):
    return stack.step_bytes(1) / bandwidth


register(
    Exercise("03.ridge",
             "The ridge point of your fitted roofline: your peak FLOP/s / your bandwidth.",
             expected=_ridge, unit="FLOP per byte",
             hint="fit.peak_flops / fit.bandwidth (FLOP/s divided by bytes/s)."),
    Exercise("03.knee",
             "The number of rows M at which your sweep's X[M,K] @ W[K,N] (float32) reaches your ridge.",
             expected=_knee, unit="rows",
             hint="solve 2 M K N / (4 (M K + K N + M N)) = ridge for M; roughly M = 2 x ridge "
                  "when K and N are large."),
    Exercise("03.predicted-step",
             "Predicted batch-1 decode step of the stack: the bytes it must move / your read bandwidth.",
             expected=_predicted_step, unit="seconds",
             hint="stack.step_bytes() gives the bytes (weights, inputs and outputs); divide by "
                  "bandwidth.best_read in bytes/s."),
    Exercise("03.fraction-explained",
             "Your predicted step as a fraction of your timed step.",
             expected=lambda predicted, measured: predicted / measured,
             unit="(a fraction, usually between 0 and 1)",
             hint="predicted seconds / measured seconds."),
    Exercise("03.h100-ratio",
             "How many times faster than your machine's read bandwidth the H100's measured read "
             "bandwidth is (the H100's / yours).",
             expected=lambda bandwidth: reference.measured_bandwidth("h100") / bandwidth,
             unit="(a ratio)",
             hint="reference.measured_bandwidth('h100') / bandwidth.best_read, both in bytes/s."),
)
