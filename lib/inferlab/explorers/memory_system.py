"""Lesson 04: memory technologies side by side, what-ifs, and the memory-system explorer."""
from __future__ import annotations

import numpy as np

from .. import reference
from ..bandwidth import (batch_that_fits, largest_model_that_fits, measured_speedup,
                         offload_step_seconds, predicted_speedup,
                         tokens_per_second_at_full_memory)
from ..display import Table
from ..hardware import get_hardware
from ..memory import get_memory, list_memory, memory_system
from ..models import get_model, list_models
from ..plotting import MEASURED, PALETTE, COLORS, bytes_label, figure, seconds_label
from ..roofline import bytes_per_value, decode_step, latency_floor, weight_bytes_needed
from ..widgets import Explorer

PRECISIONS = ("bf16", "fp8", "fp4")


def memory_table(kind: str | None = None) -> Table:
    """Every technology of ``data/memory.csv``: bandwidth and capacity per unit, the time to
    read a full unit once, energy per bit and price per GB where a source gives them."""
    rows = []
    for name in list_memory(kind):
        tech = get_memory(name)
        full = None if tech.bandwidth_per_capacity is None else 1.0 / tech.bandwidth_per_capacity
        rows.append({
            "technology": tech.name, "one unit is": tech.unit,
            "bandwidth": f"{tech.bandwidth / 1e9:,.4g} GB/s",
            "capacity": "-" if tech.capacity_bytes is None else bytes_label(tech.capacity_bytes),
            "read it all once": "-" if full is None else seconds_label(full),
            "pJ/bit": "-" if tech.energy_per_bit is None else f"{tech.energy_per_bit * 1e12:.3g}",
            "USD/GB": "-" if tech.usd_per_byte is None else f"{tech.usd_per_byte * 1e9:.2g}",
            "confidence": tech.confidence,
        })
    return Table(rows, caption="Per unit, peak figures; links per direction. Sources and "
                               "disagreements: inferlab.memory.get_memory(name).source / .notes")


#: Example memory systems for the what-if: (memory, units, capacity in bytes or None).
WHAT_IF_SYSTEMS = {
    "8 x DDR5-4800 (one Xeon socket, 1 TB)": ("DDR5-4800 channel", 8, 1024e9),
    "Grace LPDDR5X (512 GB)": ("LPDDR5X Grace CPU", 1, None),
    "12 x GDDR6X (384-bit card, 24 GB)": ("GDDR6X device", 12, None),
}
WHAT_IF_CHIPS = ("H100-SXM", "H200", "B200")


def what_if_systems() -> dict:
    """Name -> Hardware for the example DRAM systems and the HBM chips of the what-if."""
    systems = {name: memory_system(tech, count, capacity_bytes=capacity)
               for name, (tech, count, capacity) in WHAT_IF_SYSTEMS.items()}
    systems.update({name: get_hardware(name) for name in WHAT_IF_CHIPS})
    return systems


def what_if_table(model="llama-3.1-70b", precision="bf16") -> Table:
    """The floor and batch-1 tokens/s of ``model`` on each what-if system, and whether its
    weights fit there at all."""
    model = get_model(model)
    size = bytes_per_value(precision)
    need = model.total_params * size
    rows = []
    for name, system in what_if_systems().items():
        floor = latency_floor(model, system, weight_bytes=size)
        rows.append({
            "memory system": name, "bandwidth": f"{system.memory_bandwidth / 1e12:.3g} TB/s",
            "capacity": bytes_label(system.memory_bytes),
            "weights fit?": "yes" if need <= system.memory_bytes else
                            f"no ({need / system.memory_bytes:.2f}x too big)",
            "floor": seconds_label(floor), "batch-1 tokens/s": f"{1 / floor:,.3g}",
        })
    return Table(rows, caption=f"{model.name}, {precision} weights ({bytes_label(need)}): "
                               "floor = weight bytes / bandwidth")


# --- figures ---------------------------------------------------------------------------

def offload_figure(model="llama-3.1-8b", device="h100", ax=None):
    """Step time (batch 1, weights only) against the fraction of weights kept in host memory,
    with the measured HBM bandwidth and the measured / spec host links."""
    if ax is None:
        _, ax = figure()
    weights = weight_bytes_needed(model)
    hbm = reference.measured_bandwidth(device)
    host = reference.load(device)["host_and_pcie"]
    fraction = np.linspace(0, 1, 201)
    links = [
        (f"pinned PCIe Gen5, measured ({host['h2d_pinned_GBps']:.0f} GB/s)",
         host["h2d_pinned_GBps"] * 1e9, PALETTE["vermillion"], "-"),
        (f"PCIe Gen5 x16, spec ({get_memory('PCIe Gen5 x16').bandwidth / 1e9:.0f} GB/s)",
         get_memory("PCIe Gen5 x16").bandwidth, PALETTE["orange"], "--"),
        (f"NVLink 4, spec ({get_memory('NVLink 4 (per GPU)').bandwidth / 1e9:.0f} GB/s one way; "
         "to a peer GPU's memory)",
         get_memory("NVLink 4 (per GPU)").bandwidth, PALETTE["green"], "-."),
    ]
    for label, link, colour, style in links:
        ax.plot(fraction * 100, offload_step_seconds(weights, fraction, hbm, link) * 1e3,
                color=colour, linestyle=style, label=label)
    ax.axhline(weights / hbm * 1e3, color=PALETTE["blue"], linestyle=":",
               label=f"all in HBM ({hbm / 1e12:.2f} TB/s measured)")
    ax.set(yscale="log", xlabel="weights kept in host memory (%)",
           ylabel="time per decode step (ms, log)",
           title=f"{get_model(model).name}, batch 1: offloading over a link")
    ax.legend(loc="lower right", bbox_to_anchor=(1.0, 0.1))
    return ax


def speedup_figure(ax=None, contexts=(128, 1024, 4096)):
    """Measured H200/H100 decode speed-up against batch, next to the roofline prediction
    (measured bandwidth and FLOP/s) and the two spec ratios."""
    if ax is None:
        _, ax = figure()
    data = measured_speedup()
    h100, h200 = get_hardware("H100-SXM"), get_hardware("H200")
    ax.axhline(h200.memory_bandwidth / h100.memory_bandwidth, color=PALETTE["black"],
               linestyle=":", linewidth=1.2,
               label=f"bandwidth ratio, spec ({h200.memory_bandwidth / h100.memory_bandwidth:.2f})")
    ax.axhline(h200.peak_flops() / h100.peak_flops(), color=PALETTE["purple"], linestyle=":",
               linewidth=1.2, label=f"FLOP/s ratio, spec ({h200.peak_flops() / h100.peak_flops():.2f})")
    for colour, style, context in zip(COLORS, ("-", "--", "-."), contexts):
        pick = data["context"] == context
        batch = np.unique(np.geomspace(1, data["batch"][pick].max(), 120).round())
        ax.plot(batch, predicted_speedup(batch, context), color=colour, linewidth=1.5,
                linestyle=style, label=f"roofline prediction, context {context}")
        ax.plot(data["batch"][pick], data["speedup"][pick], color=colour,
                label=f"measured, context {context}", **MEASURED)
    ax.set(xscale="log", xlabel="batch (sequences per step)",
           ylabel="H100 time / H200 time", ylim=(0.8, 1.6),
           title="Decode step, Llama-3-8B shape: H200 speed-up over H100")
    ax.legend(loc="lower left", ncol=2, fontsize=8)
    return ax


def counterpoint_figure(model="llama-3.1-70b", precision="fp8", axes=None):
    """Per-chip decode throughput with the memory filled (left) and one sequence's tokens/s
    (right) against context, for HBM chips and the same compute fed by DRAM systems."""
    if axes is None:
        _, axes = figure(ncols=2, width=10.5, height=3.8)
    size = bytes_per_value(precision)
    systems = {
        "H100 (80 GB HBM3, 3.35 TB/s)": get_hardware("H100-SXM"),
        "H200 (141 GB HBM3e, 4.8 TB/s)": get_hardware("H200"),
        "H100 compute + 8 x DDR5-4800 (1 TB, 0.31 TB/s)":
            memory_system("DDR5-4800 channel", 8, capacity_bytes=1024e9, compute_like="H100-SXM"),
        "H100 compute + Grace LPDDR5X (512 GB, 0.55 TB/s)":
            memory_system("LPDDR5X Grace CPU", 1, compute_like="H100-SXM"),
    }
    context = np.geomspace(512, 131072, 60).round()
    left, right = np.ravel(axes)
    for colour, (label, chip) in zip(COLORS, systems.items()):
        rate = tokens_per_second_at_full_memory(model, chip, context, weight_bytes=size, kv_bytes=2)
        shown = np.where(rate > 0, rate, np.nan)
        left.plot(context, shown, color=colour, label=label)
        single = decode_step_rate(model, chip, context, size)
        right.plot(context, single, color=colour, label=label)
    left.set(xscale="log", yscale="log", xlabel="context (tokens per sequence)",
             ylabel="tokens/s per chip (log)", title="throughput, memory filled with sequences")
    right.set(xscale="log", xlabel="context (tokens per sequence)",
              ylabel="tokens/s for one sequence", title="speed one user sees (batch 1)")
    right.set_ylim(bottom=0)
    left.legend(loc="lower left", fontsize=8)
    return axes


def decode_step_rate(model, chip, context, weight_bytes):
    """Batch-1 decode tokens/s of ``model`` on ``chip`` at each ``context`` (roofline)."""
    return decode_step(model, chip, 1, context, weight_bytes=weight_bytes).tokens_per_second


# --- the explorer ----------------------------------------------------------------------

class MemorySystemExplorer(Explorer):
    """Memory technology, number of units, capacity, weight precision and context -> the
    floor of every catalogue model, the largest model that fits and the batch beside it."""

    figsize = (9.5, 3.8)

    #: Capacity per unit, as a multiple of the technology's typical unit (more or bigger
    #: DIMMs per channel, taller stacks): capacity follows the memory chosen.
    CAPACITY_PER_UNIT = (("½ typical", 0.5), ("typical", 1.0), ("2 x typical", 2.0),
                         ("4 x typical", 4.0))
    CONTEXTS = (1024, 4096, 8192, 32768, 131072)

    things_to_try = (
        ("5 HBM3 stacks of 16 GB (an H100's 80 GB): which is the largest model in fp8?",
         {"memory": "HBM3 stack", "units": 5, "per_unit": 1.0, "precision": "fp8"}),
        ("8 DDR5 channels of 512 GB (4 TB): which model fits, how fast for one user?",
         {"memory": "DDR5-4800 channel", "units": 8, "per_unit": 4.0}),
        ("How many GDDR6X devices match an H200's 4.8 TB/s, and what do they hold?",
         {"memory": "GDDR6X device", "units": 57}),
        ("Context 131,072 tokens: what happens to the batch?", {"context": 131072}),
    )

    def controls(self) -> dict:
        import ipywidgets as widgets
        return {
            "memory": widgets.Dropdown(options=list_memory("memory"), value="DDR5-4800 channel",
                                       description="memory"),
            "units": widgets.IntSlider(value=8, min=1, max=64, description="units"),
            "per_unit": widgets.Dropdown(options=list(self.CAPACITY_PER_UNIT), value=1.0,
                                         description="capacity"),
            "precision": widgets.ToggleButtons(options=list(PRECISIONS), value="bf16",
                                               description="weights"),
            "context": widgets.Dropdown(options=[(f"{c:,}", c) for c in self.CONTEXTS],
                                        value=8192, description="context"),
        }

    def draw(self, fig, memory, units, per_unit, precision, context) -> str:
        left, right = fig.subplots(1, 2, width_ratios=[1.3, 1])
        self._models = sorted(list_models(), key=lambda m: get_model(m).total_params)
        self._floor_bars = left.barh(self._models, np.ones(len(self._models)))
        left.set(xscale="log", xlim=(0.1, 1e5), xlabel="batch-1 floor (ms per token, log)",
                 title="floor of every model (grey: does not fit)")
        left.tick_params(axis="y", labelsize=8)
        self._human = left.axvline(100, color=PALETTE["black"], linestyle=":", linewidth=1)
        left.text(100, len(self._models) - 0.4, " 10 tokens/s", fontsize=8, va="top")
        contexts = np.geomspace(512, 262144, 80)
        self._contexts = contexts
        (self._batch_line,) = right.plot(contexts, np.ones_like(contexts), color=PALETTE["blue"])
        (self._batch_point,) = right.plot([context], [1], color=PALETTE["vermillion"],
                                          marker="o", linestyle="none", markersize=8)
        right.set(xscale="log", yscale="log", xlim=(512, 262144), ylim=(0.8, 1e6),
                  xlabel="context (tokens per sequence)",
                  ylabel="sequences that fit (log)", title="batch beside the largest model")
        self.moving = [*self._floor_bars, self._batch_line, self._batch_point]
        return self.update(memory, units, per_unit, precision, context)

    def update(self, memory, units, per_unit, precision, context) -> str:
        tech = get_memory(memory)
        units, context = int(units), int(context)
        capacity = tech.capacity_bytes * units * float(per_unit)
        system = memory_system(tech, units, capacity_bytes=capacity)
        size = bytes_per_value(precision)
        for bar, name in zip(self._floor_bars, self._models):
            m = get_model(name)
            bar.set_width(latency_floor(m, system, weight_bytes=size) * 1e3)
            fits = m.total_params * size <= capacity
            bar.set_color(PALETTE["blue"] if fits else "#BBBBBB")
        largest = largest_model_that_fits(capacity, weight_bytes=size)
        if largest is None:
            self._batch_line.set_ydata(np.full_like(self._contexts, np.nan))
            self._batch_point.set_data([context], [np.nan])
            fits_text = "No catalogue model fits in this capacity."
        else:
            batches = batch_that_fits(largest, capacity, self._contexts.round(), weight_bytes=size)
            self._batch_line.set_ydata(np.where(batches > 0, batches, np.nan))
            here = batch_that_fits(largest, capacity, context, weight_bytes=size)
            self._batch_point.set_data([context], [here if here > 0 else np.nan])
            floor = latency_floor(largest, system, weight_bytes=size)
            fits_text = (f"Largest model that fits: <b>{largest}</b> ({precision}); floor "
                         f"<b>{seconds_label(floor)}</b> = at most <b>{1 / floor:,.3g} tokens/s</b> "
                         f"per sequence; beside it fit <b>{here:,}</b> sequences of "
                         f"{context:,} tokens (bf16 KV cache).")
        return (f"<b>{units} x {tech.name}</b>: {system.memory_bandwidth / 1e9:,.0f} GB/s, "
                f"{bytes_label(capacity)} ({units} x {bytes_label(tech.capacity_bytes * per_unit)}); "
                f"reading all of it once takes "
                f"{seconds_label(capacity / system.memory_bandwidth)}. {fits_text}")
