"""Lesson 06 exercises: batching, the knee, the MoE knee, fast tiers."""

from ..batching import batch_shrink_for_tier, batch_sweep, knee_batch, moe_knee_batch
from . import Exercise, register

#: The GPU-hour price DeepSeek assumed for an H800 in its published cost accounting
#: (open-infra-index, Day 6 "DeepSeek-V3/R1 Inference System Overview", Feb 2025).
DEEPSEEK_USD_PER_GPU_HOUR = 2.0


def _cost_at_256():
    curves = batch_sweep("llama-3.1-8b", "H100-SXM", 256, 1024)
    return float(curves.usd_per_million_tokens(DEEPSEEK_USD_PER_GPU_HOUR))


register(
    Exercise("06.cost-per-million",
             "Dollars per million output tokens for llama-3.1-8b on one H100 SXM at batch 256, "
             "context 1024, renting the GPU at $2 per hour (roofline step time).",
             expected=_cost_at_256, unit="dollars per million tokens",
             hint="step seconds x ($2 / 3600 s) / 256 tokens x 1e6; or batch_sweep(...)"
                  ".usd_per_million_tokens(2.0)."),
    Exercise("06.knee-h100",
             "The knee B* of an H100 SXM with bf16 weights (2 bytes each), from its spec sheet.",
             expected=lambda: knee_batch("H100-SXM"), unit="tokens",
             hint="peak FLOP/s x bytes per weight / (2 x bandwidth): 989e12 x 2 / (2 x 3.35e12)."),
    Exercise("06.deepseek-knee",
             "The knee of deepseek-v3's routed experts (256 experts, top-8) on an H100-class chip "
             "with fp8 weights (1 byte) and fp8 compute.",
             expected=lambda: moe_knee_batch("H100-SXM", 256, 8, weight_bytes=1, compute_dtype="fp8"),
             unit="tokens per decode step",
             hint="B* with fp8 (peak fp8 FLOP/s x 1 byte / (2 x bandwidth)), times experts / top_k."),
    Exercise("06.tier-batch-shrink",
             "A fast tier is 2.5 times faster per user at 6 times the price per token. If price "
             "tracks cost, how many times smaller is its batch?",
             expected=lambda: batch_shrink_for_tier(2.5, 6), unit="(a ratio)",
             hint="cost per token = step time / batch; write both tiers' costs and divide."),
)
