"""Lesson 07 exercises: prefill against decode, and the price of output tokens."""

from .. import reference, serving
from ..explorers.prefill_decode import (measured_output_input_ratio,
                                         measured_prefill_tokens_per_second)
from ..roofline import decode_step, prefill_step
from . import Exercise, register

MODEL, CHIP = "llama-3.1-8b", "H100-SXM"


def _cache_fraction_measured():
    kv = reference.reference_model_config("h100")["kv_bytes_per_token"]
    link = reference.load("h100")["host_and_pcie"]["h2d_pinned_GBps"] * 1e9
    return kv / link * measured_prefill_tokens_per_second("h100", 1024)


register(
    Exercise("07.intensities",
             "Prefill intensity of a 2048-token prompt over batch-1 decode intensity at context "
             "2048 (llama-3.1-8b, H100).",
             expected=lambda: (prefill_step(MODEL, CHIP, 2048).intensity
                               / decode_step(MODEL, CHIP, 1, 2048).intensity),
             unit="(a ratio)",
             hint="il.prefill_step(...).intensity / il.decode_step(...).intensity."),
    Exercise("07.measured-ratio",
             "Measured cost of an output token over an input token: decode at batch 64, context "
             "1024, against the prefill of a 1024-token prompt (H100).",
             expected=lambda: measured_output_input_ratio("h100", 64, 1024), unit="(a ratio)",
             hint="(decode seconds / 64) / (prefill seconds / 1024): the price per hour cancels."),
    Exercise("07.request-cost",
             "Dollars for one request of 2000 input and 500 output tokens, decoded at batch 64 on "
             "one H100 at your price per GPU-hour.",
             expected=lambda usd_per_gpu_hour: serving.request_cost(
                 MODEL, CHIP, 2000, 500, 64, usd_per_gpu_hour=usd_per_gpu_hour).total_usd,
             unit="dollars",
             hint="input: the prefill's chip time; output: 499 decode steps, each shared by 64 "
                  "sequences; chip time x price per second."),
    Exercise("07.cache-hit",
             "Time to copy a token's KV cache from host memory (measured pinned PCIe bandwidth) "
             "as a fraction of the measured time to prefill it (1024-token prompt).",
             expected=_cache_fraction_measured, unit="(a fraction)",
             hint="131 072 bytes / (52.2e9 bytes/s), divided by (prefill seconds / 1024)."),
)
