"""The roofline model: time = max(bytes / bandwidth, FLOPs / peak).

Every function here takes scalars or numpy arrays (which broadcast) and returns seconds,
bytes and FLOPs per chip. A roofline is a lower bound: a real kernel can only be slower.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .hardware import Hardware, canonical_dtype, get_hardware
from .models import get_model
from ._validate import BYTES_PER_VALUE_MOST, positive, same_shape, whole_count

#: Bytes per stored number for the usual weight and KV-cache formats.
BYTES_PER_VALUE = {"fp32": 4, "bf16": 2, "fp16": 2, "fp8": 1, "int8": 1, "fp4": 0.5, "int4": 0.5}


def bytes_per_value(precision) -> float:
    """Bytes per number for a format name ('bf16' -> 2, 'fp8' -> 1, 'fp4' -> 0.5)."""
    if precision not in BYTES_PER_VALUE:
        raise ValueError(f"precision must be one of {', '.join(BYTES_PER_VALUE)}, got {precision!r}")
    return BYTES_PER_VALUE[precision]


def bound(memory_seconds, compute_seconds):
    """'memory' where memory time is at least compute time, else 'compute' (arrays broadcast).

    A compute time of ``nan`` (a chip with no compute figure) counts as 'memory': the bytes
    are then the only bound known."""
    verdict = np.where(~(np.asarray(compute_seconds) > memory_seconds), "memory", "compute")
    return str(verdict) if verdict.ndim == 0 else verdict


@dataclass(frozen=True)
class StepCost:
    """Cost of one step on one chip. Seconds in s, bytes in bytes, flops in FLOP.

    ``weight_bytes`` and ``kv_bytes`` split ``bytes``; ``memory_seconds`` and
    ``compute_seconds`` are the two roofs and ``seconds`` the larger of them.
    """

    seconds: object
    memory_seconds: object
    compute_seconds: object
    bytes: object
    flops: object
    weight_bytes: object
    kv_bytes: object
    tokens: object

    @property
    def bound(self):
        """'memory' or 'compute' (an array of them for array inputs)."""
        return bound(self.memory_seconds, self.compute_seconds)

    @property
    def intensity(self):
        """Arithmetic intensity of the step, FLOP per byte."""
        return self.flops / self.bytes

    @property
    def tokens_per_second(self):
        """Tokens this step produces (decode) or consumes (prefill) per second, per chip."""
        return self.tokens / self.seconds


def roofline_seconds(flops, bytes_moved, hardware, compute_dtype="bf16"):
    """max(bytes / bandwidth, flops / peak) in seconds for work on one chip."""
    chip = get_hardware(hardware)
    flops = positive(flops, "flops", allow_zero=True)
    bytes_moved = positive(bytes_moved, "bytes_moved", allow_zero=True)
    return np.maximum(bytes_moved / chip.memory_bandwidth, flops / chip.peak_flops(compute_dtype))


def matmul_flops(m, k, n):
    """FLOPs of X[m,k] @ W[k,n]: one multiply and one add per term, 2 m k n."""
    same_shape(**locals())
    return 2.0 * positive(m, "m") * positive(k, "k") * positive(n, "n")


def matmul_bytes(m, k, n, bytes_per_value=2, *, input_bytes=None, weight_bytes=None,
                 output_bytes=None):
    """Bytes of X[m,k] @ W[k,n] = Y[m,n], each read or written once:
    m k x input_bytes + k n x weight_bytes + m n x output_bytes.

    Each width defaults to ``bytes_per_value``. Example: fp8 inputs and weights with a bf16
    output (how ``reference.gemm_sweep('h100', 'fp8')`` counts): input_bytes=1,
    weight_bytes=1, output_bytes=2.
    """
    same_shape(**locals())
    m, k, n = positive(m, "m"), positive(k, "k"), positive(n, "n")
    width = positive(bytes_per_value, "bytes_per_value")
    def each(value, name):
        return width if value is None else positive(value, name)
    return (m * k * each(input_bytes, "input_bytes") + k * n * each(weight_bytes, "weight_bytes")
            + m * n * each(output_bytes, "output_bytes"))


#: How a step's attention is split over several chips (see ``attention_layout``).
ATTENTION_LAYOUTS = ("auto", "tensor", "data")


def attention_layout(model, attention="auto", chips=1) -> str:
    """The attention layout a step on ``chips`` chips uses: 'tensor' or 'data'.

    - 'tensor' (tensor-parallel attention, Megatron-style): each chip takes a share of the
      query and KV heads. A KV head cannot be split, so with more chips than KV heads each
      chip still holds a whole head (the cache is replicated), and MLA's single latent is
      held in full on every chip.
    - 'data' (data-parallel attention): each chip runs the whole attention (all its
      weights) for its own sequences and holds their whole cache; the feed-forward part
      (experts, dense MLP, output head) is still split over the chips.

    'auto' is what deployments do: 'data' for latent attention (MLA) on more than one chip
    (DeepSeek's own serving and SGLang's DP attention), 'tensor' otherwise (vLLM's and
    TensorRT-LLM's default for MHA/GQA). On one chip the two are the same.
    """
    if attention not in ATTENTION_LAYOUTS:
        raise ValueError(f"attention must be one of {', '.join(ATTENTION_LAYOUTS)}, got {attention!r}")
    if attention == "auto":
        return "data" if get_model(model).mla is not None else "tensor"
    return attention


def kv_heads_stored(model) -> int:
    """KV heads a chip must hold whole: the model's KV heads, or 1 for MLA's shared latent."""
    model = get_model(model)
    return 1 if model.mla is not None else model.kv_heads


def kv_share_per_chip(model, chips, attention="auto"):
    """Share of each of its sequences' KV cache that one chip holds, for ``chips`` chips.

    Tensor-parallel attention: ceil(H_kv / N) / H_kv, where H_kv is the number of KV heads
    (1 for MLA): 1 / N while the heads divide evenly, but never less than one whole head,
    so with more chips than KV heads the cache is replicated (8 KV heads on 16 chips: each
    chip holds 1/8, twice the naive 1/16; MLA: the whole latent on every chip).
    Data-parallel attention: 1 (a chip holds the whole cache of the sequences it serves).
    """
    chips = positive(chips, "chips", integer=True)
    if attention_layout(model, attention, chips) == "data":
        return np.ones_like(np.asarray(chips, dtype=float)) if np.ndim(chips) else 1.0
    heads = kv_heads_stored(model)
    return np.ceil(heads / chips) / heads


def _attention_params(model) -> int:
    """Weights of all layers' attention projections."""
    return model.layers * model.attention_params_per_layer


def weight_bytes_per_chip(model, chips, *, weight_bytes=2, attention="auto", tokens=None):
    """Bytes of weights each of ``chips`` chips holds (``tokens=None``: all weights, for
    capacity) or reads in a step over ``tokens`` tokens (the experts they touch and their
    embedding rows): split evenly, except that data-parallel attention keeps all attention
    weights on every chip."""
    same_shape(**locals())
    model = get_model(model)
    chips = positive(chips, "chips", integer=True)
    total = model.total_params if tokens is None else model.weight_params_read(tokens)
    attention_params = _attention_params(model)
    if attention_layout(model, attention, chips) == "data":
        params = attention_params + (total - attention_params) / chips
    else:
        params = total / chips
    return params * positive(weight_bytes, "weight_bytes")


def _split_step(model, chip, chips, attention, sequences, tokens_per_sequence, head_tokens,
                weight_params, kv_per_sequence, attention_flops_per_sequence, weight_bytes,
                compute_dtype) -> StepCost:
    """One step's cost on the busiest of ``chips`` chips.

    ``sequences`` sequences of ``tokens_per_sequence`` new tokens each; ``head_tokens``
    tokens go through the output head; ``weight_params`` weights are read;
    ``kv_per_sequence`` KV bytes each sequence moves; ``attention_flops_per_sequence``.
    """
    matmul_body = model.matmul_params - model.head_params
    head_flops = 2.0 * model.head_params * head_tokens
    if attention_layout(model, attention, chips) == "data":
        # each chip runs the whole attention for its own ceil(B / N) sequences
        local = np.ceil(sequences / chips)
        attention_params = _attention_params(model)
        weights = (attention_params + (weight_params - attention_params) / chips) * weight_bytes
        kv = local * kv_per_sequence
        flops = (local * (2.0 * attention_params * tokens_per_sequence + attention_flops_per_sequence)
                 + (2.0 * (matmul_body - attention_params) * sequences * tokens_per_sequence
                    + head_flops) / chips)
    else:
        weights = weight_params * weight_bytes / chips
        kv = sequences * kv_per_sequence * kv_share_per_chip(model, chips, "tensor")
        flops = (2.0 * matmul_body * sequences * tokens_per_sequence + head_flops
                 + sequences * attention_flops_per_sequence) / chips
    total_bytes = weights + kv
    memory_seconds = total_bytes / chip.memory_bandwidth
    peak = _peak(chip, compute_dtype)
    compute_seconds = flops / peak if peak is not None else np.full_like(np.asarray(memory_seconds,
                                                                                  dtype=float), np.nan)
    if np.ndim(compute_seconds) == 0:
        compute_seconds = float(compute_seconds)
    tokens = sequences * tokens_per_sequence
    shape = np.broadcast_shapes(np.shape(tokens), np.shape(total_bytes))
    return StepCost(
        seconds=np.fmax(memory_seconds, compute_seconds),
        memory_seconds=memory_seconds,
        compute_seconds=compute_seconds,
        bytes=total_bytes,
        flops=flops,
        weight_bytes=weights,
        kv_bytes=kv,
        tokens=np.broadcast_to(tokens, shape) if shape else tokens,
    )


def _peak(chip: Hardware, compute_dtype):
    """Peak FLOP/s for ``compute_dtype``; ``None`` for a chip with no compute figure at all
    (its steps are then priced by their bytes alone); a ``ValueError`` for a chip that has
    other precisions but not this one."""
    if not chip.flops:
        canonical_dtype(compute_dtype)
        return None
    return chip.peak_flops(compute_dtype)


def _inputs(model, hardware, weight_bytes, kv_bytes, compute_dtype, chips):
    model, chip = get_model(model), get_hardware(hardware)
    weight_bytes = positive(weight_bytes, "weight_bytes", most=BYTES_PER_VALUE_MOST)
    kv_bytes = positive(kv_bytes, "kv_bytes", most=BYTES_PER_VALUE_MOST)
    chips = positive(chips, "chips", integer=True)
    canonical_dtype(compute_dtype)
    _peak(chip, compute_dtype)
    return model, chip, weight_bytes, kv_bytes, chips


def decode_step(model, hardware, batch, context, *, weight_bytes=2, kv_bytes=2,
                compute_dtype="bf16", chips=1, attention="auto") -> StepCost:
    """Roofline cost of one decode step: ``batch`` sequences each add one token after
    ``context`` cached tokens.

    Counts every weight the step needs once (for MoE only the experts the batch is expected
    to touch), the KV cache read for each sequence and written for the new token, and
    FLOPs = 2 x matmul parameters x batch + attention over the context. Activations are
    left out, which keeps the result a lower bound.

    On ``chips`` chips the result is the busiest chip's share, with no communication (for
    the all-reduces tensor parallelism adds, see ``parallelism.parallel_decode``). Weights
    and feed-forward work are split evenly; ``attention`` chooses how attention is split
    (see ``attention_layout``): 'tensor' replicates the KV cache where there are more chips
    than KV heads (MLA: the whole latent on every chip), 'data' keeps all attention weights
    on every chip and gives each chip ceil(batch / chips) whole sequences. 'auto': 'data'
    for MLA, 'tensor' otherwise.

    ``weight_bytes`` / ``kv_bytes``: bytes per weight / per cached value (2 for bf16,
    1 for fp8, 0.5 for fp4). A chip with no compute figure at all gets a compute time of
    ``nan`` and ``seconds`` = the memory time: still a lower bound, from the bytes alone.
    Returns a :class:`StepCost` per chip.
    """
    same_shape(**locals())
    model, chip, weight_bytes, kv_bytes, chips = _inputs(
        model, hardware, weight_bytes, kv_bytes, compute_dtype, chips)
    batch = positive(batch, "batch", integer=True)
    context = positive(context, "context", integer=True)
    kv_per_sequence = (context + 1.0) * model.kv_bytes_per_token(kv_bytes)
    attention_flops = model.decode_attention_flops_per_position * context
    return _split_step(model, chip, chips, attention, batch, 1, batch,
                       model.weight_params_read(batch), kv_per_sequence, attention_flops,
                       weight_bytes, compute_dtype)


def prefill_step(model, hardware, prompt, batch=1, *, cached=0, weight_bytes=2, kv_bytes=2,
                 compute_dtype="bf16", chips=1, attention="auto") -> StepCost:
    """Roofline cost of processing ``batch`` prompts of ``prompt`` new tokens in one pass,
    each on top of ``cached`` tokens already in its KV cache (a prefix-cache hit; 0: none).

    Reads the weights the ``batch x prompt`` tokens need once, reads the cached prefix's KV
    cache and writes the new tokens', and does 2 x (matmul parameters - output head) FLOPs
    per new token, the output head once per sequence (a server needs logits for the last
    token only), and causal attention: ``prompt x cached + prompt (prompt + 1) / 2``
    query-key pairs per sequence. Per chip, as ``decode_step`` (same ``chips`` and
    ``attention``).
    """
    same_shape(**locals())
    model, chip, weight_bytes, kv_bytes, chips = _inputs(
        model, hardware, weight_bytes, kv_bytes, compute_dtype, chips)
    prompt = positive(prompt, "prompt", integer=True)
    batch = positive(batch, "batch", integer=True)
    cached = positive(cached, "cached", integer=True, allow_zero=True)
    kv_per_sequence = (prompt + cached) * model.kv_bytes_per_token(kv_bytes)
    pairs = prompt * cached + prompt * (prompt + 1) / 2.0
    attention_flops = model.prefill_attention_flops_per_pair * pairs
    return _split_step(model, chip, chips, attention, batch, prompt, batch,
                       model.weight_params_read(batch * prompt), kv_per_sequence,
                       attention_flops, weight_bytes, compute_dtype)


def weight_bytes_needed(model, weight_bytes=2):
    """Bytes of weights a batch-1 decode step reads: all but the embedding table, which is
    only looked up (one row per token)."""
    model = get_model(model)
    return model.weight_params_read(1) * positive(weight_bytes, "weight_bytes")


def latency_floor(model, hardware, *, weight_bytes=2, chips=1):
    """Seconds a decode step cannot beat: the weight bytes a batch-1 step needs / bandwidth.

    Batching cannot lower it (a bigger batch reads the same weights); only more bandwidth
    (a faster chip, more chips sharing the bytes) or fewer bytes (lower precision) can.

    With ``chips`` > 1 this is the *ideal*: the bytes split evenly and no communication,
    so it falls as 1 / chips. Real tensor parallelism adds two all-reduces per layer and
    stops paying off after a few chips: ``parallelism.parallel_decode(model, hardware, 1,
    context, tensor_parallel=chips).token_seconds`` includes them.
    """
    same_shape(**locals())
    chip = get_hardware(hardware)
    chips = positive(chips, "chips", integer=True)
    return weight_bytes_needed(model, weight_bytes) / chips / chip.memory_bandwidth


def chips_to_hold(model, hardware, *, weight_bytes=2, reserve_fraction=0.0, kv_budget_bytes=0.0):
    """Fewest chips whose memory holds all of ``model``'s weights plus ``kv_budget_bytes`` of
    KV cache (whole chips), with ``memory_bytes``, the usable capacity, per chip.

    Memory is pooled as if split perfectly: splitting the layers over the chips (pipeline
    parallelism) gets close to that. Tensor-parallel attention can need more, because it
    replicates the KV cache past the number of KV heads, and data-parallel attention keeps
    all attention weights on every chip: ``kv.max_batch(..., chips=N)`` counts what fits
    with those layouts. ``reserve_fraction`` of each chip's memory is kept free
    (activations, the runtime).
    """
    same_shape(**locals())
    model, chip = get_model(model), get_hardware(hardware)
    reserve = positive(reserve_fraction, "reserve_fraction", allow_zero=True)
    if np.any(np.asarray(reserve) >= 1):
        raise ValueError(f"reserve_fraction must be below 1, got {reserve_fraction!r}")
    need = model.total_params * positive(weight_bytes, "weight_bytes") \
        + positive(kv_budget_bytes, "kv_budget_bytes", allow_zero=True)
    chips = np.ceil(need / (chip.memory_bytes * (1.0 - reserve)))
    return whole_count(chips, "the number of chips these weight_bytes and kv_budget_bytes need")
