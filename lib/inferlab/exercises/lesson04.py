"""Lesson 04 exercises: bandwidth, not capacity."""

from .. import reference
from ..bandwidth import offload_fraction_for_slowdown, offload_step_seconds, predicted_speedup
from ..memory import memory_system
from ..roofline import latency_floor, weight_bytes_needed
from . import Exercise, register


def _ddr5_floor():
    return latency_floor("llama-3.1-70b", memory_system("DDR5-4800 channel", 8))


def _offload_step():
    return offload_step_seconds(weight_bytes_needed("llama-3.1-8b"), 0.2,
                                reference.measured_bandwidth("h100"),
                                reference.load("h100")["host_and_pcie"]["h2d_pinned_GBps"] * 1e9)


def _offload_budget():
    return offload_fraction_for_slowdown(2.0, reference.measured_bandwidth("h100"),
                                         reference.load("h100")["host_and_pcie"]["h2d_pinned_GBps"] * 1e9)


register(
    Exercise("04.ddr5-floor",
             "Floor of llama-3.1-70b (bf16) served from 8 channels of DDR5-4800.",
             expected=_ddr5_floor, unit="seconds",
             hint="8 x 38.4e9 bytes/s; il.latency_floor(model, memory_system('DDR5-4800 channel', 8))."),
    Exercise("04.offload-step",
             "Batch-1 step of llama-3.1-8b on the measured H100 with 20% of its weights in host "
             "memory, read over the measured pinned PCIe link.",
             expected=_offload_step, unit="seconds",
             hint="0.8 x bytes / HBM bandwidth + 0.2 x bytes / link bandwidth; the bytes are "
                  "il.weight_bytes_needed('llama-3.1-8b')."),
    Exercise("04.offload-budget",
             "Largest fraction of the weights that may live in host memory if the step may take "
             "at most twice its all-in-HBM time (measured H100 numbers).",
             expected=_offload_budget, unit="(a fraction between 0 and 1)",
             hint="solve (1 - f)/B + f/L = 2/B for f: f = (2 - 1) / (B/L - 1)."),
    Exercise("04.predicted-speedup",
             "Roofline prediction of the H200's speed-up over the H100 for a batch-1 decode step "
             "at context 128, with each card's measured bandwidth and FLOP/s.",
             expected=lambda: float(predicted_speedup(1, 128)), unit="(a ratio)",
             hint="memory-bound: the ratio of the measured bandwidths, "
                  "reference.measured_bandwidth('h200') / reference.measured_bandwidth('h100')."),
)
