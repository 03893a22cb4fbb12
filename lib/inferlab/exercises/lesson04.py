"""Lesson 04 exercises: bandwidth, not capacity."""

from .. import reference
from ..bandwidth import (batch_that_fits, offload_fraction_for_slowdown, offload_step_seconds,
                         predicted_speedup)
from ..hardware import get_hardware
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
    Exercise("04.which-ratio",
             "At batch 768 (context 128), which spec ratio predicts the measured H200/H100 "
             "speed-up: 'bandwidth' or 'flops'?",
             expected=lambda: "flops", choices=("bandwidth", "flops"),
             hint="in bf16 each 2-byte weight does 2 FLOPs per sequence, so batch 768 does about "
                  "768 FLOPs per weight byte: past both ridges (295 and 206 FLOP/byte).",
             explanation="past the ridge the step is compute-bound, and both cards have the same "
                         "Hopper tensor cores: speed-up about 1.0."),
    Exercise("04.batch-fits",
             "How many sequences of 8192 tokens (bf16 KV cache) fit on one H200 beside "
             "llama-3.1-70b in fp8?",
             expected=lambda: batch_that_fits("llama-3.1-70b", get_hardware("H200").memory_bytes, 8192,
                                             weight_bytes=1),
             unit="sequences", rtol=0.0, close_rtol=0.1,
             hint="(the H200's usable 143,771 MiB = 150.75e9 bytes - weights) / (8192 x KV bytes per token); round down."),
)
