"""Lesson 01 exercises: the latency floor."""

import numpy as np

from .. import reference
from ..hardware import get_hardware
from ..models import get_model
from ..roofline import chips_to_hold, latency_floor
from . import Exercise, register


def _rule_of_thumb():
    return get_model("llama-3.1-8b").total_params * 2 / get_hardware("H100-SXM").memory_bandwidth


def _measured_batch1_step():
    data = reference.decode_steps("h100", "sdpa")
    pick = (data["batch"] == 1) & (data["context"] == 128)
    return float(np.median(data["seconds"][pick]))


def _measured_bandwidth_floor():
    chip = get_hardware("H100-SXM").replace(memory_bandwidth=reference.measured_bandwidth("h100"))
    return latency_floor("llama-3.1-8b", chip)


register(
    Exercise("01.rule-of-thumb",
             "All of llama-3.1-8b's weights in bf16 divided by the H100 SXM's spec bandwidth.",
             expected=_rule_of_thumb, unit="seconds",
             hint="total parameters x 2 bytes, divided by 3.35e12 bytes/s."),
    Exercise("01.tokens-per-second",
             "Most tokens/s one sequence of llama-3.1-70b can get on an H200 with fp8 weights.",
             expected=lambda: 1.0 / latency_floor("llama-3.1-70b", "H200", weight_bytes=1),
             unit="tokens per second",
             hint="one token per step; a step takes at least the floor. fp8 is 1 byte per weight."),
    Exercise("01.measured-floor",
             "The floor of llama-3.1-8b with the H100's measured read bandwidth instead of the spec.",
             expected=_measured_bandwidth_floor, unit="seconds",
             hint="use inferlab.reference.measured_bandwidth('h100') in a copy of the chip."),
    Exercise("01.fraction-explained",
             "The spec-sheet floor as a fraction of the measured batch-1 step (context 128).",
             expected=lambda: latency_floor("llama-3.1-8b", "H100-SXM") / _measured_batch1_step(),
             unit="(a fraction between 0 and 1)",
             hint="predicted / measured; the measured step is in reference.decode_steps('h100')."),
    Exercise("01.chips-for-405b",
             "How many H100s (sold as 80 GB, 85.5e9 bytes usable) does llama-3.1-405b need just to hold its bf16 weights?",
             expected=lambda: int(chips_to_hold("llama-3.1-405b", "H100-SXM", weight_bytes=2)),
             unit="chips", rtol=0.0, close_rtol=0.0,
             hint="weights in bytes / memory per chip, rounded up to a whole chip."),
)

