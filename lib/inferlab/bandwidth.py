"""Bandwidth, not capacity: offloading, what fits, and why bandwidth predicts speed-ups.

Every function takes scalars or numpy arrays (which broadcast) and works in SI: bytes,
bytes per second, seconds.
"""
from __future__ import annotations

import numpy as np

from . import reference
from ._validate import positive, same_shape
from .kv import batch_that_fits  # noqa: F401  (one home for KV capacity; re-exported for lesson 04)
from .display import Table
from .hardware import get_hardware
from .models import get_model, list_models
from .roofline import decode_step


def _fraction(value, name):
    value = positive(value, name, allow_zero=True)
    if np.any(np.asarray(value) > 1):
        raise ValueError(f"{name} must be between 0 and 1, got {value!r}")
    return value


def offload_step_seconds(weight_bytes, offload_fraction, device_bandwidth, link_bandwidth):
    """Seconds to stream ``weight_bytes`` once when ``offload_fraction`` of them lives off the
    chip: on-chip bytes / ``device_bandwidth`` + off-chip bytes / ``link_bandwidth``.

    The two reads are taken one after the other (a layer cannot start before its weights
    arrive; overlapping them can at best hide the shorter one). Bandwidths in bytes/s.
    """
    same_shape(**locals())
    weight_bytes = positive(weight_bytes, "weight_bytes")
    fraction = _fraction(offload_fraction, "offload_fraction")
    device_bandwidth = positive(device_bandwidth, "device_bandwidth")
    link_bandwidth = positive(link_bandwidth, "link_bandwidth")
    return weight_bytes * ((1.0 - fraction) / device_bandwidth + fraction / link_bandwidth)


def offload_fraction_for_slowdown(slowdown, device_bandwidth, link_bandwidth):
    """The largest fraction of the weights that may live across the link if a step may
    take at most ``slowdown`` times its all-on-chip time: (slowdown - 1) / (B/L - 1).

    Capped at 1 (a link as fast as the memory costs nothing). ``slowdown`` >= 1.
    """
    same_shape(**locals())
    slowdown = positive(slowdown, "slowdown")
    if np.any(np.asarray(slowdown) < 1):
        raise ValueError(f"slowdown must be at least 1 (a step cannot get faster), got {slowdown!r}")
    device_bandwidth = positive(device_bandwidth, "device_bandwidth")
    link_bandwidth = positive(link_bandwidth, "link_bandwidth")
    ratio = np.asarray(device_bandwidth / link_bandwidth, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = np.where(ratio > 1, (np.asarray(slowdown) - 1.0) / (ratio - 1.0), 1.0)
    fraction = np.minimum(fraction, 1.0)
    return float(fraction) if fraction.ndim == 0 else fraction


def largest_model_that_fits(capacity_bytes, *, weight_bytes=2, models=None):
    """The name of the catalogue model with the most parameters whose weights fit in
    ``capacity_bytes`` (``None`` if none does). ``models``: names to choose from."""
    capacity_bytes = positive(capacity_bytes, "capacity_bytes")
    weight_bytes = positive(weight_bytes, "weight_bytes")
    if np.ndim(capacity_bytes) != 0:
        raise ValueError("capacity_bytes must be one number here (one memory system)")
    names = list_models() if models is None else list(models)
    fitting = [get_model(n) for n in names
               if get_model(n).total_params * weight_bytes <= capacity_bytes]
    return max(fitting, key=lambda m: m.total_params).name if fitting else None


# --- generations ------------------------------------------------------------------------

GENERATIONS = ("A100-80GB", "H100-SXM", "H200", "B200")


def generation_table(chips=GENERATIONS, dtype="bf16") -> Table:
    """Bandwidth, dense peak FLOP/s and capacity of each chip, each with its ratio to the
    first's in brackets (how the generations grew), and the ridge point. Seven narrow
    columns, so that the table fits a notebook cell."""
    chips = [get_hardware(c) for c in chips]
    first = chips[0]
    rows = []
    for chip in chips:
        rows.append({
            "chip": chip.name, "year": chip.year, "memory": chip.memory_type,
            "TB/s (x)": f"{chip.memory_bandwidth / 1e12:.3g} ({chip.memory_bandwidth / first.memory_bandwidth:.2f})",
            f"{dtype} TFLOP/s (x)": f"{chip.peak_flops(dtype) / 1e12:.0f} "
                                   f"({chip.peak_flops(dtype) / first.peak_flops(dtype):.2f})",
            "GB (x)": f"{chip.memory_bytes / 1e9:.0f} ({chip.memory_bytes / first.memory_bytes:.2f})",
            "ridge": f"{chip.ridge_point(dtype):.0f}",
        })
    return Table(rows, caption=f"Spec-sheet figures (dense {dtype}); (x): relative to {first.name}; "
                               "ridge in FLOP per byte")


def measured_speedup(kernel: str = "sdpa") -> dict:
    """H200 against H100 on the same decode steps (same script, batch and context).

    Returns arrays ``batch``, ``context``, ``h100_seconds`` (median of the H100's runs),
    ``h200_seconds`` and ``speedup`` = H100 seconds / H200 seconds, one entry per point the
    H200 file holds.
    """
    h100 = reference.decode_steps("h100", kernel)
    h200 = reference.decode_steps("h200", kernel)
    keys = sorted(set(zip(h200["batch"].tolist(), h200["context"].tolist())),
                  key=lambda k: (k[1], k[0]))
    batch, context, slow, fast = [], [], [], []
    for b, c in keys:
        in_h100 = (h100["batch"] == b) & (h100["context"] == c)
        in_h200 = (h200["batch"] == b) & (h200["context"] == c)
        if not in_h100.any():
            continue
        batch.append(b)
        context.append(c)
        slow.append(float(np.median(h100["seconds"][in_h100])))
        fast.append(float(np.median(h200["seconds"][in_h200])))
    slow, fast = np.array(slow), np.array(fast)
    return {"batch": np.array(batch), "context": np.array(context), "h100_seconds": slow,
            "h200_seconds": fast, "speedup": slow / fast}


def predicted_speedup(batch, context, *, model="llama-3.1-8b", measured=True):
    """Roofline prediction of H100 step time / H200 step time for a decode step.

    ``measured=True`` uses each card's measured bandwidth and best GEMM FLOP/s
    (:func:`reference.measured_hardware`); ``False`` the spec sheets. Memory-bound steps
    are predicted to speed up by the bandwidth ratio, compute-bound ones by the FLOP/s
    ratio (about 1: same Hopper compute).
    """
    if measured:
        old, new = reference.measured_hardware("h100"), reference.measured_hardware("h200")
    else:
        old, new = get_hardware("H100-SXM"), get_hardware("H200")
    return (decode_step(model, old, batch, context).seconds
            / decode_step(model, new, batch, context).seconds)


def tokens_per_second_at_full_memory(model, hardware, context, *, weight_bytes=2, kv_bytes=2):
    """Decode tokens/s of one chip (or memory system) whose memory is filled: the weights
    plus as many sequences of ``context`` tokens as fit (:func:`batch_that_fits`).

    While the step stays memory-bound this is about (1 - weights/capacity) x bandwidth /
    (context x KV bytes per token): bandwidth buys throughput only with room for a batch.
    0 where the weights leave no room for one sequence.
    """
    positive(weight_bytes, "weight_bytes", scalar=True)
    positive(kv_bytes, "kv_bytes", scalar=True)
    chip = get_hardware(hardware)
    batch = np.asarray(batch_that_fits(model, chip.memory_bytes, context,
                                       weight_bytes=weight_bytes, kv_bytes=kv_bytes))
    context = np.broadcast_to(np.asarray(context), batch.shape)
    rate = np.zeros(batch.shape)
    fits = batch >= 1
    if np.any(fits):
        step = decode_step(model, chip, batch[fits], context[fits], weight_bytes=weight_bytes,
                           kv_bytes=kv_bytes)
        rate[fits] = step.tokens_per_second
    return float(rate) if rate.ndim == 0 else rate
