"""Lesson 08 exercises: the KV cache, long context and the price tier."""

import numpy as np

from .. import kv, reference
from ..models import get_model
from ..roofline import decode_step
from . import Exercise, register


def _measured(kernel, batch=1, context=65536):
    data = reference.decode_steps("h100", kernel)
    pick = (data["batch"] == batch) & (data["context"] == context)
    return float(np.median(data["seconds"][pick]))


def _bound_at_200k():
    batch = int(kv.max_batch("llama-3.1-70b", "H100-SXM", 200_000, chips=8))
    return decode_step("llama-3.1-70b", "H100-SXM", batch, 200_000, chips=8).bound


def _cost_step():
    cost = kv.capped_decode("deepseek-v3", "H200", np.array([200_000, 400_000]), 256,
                            usd_per_gpu_hour=1.0, chips=8, weight_bytes=1).usd_per_million
    return cost[1] / cost[0]


register(
    Exercise("08.kv-bytes",
             "KV-cache bytes per token of llama-3.1-70b in bf16, all layers.",
             expected=lambda: get_model("llama-3.1-70b").kv_bytes_per_token(2), unit="bytes",
             hint="2 (K and V) x layers x KV heads x head_dim x 2 bytes: the 8 KV heads, not the 64 query heads."),
    Exercise("08.max-batch",
             "How many sequences of 131,072 tokens fit beside llama-3.1-70b's bf16 weights on 8 H100s (bf16 cache)?",
             expected=lambda: int(kv.max_batch("llama-3.1-70b", "H100-SXM", 131_072, chips=8)),
             unit="sequences", rtol=0.0, close_rtol=0.0,
             hint="(8 x 85.52e9 usable bytes (81,559 MiB each) - weights) / (131,072 x KV bytes per token), rounded down."),
    Exercise("08.bound-200k",
             "llama-3.1-70b on 8 H100s, context 200,000, the largest batch that fits: memory- or compute-bound?",
             expected=_bound_at_200k, choices=("memory", "compute"),
             hint="how many sequences fit? Is that batch anywhere near the knee of lesson 06?",
             explanation="capacity caps the batch at a handful, far below the ~300 a step needs to be compute-bound."),
    Exercise("08.cost-step",
             "deepseek-v3 (fp8 weights, bf16 cache) on 8 H200s, batch capped by memory (at most 256): "
             "cost per output token at 400k context / at 200k.",
             expected=_cost_step, unit="(a ratio)",
             hint="kv.capped_decode(..., context=[200_000, 400_000], wanted_batch=256, chips=8, weight_bytes=1); "
                  "the price per GPU-hour cancels in the ratio."),
    Exercise("08.splitkv-speedup",
             "Measured on the H100 at batch 1 and 65,536 tokens: SDPA step time / split-KV step time.",
             expected=lambda: _measured("sdpa") / _measured("splitkv"), unit="(a ratio)",
             hint="reference.decode_steps('h100', 'sdpa') and ('h100', 'splitkv'); take the median of the runs.",
             quantity="the speed-up: the SDPA step's seconds over the split-KV step's, both at batch 1 and 65 536 tokens"),
)
