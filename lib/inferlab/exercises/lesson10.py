"""Lesson 10 exercises: pipeline, tensor and expert parallelism."""

from .. import parallelism as par
from . import Exercise, register


def _latency(**settings):
    return par.parallel_decode("llama-3.1-405b", "H100-SXM", 1, 4096, weight_bytes=1,
                               compute_dtype="fp8", link="NVLink 4", **settings).token_seconds


register(
    Exercise("10.chips-405b-bf16",
             "How many H100s (80 GB) hold llama-3.1-405b's weights in bf16, with no room for KV cache?",
             expected=lambda: par.chips_to_serve("llama-3.1-405b", "H100-SXM", weight_bytes=2),
             unit="chips", rtol=0.0, close_rtol=0.0,
             hint="weight bytes / 85.52e9 usable bytes per chip (nvidia-smi's 81,559 MiB, not the vendor's 80 GB), rounded up to a whole chip."),
    Exercise("10.all-reduce",
             "One all-reduce of llama-3.1-70b's activations for 32 tokens (bf16) over 8 H100s on "
             "NVLink 4, with the table's 10 µs per collective.",
             expected=lambda: par.all_reduce_seconds(32 * 8192 * 2, 8, "NVLink 4", latency=10e-6),
             unit="seconds",
             hint="10e-6 + 2 x (8 - 1) / 8 x (32 x 8192 x 2 bytes) / 450e9 bytes/s (one direction).",
             quantity="the bytes sent: a ring all-reduce sends 2 (n - 1) / n of the message, "
                      "2 bytes per bf16 value, over one direction's 450 GB/s"),
    Exercise("10.pp-over-tp",
             "llama-3.1-405b in fp8 on 8 H100s, batch 1, context 4096: per-token latency with 8 "
             "pipeline stages divided by the latency with tensor parallelism over 8 (NVLink 4).",
             expected=lambda: _latency(stages=8) / _latency(tensor_parallel=8),
             unit="(a ratio)",
             hint="par.parallel_decode(..., stages=8) and (..., tensor_parallel=8); take .token_seconds."),
    Exercise("10.bubble",
             "A 4-stage pipeline serving llama-3.1-70b (bf16, H100, NVLink 4) with one micro-batch "
             "of 8 sequences at context 4096: what fraction of the chips' time is spent working?",
             expected=lambda: par.parallel_decode("llama-3.1-70b", "H100-SXM", 8, 4096, stages=4,
                                                  micro_batches=1).busy_fraction,
             unit="(a fraction between 0 and 1)",
             hint="each stage works on the one micro-batch, then waits for the other three.",
             quantity="the busy share: how many of the 4 stages work at any one moment?"),
)
