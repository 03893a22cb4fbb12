"""Figures that put the model's predictions next to the shipped measurements."""
from __future__ import annotations

import numpy as np

from . import reference
from .hardware import get_hardware
from .plotting import MEASURED, PALETTE, figure
from .roofline import decode_step, latency_floor


def measured_decode_steps(device: str, context: int):
    """``(chip, data, pick)``: the catalogue chip of a reference ``device``, its measured
    decode steps (``reference.decode_steps``, SDPA) and the mask of those at ``context``."""
    chip = get_hardware(reference.CATALOGUE_NAME[device])
    data = reference.decode_steps(device, "sdpa")
    pick = data["context"] == context
    if not pick.any():
        raise ValueError(f"no {device} decode measurement at context {context}; "
                         f"measured contexts: {sorted(set(data['context'].tolist()))}")
    return chip, data, pick


def decode_vs_batch(device: str = "h100", context: int = 128, model: str = "llama-3.1-8b",
                    ax=None, measured_roofline: bool = True):
    """Measured decode step time against batch at one context length, with the spec-sheet
    roofline, the roofline with measured bandwidth and FLOP/s, and the latency floor."""
    if ax is None:
        _, ax = figure()
    chip, data, pick = measured_decode_steps(device, context)
    batch = np.unique(np.concatenate([np.geomspace(1, data["batch"][pick].max(), 200).round(),
                                      data["batch"][pick]]))
    ax.plot(batch, decode_step(model, chip, batch, context).seconds * 1e3,
            color=PALETTE["blue"], label=f"roofline, spec sheet ({chip.memory_bandwidth / 1e12:.3g} TB/s)")
    if measured_roofline:
        measured = reference.measured_hardware(device)
        ax.plot(batch, decode_step(model, measured, batch, context).seconds * 1e3,
                color=PALETTE["sky"], linestyle="--",
                label=f"roofline with measured ({measured.memory_bandwidth / 1e12:.3g} TB/s, "
                      f"{measured.peak_flops('bf16') / 1e12:.0f} TFLOP/s; not a bound)")
    ax.axhline(latency_floor(model, chip) * 1e3, color=PALETTE["vermillion"], linestyle=":",
               label="latency floor (weights / spec bandwidth)")
    ax.plot(data["batch"][pick], data["seconds"][pick] * 1e3, color=PALETTE["black"],
            label=f"measured on {chip.name}, context {context}", **MEASURED)
    ax.set(xscale="log", xlabel="batch (sequences per step)", ylabel="time per decode step (ms)",
           title=f"{model} decode step on {chip.name}")
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left")
    return ax


def floor_gap(device: str = "h100", model: str = "llama-3.1-8b", ax=None):
    """Bars from the spec-sheet floor to the measured batch-1 step, with and without CUDA
    graphs: where the time goes. Returns (axes, dict of the seconds drawn)."""
    if ax is None:
        _, ax = figure(height=3.2)
    chip = get_hardware(reference.CATALOGUE_NAME[device])
    graph = reference.decode_steps(device, "sdpa")
    eager = reference.decode_steps(device, "eager")
    first = (graph["batch"] == 1) & (graph["context"] == 128)
    first_eager = (eager["batch"] == 1) & (eager["context"] == 128)
    seconds = {
        "floor, spec bandwidth": latency_floor(model, chip),
        "floor, measured bandwidth": latency_floor(model, reference.measured_hardware(device)),
        "measured step\n(CUDA graph)": float(np.median(graph["seconds"][first])),
        "measured step\n(no graph: launch overhead)": float(np.median(eager["seconds"][first_eager])),
    }
    colours = [PALETTE["blue"], PALETTE["sky"], PALETTE["black"], PALETTE["orange"]]
    names = list(seconds)
    values = np.array(list(seconds.values())) * 1e3
    ax.barh(names, values, color=colours)
    for y, value in enumerate(values):
        ax.text(value + 0.05, y, f"{value:.2f} ms", va="center", fontsize=9)
    ax.invert_yaxis()
    ax.set(xlabel="ms per decode step, batch 1", title=f"{model} on {chip.name}: model vs measured")
    ax.set_xlim(0, values.max() * 1.18)
    return ax, seconds
