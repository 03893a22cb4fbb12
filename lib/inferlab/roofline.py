"""The roofline model: time = max(bytes / bandwidth, FLOPs / peak).

Every function here takes scalars or numpy arrays (which broadcast) and returns seconds,
bytes and FLOPs per chip. A roofline is a lower bound: a real kernel can only be slower.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .hardware import Hardware, canonical_dtype, get_hardware
from .models import Model, get_model
from ._validate import BYTES_PER_VALUE_MOST, positive, same_shape, whole_count

#: Bytes per stored number for the usual weight and KV-cache formats.
BYTES_PER_VALUE = {"fp32": 4, "bf16": 2, "fp16": 2, "fp8": 1, "int8": 1, "fp4": 0.5, "int4": 0.5}


def bytes_per_value(precision) -> float:
    """Bytes per number for a format name ('bf16' -> 2, 'fp8' -> 1, 'fp4' -> 0.5)."""
    if precision not in BYTES_PER_VALUE:
        raise ValueError(f"precision must be one of {', '.join(BYTES_PER_VALUE)}, got {precision!r}")
    return BYTES_PER_VALUE[precision]


def bound(memory_seconds, compute_seconds):
    """'memory' where memory time is at least compute time, else 'compute' (arrays broadcast)."""
    verdict = np.where(np.asarray(memory_seconds) >= compute_seconds, "memory", "compute")
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


def _cost(model: Model, chip: Hardware, tokens, weight_params, kv_bytes, flops, weight_bytes,
          compute_dtype, chips) -> StepCost:
    # Written to allocate few full-size arrays: on a 1000 x 1000 grid each one costs page
    # faults, and the arrays built by the callers are fresh, so they may be divided in place.
    weight_traffic = weight_params * weight_bytes / chips
    if np.ndim(chips):  # chips as an array broadcasts: new arrays
        kv_traffic, flops = kv_bytes / chips, flops / chips
    elif chips != 1:
        kv_traffic, flops = _scaled(kv_bytes, 1.0 / chips), _scaled(flops, 1.0 / chips)
    else:
        kv_traffic = kv_bytes
    total_bytes = weight_traffic + kv_traffic
    memory_seconds = total_bytes / chip.memory_bandwidth
    compute_seconds = flops / chip.peak_flops(compute_dtype)
    return StepCost(
        seconds=np.maximum(memory_seconds, compute_seconds),
        memory_seconds=memory_seconds,
        compute_seconds=compute_seconds,
        bytes=total_bytes,
        flops=flops,
        weight_bytes=weight_traffic,
        kv_bytes=kv_traffic,
        tokens=tokens,
    )


def _scaled(values, factor):
    """``values * factor``, in place when ``values`` is an array the caller just made."""
    if isinstance(values, np.ndarray) and values.flags.writeable:
        values *= factor
        return values
    return values * factor


def _inputs(model, hardware, weight_bytes, kv_bytes, compute_dtype, chips):
    model, chip = get_model(model), get_hardware(hardware)
    weight_bytes = positive(weight_bytes, "weight_bytes", most=BYTES_PER_VALUE_MOST)
    kv_bytes = positive(kv_bytes, "kv_bytes", most=BYTES_PER_VALUE_MOST)
    chips = positive(chips, "chips", integer=True)
    canonical_dtype(compute_dtype)
    chip.peak_flops(compute_dtype)
    return model, chip, weight_bytes, kv_bytes, chips


def decode_step(model, hardware, batch, context, *, weight_bytes=2, kv_bytes=2,
                compute_dtype="bf16", chips=1) -> StepCost:
    """Roofline cost of one decode step: ``batch`` sequences each add one token after
    ``context`` cached tokens.

    Counts every weight the step needs once (for MoE only the experts the batch is expected
    to touch), the KV cache read for each sequence and written for the new token, and
    FLOPs = 2 x matmul parameters x batch + attention over the context. Work and bytes are
    split evenly over ``chips`` (ideal tensor parallelism, no communication). Activations
    are left out, which keeps the result a lower bound.

    ``weight_bytes`` / ``kv_bytes``: bytes per weight / per cached value (2 for bf16,
    1 for fp8, 0.5 for fp4). Returns a :class:`StepCost` per chip.
    """
    same_shape(**locals())
    model, chip, weight_bytes, kv_bytes, chips = _inputs(
        model, hardware, weight_bytes, kv_bytes, compute_dtype, chips)
    batch = positive(batch, "batch", integer=True)
    context = positive(context, "context", integer=True)
    kv_traffic = _scaled(batch * (context + 1), model.kv_bytes_per_token(kv_bytes))
    flops = batch * (2.0 * model.matmul_params
                     + model.decode_attention_flops_per_position * context)
    tokens = np.broadcast_to(batch, np.broadcast_shapes(np.shape(batch), np.shape(context)))
    return _cost(model, chip, tokens if tokens.ndim else batch, model.weight_params_read(batch),
                 kv_traffic, flops, weight_bytes, compute_dtype, chips)


def prefill_step(model, hardware, prompt, batch=1, *, weight_bytes=2, kv_bytes=2,
                 compute_dtype="bf16", chips=1) -> StepCost:
    """Roofline cost of processing ``batch`` prompts of ``prompt`` tokens in one pass.

    Reads the weights the ``batch x prompt`` tokens need once, writes their KV cache, and
    does 2 x matmul parameters FLOPs per token plus causal attention:
    ``prompt (prompt + 1) / 2`` query-key pairs per sequence. Per chip, as ``decode_step``.
    """
    same_shape(**locals())
    model, chip, weight_bytes, kv_bytes, chips = _inputs(
        model, hardware, weight_bytes, kv_bytes, compute_dtype, chips)
    prompt = positive(prompt, "prompt", integer=True)
    batch = positive(batch, "batch", integer=True)
    tokens = batch * prompt
    kv_traffic = tokens * model.kv_bytes_per_token(kv_bytes)
    pairs = batch * prompt * (prompt + 1) / 2.0
    flops = 2.0 * model.matmul_params * tokens + model.prefill_attention_flops_per_pair * pairs
    return _cost(model, chip, tokens, model.weight_params_read(tokens), kv_traffic, flops,
                 weight_bytes, compute_dtype, chips)


def weight_bytes_needed(model, weight_bytes=2):
    """Bytes of weights a batch-1 decode step reads: all but the embedding table, which is
    only looked up (one row per token)."""
    model = get_model(model)
    return model.weight_params_read(1) * positive(weight_bytes, "weight_bytes")


def latency_floor(model, hardware, *, weight_bytes=2, chips=1):
    """Seconds a decode step cannot beat: the weight bytes a batch-1 step needs / bandwidth.

    Batching cannot lower it (a bigger batch reads the same weights); only more bandwidth
    (a faster chip, more chips sharing the bytes) or fewer bytes (lower precision) can.
    """
    same_shape(**locals())
    chip = get_hardware(hardware)
    chips = positive(chips, "chips", integer=True)
    return weight_bytes_needed(model, weight_bytes) / chips / chip.memory_bandwidth


def chips_to_hold(model, hardware, *, weight_bytes=2, reserve_fraction=0.0, kv_budget_bytes=0.0):
    """Fewest chips whose memory holds all of ``model``'s weights plus ``kv_budget_bytes`` of
    KV cache (whole chips; memory pooled as if split perfectly).

    ``reserve_fraction`` of each chip's memory is kept free (activations, the runtime).
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
