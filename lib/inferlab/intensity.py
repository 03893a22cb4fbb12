"""Arithmetic intensity (FLOP per byte) of the operations inside a transformer, and the
batch at which a matrix product stops being memory-bound.

An operation whose intensity is below a chip's ridge point (peak FLOP/s / bandwidth) is
memory-bound there; above it, compute-bound. Everything takes scalars or numpy arrays
(which broadcast) and counts FLOPs (2 per multiply-add) and bytes moved to and from the
chip's main memory, each operand once: the ideal a perfect kernel would reach.

Attention functions count **one layer**; multiply by the number of layers for a model.
"""
from __future__ import annotations

import numpy as np

from ._validate import positive, same_shape
from .hardware import get_hardware
from .roofline import matmul_bytes, matmul_flops


# --- matrix products ------------------------------------------------------------------
def matmul_intensity(m, k, n, *, input_bytes=2, weight_bytes=None, output_bytes=None):
    """FLOP per byte of X[m,k] @ W[k,n]: 2 m k n / bytes moved.

    ``weight_bytes`` and ``output_bytes`` default to ``input_bytes``. For m much smaller
    than k and n the weights dominate the bytes and the intensity is about 2 m / weight_bytes:
    m FLOP per byte in bf16, whatever k and n are.
    """
    same_shape(**locals())
    weight_bytes = input_bytes if weight_bytes is None else weight_bytes
    output_bytes = input_bytes if output_bytes is None else output_bytes
    moved = matmul_bytes(m, k, n, input_bytes=input_bytes, weight_bytes=weight_bytes,
                                 output_bytes=output_bytes)
    return matmul_flops(m, k, n) / moved


def knee_batch(hardware, *, weight_bytes=2, compute_dtype="bf16"):
    """Rows m (tokens in a batch) at which a weight-dominated matrix product turns
    compute-bound: peak FLOP/s x weight_bytes / (2 x bandwidth).

    Derivation: reading the weights takes k n weight_bytes / bandwidth; the math takes
    2 m k n / peak. They are equal at m = peak weight_bytes / (2 bandwidth); k and n cancel.
    (X and the output are ignored; they move the exact knee a little, see ``matmul_intensity``.)
    For bf16 weights and bf16 math this is the ridge point itself.
    """
    chip = get_hardware(hardware)
    weight_bytes = positive(weight_bytes, "weight_bytes")
    return chip.peak_flops(compute_dtype) * weight_bytes / (2.0 * chip.memory_bandwidth)


def knee_from_sweep(rows, seconds, *, flat_up_to=64):
    """The knee of a measured sweep of X[m,k] @ W[k,n] over m (k and n fixed), in rows.

    The flat part: the median time of the sweep's points with m <= ``flat_up_to`` (reading
    the weights dominates). The rising part: the fastest time per row of any point (the best
    compute throughput measured). The knee is where the two lines meet: flat / (s per row).
    """
    positive(flat_up_to, "flat_up_to", scalar=True)
    rows = np.atleast_1d(positive(rows, "rows"))
    seconds = np.atleast_1d(positive(seconds, "seconds"))
    if rows.shape != seconds.shape:
        raise ValueError(f"rows and seconds must have the same shape, got {rows.shape} and {seconds.shape}")
    flat = rows <= positive(flat_up_to, "flat_up_to")
    if not flat.any():
        raise ValueError(f"no point of the sweep has rows <= flat_up_to ({flat_up_to}); "
                         f"the smallest is {rows.min():g}")
    return float(np.median(seconds[flat]) / np.min(seconds / rows))


# --- attention, one layer -------------------------------------------------------------
def _heads(heads, kv_heads):
    heads = positive(heads, "heads", integer=True)
    kv_heads = positive(kv_heads, "kv_heads", integer=True)
    if np.any(np.asarray(kv_heads) > heads):
        raise ValueError(f"kv_heads ({kv_heads}) cannot exceed heads ({heads})")
    return heads, kv_heads


def prefill_attention_flops(prompt, heads, head_dim, *, batch=1, causal=True):
    """FLOPs of attention over a prompt of ``prompt`` tokens, one layer.

    Each (query, key) pair costs 4 x head_dim per query head: 2 head_dim for the score
    q.k and 2 head_dim to add its share of v. A causal prompt has prompt (prompt + 1) / 2
    pairs, a non-causal one prompt^2.
    """
    same_shape(**locals())
    prompt = positive(prompt, "prompt", integer=True)
    pairs = prompt * (prompt + 1) / 2.0 if causal else prompt * prompt
    return (positive(batch, "batch", integer=True) * pairs * 4.0
            * positive(heads, "heads", integer=True) * positive(head_dim, "head_dim", integer=True))


def prefill_attention_bytes(prompt, heads, kv_heads, head_dim, *, batch=1, bytes_per_value=2):
    """Bytes a fused (flash-attention style) prefill attention moves, one layer: Q, K and V
    read once, the output written once. The scores stay on chip.

    = batch x prompt x head_dim x (2 heads + 2 kv_heads) x bytes_per_value.
    """
    same_shape(**locals())
    heads, kv_heads = _heads(heads, kv_heads)
    tokens = positive(batch, "batch", integer=True) * positive(prompt, "prompt", integer=True)
    return (tokens * positive(head_dim, "head_dim", integer=True) * (2.0 * heads + 2.0 * kv_heads)
            * positive(bytes_per_value, "bytes_per_value"))


def prefill_attention_intensity(prompt, heads, kv_heads, *, bytes_per_value=2, causal=True):
    """FLOP per byte of prefill attention: heads (prompt + 1) / ((heads + kv_heads) bytes)
    when causal (twice heads x prompt / (...) when not). It grows with the prompt: a long
    prompt is compute-bound. Batch and head_dim cancel."""
    same_shape(**locals())
    flops = prefill_attention_flops(prompt, heads, 1, causal=causal)
    return flops / prefill_attention_bytes(prompt, heads, kv_heads, 1, bytes_per_value=bytes_per_value)


def decode_attention_flops(context, heads, head_dim, *, batch=1):
    """FLOPs for each of ``batch`` new tokens to attend to ``context`` cached positions,
    one layer: 4 x head_dim per query head per position."""
    same_shape(**locals())
    return (positive(batch, "batch", integer=True) * positive(context, "context", integer=True) * 4.0
            * positive(heads, "heads", integer=True) * positive(head_dim, "head_dim", integer=True))


def decode_attention_bytes(context, heads, kv_heads, head_dim, *, batch=1, bytes_per_value=2):
    """Bytes a decode step's attention moves, one layer: each sequence reads its own
    ``context`` cached keys and values, writes the new token's key and value, reads its
    query and writes its output.

    = batch x head_dim x (2 kv_heads (context + 1) + 2 heads) x bytes_per_value.
    """
    same_shape(**locals())
    heads, kv_heads = _heads(heads, kv_heads)
    context = positive(context, "context", integer=True)
    values = positive(head_dim, "head_dim", integer=True) * (2.0 * kv_heads * (context + 1) + 2.0 * heads)
    return positive(batch, "batch", integer=True) * values * positive(bytes_per_value, "bytes_per_value")


def decode_attention_intensity(context, heads, kv_heads, *, bytes_per_value=2):
    """FLOP per byte of decode attention. For a long context it tends to
    2 heads / (kv_heads x bytes_per_value): the size of a KV-head group in bf16 (1 for
    multi-head attention, 4 for llama-3.1-8b's 32 query and 8 KV heads).

    It does not depend on the batch: every sequence brings its own cache, so bytes grow with
    the FLOPs. Decode attention is memory-bound at any batch on any chip in the catalogue.
    """
    same_shape(**locals())
    flops = decode_attention_flops(context, heads, 1)
    return flops / decode_attention_bytes(context, heads, kv_heads, 1, bytes_per_value=bytes_per_value)
