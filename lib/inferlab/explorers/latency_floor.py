"""Lesson 01: the latency floor of a decode step, per model, chip and weight precision."""
from __future__ import annotations

import numpy as np
from matplotlib.ticker import FuncFormatter

from ..display import Table
from ..figures import measured_decode_steps
from ..hardware import get_hardware, list_hardware
from ..models import get_model, list_models
from ..plotting import MEASURED, PALETTE, bytes_label, figure, seconds_label
from ..roofline import bytes_per_value, chips_to_hold, latency_floor, weight_bytes_needed
from ..widgets import Explorer

PRECISIONS = ("bf16", "fp8", "fp4")


def floor_table(models=("llama-3.1-8b", "llama-3.1-70b", "llama-3.1-405b", "deepseek-v3"),
                chips=("H100-SXM", "H200", "B200", "MI300X"), precisions=PRECISIONS) -> Table:
    """The batch-1 floor (ms) of each model on each chip in each weight precision, and how
    many chips it takes just to hold the weights."""
    rows = []
    for model in models:
        for precision in precisions:
            size = bytes_per_value(precision)
            row = {"model": model, "weights": precision,
                   "total weights": bytes_label(get_model(model).total_params * size)}
            for chip in chips:
                floor = latency_floor(model, chip, weight_bytes=size)
                need = int(chips_to_hold(model, chip, weight_bytes=size))
                row[chip] = f"{floor * 1e3:.3g} ms" + ("" if need == 1 else f" (needs {need})")
            rows.append(row)
    return Table(rows, caption="Latency floor at batch 1 on one chip's bandwidth; "
                               "(needs N): chips just to hold the weights")


def steps_against_floor(device: str = "h100", context: int = 128, model: str = "llama-3.1-8b", ax=None):
    """Measured decode-step time against batch (``reference.decode_steps``, CUDA graph) with
    the latency floor of ``model`` on the spec sheet's bandwidth: no roofline, the floor
    alone. Returns the axes."""
    if ax is None:
        _, ax = figure(height=3.6)
    chip, data, pick = measured_decode_steps(device, context)
    floor = latency_floor(model, chip)
    ax.axhline(floor * 1e3, color=PALETTE["vermillion"], linewidth=2,
               label=f"latency floor: weight bytes / {chip.memory_bandwidth / 1e12:.3g} TB/s = "
                     f"{seconds_label(floor)}")
    ax.plot(data["batch"][pick], data["seconds"][pick] * 1e3, color=PALETTE["black"],
            label=f"measured on one {chip.name}, {context} cached tokens", **MEASURED)
    ax.set(xscale="log", xlabel="batch (sequences per step)", ylabel="time per decode step (ms)",
           title=f"{model}: one decode step against its latency floor")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left")
    return ax


class FloorExplorer(Explorer):
    """Model, chip and weight precision -> the floor, batch-1 tokens/s, bytes and time."""

    figsize = (9.0, 3.4)

    things_to_try = (
        ("Move llama-3.1-405b from bf16 to fp4 on a B200.",
         {"model": "llama-3.1-405b", "hardware": "B200", "precision": "fp4"}),
        ("Put llama-3.1-70b in bf16 on one H200: does it fit?",
         {"model": "llama-3.1-70b", "hardware": "H200", "precision": "bf16"}),
        ("Compare deepseek-v3 with llama-3.1-70b on the H200: why is its floor lower, with almost ten "
         "times the weights? (Clue: what the summary says a step reads; \"Going deeper\" explains.)",
         {"model": "deepseek-v3", "hardware": "H200", "precision": "bf16"}),
        ("Put llama-3.1-8b on an M2-Ultra: what does its bandwidth cost?",
         {"model": "llama-3.1-8b", "hardware": "M2-Ultra", "precision": "bf16"}),
    )

    def controls(self) -> dict:
        import ipywidgets as widgets
        return {
            "model": widgets.Dropdown(options=list_models(), value="llama-3.1-8b",
                                      description="model"),
            "hardware": widgets.Dropdown(options=list_hardware(), value="H100-SXM",
                                         description="chip"),
            "precision": widgets.ToggleButtons(options=list(PRECISIONS), value="bf16",
                                               description="weights"),
        }

    def draw(self, fig, model, hardware, precision) -> str:
        left, right = fig.subplots(1, 2, width_ratios=[1, 1.6])
        # Fixed log axes (every model, chip and precision fits), so a live redraw only
        # redraws the bars over a saved background.
        self._chips = sorted(list_hardware(), key=lambda c: -get_hardware(c).memory_bandwidth)
        self._bytes_bars = left.barh(["all weights", "read per step", "chip memory"], [1, 1, 1],
                                     color=[PALETTE["sky"], PALETTE["blue"], PALETTE["orange"]])
        left.set(xscale="log", xlim=(1, 3000), xlabel="GB (log scale)",
                 title="bytes: weights and memory")
        left.invert_yaxis()
        self._floor_bars = right.bar(range(len(self._chips)), np.ones(len(self._chips)))
        right.set_xticks(range(len(self._chips)), self._chips, rotation=60, ha="right", fontsize=8)
        right.set(yscale="log", ylim=(0.1, 5000), ylabel="floor (ms per step, log)",
                  title="time: the floor on every chip")
        self.moving = [*self._bytes_bars, *self._floor_bars]
        return self.update(model, hardware, precision)

    def update(self, model, hardware, precision) -> str:
        model, chip = get_model(model), get_hardware(hardware)
        size = bytes_per_value(precision)
        needed = weight_bytes_needed(model, size)
        total = model.total_params * size
        floor = latency_floor(model, chip, weight_bytes=size)
        need = int(chips_to_hold(model, chip, weight_bytes=size))

        for bar, value in zip(self._bytes_bars, np.array([total, needed, chip.memory_bytes]) / 1e9):
            bar.set_width(value)
        floors = needed / np.array([get_hardware(c).memory_bandwidth for c in self._chips]) * 1e3
        for bar, name, value in zip(self._floor_bars, self._chips, floors):
            bar.set_height(value)
            bar.set_color(PALETTE["vermillion"] if name == chip.name else PALETTE["blue"])
        fits = "fits on one chip" if need == 1 else f"needs {need} chips just to hold the weights"
        return (f"<b>{model.name}</b> on <b>{chip.name}</b> with {precision} weights: a decode step "
                f"reads at least {bytes_label(needed)} of {bytes_label(total)}, so it takes at least "
                f"<b>{seconds_label(floor)}</b>: at most <b>{1 / floor:,.0f} tokens/s</b> for one "
                f"sequence. {fits.capitalize()}.")
