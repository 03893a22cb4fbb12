"""Lesson 05: the energy of moving data. Figures and the joules-per-token explorer."""
from __future__ import annotations

import numpy as np

from ..energy import (chip_energy, compute_overtakes_movement, decode_energy,
                      fetch_to_operation_ratio, published_energy)
from ..hardware import get_hardware, list_hardware
from ..models import get_model, list_models
from ..plotting import PALETTE, figure
from ..widgets import Explorer

#: The four parts of a token's energy, in drawing order, with their colours.
PARTS = {"weights": PALETTE["blue"], "KV cache": PALETTE["sky"], "compute": PALETTE["orange"],
         "idle": PALETTE["purple"]}
BATCH_GRID = np.unique(np.geomspace(1, 4096, 120).round()).astype(int)


def horowitz_figure(ax=None):
    """Horowitz's 45 nm energies on a log axis: arithmetic against a 32-bit fetch from a small
    SRAM and from off-chip DRAM. Returns the axes."""
    if ax is None:
        _, ax = figure(height=3.4)
    keys = ["int8_add", "int8_mult", "fp16_mult", "fp32_mult", "sram_8kb_32b", "dram_32b"]
    rows = [published_energy(k) for k in keys]
    colours = [PALETTE["orange"] if r.kind == "compute" else PALETTE["blue"] for r in rows]
    values = [r.picojoules for r in rows]
    ax.barh([r.operation for r in rows], values, color=colours)
    for y, value in enumerate(values):
        ax.text(value * 1.15, y, f"{value:g} pJ", va="center", fontsize=9)
    ax.set(xscale="log", xlim=(0.01, 1e4), xlabel="energy per operation or 32-bit access (pJ, log)",
           title="Horowitz, 45 nm (ISSCC 2014): arithmetic (orange) vs fetching (blue)")
    ax.invert_yaxis()
    return ax


def ratio_rows() -> list:
    """The fetch/multiply ratios of the seed claim, per operand and per 32-bit access."""
    rows = []
    for memory in ("sram_8kb_32b", "dram_32b"):
        for operation in ("int8_mult", "fp16_mult", "fp32_mult"):
            rows.append({"fetch from": published_energy(memory).operation,
                         "to feed": published_energy(operation).operation,
                         "ratio, operand's bits": f"{fetch_to_operation_ratio(memory, operation):.3g}x",
                         "ratio, whole 32-bit access": f"{fetch_to_operation_ratio(memory, operation, per='access'):.3g}x"})
    return rows


def energy_vs_batch(model="llama-3.1-8b", hardware="H100-SXM", context=1024, ax=None,
                    usd_per_kwh=None):
    """Joules per token against batch, split into weights, KV cache, compute and idle, with
    the batch at which compute overtakes movement marked. Returns the axes."""
    if ax is None:
        _, ax = figure()
    e = decode_energy(model, hardware, BATCH_GRID, context)
    for (name, colour), values in zip(PARTS.items(), e.parts().values()):
        ax.plot(BATCH_GRID, values, color=colour, label=name)
    ax.plot(BATCH_GRID, e.total, color=PALETTE["black"], label="total")
    crossover = compute_overtakes_movement(model, hardware, context)
    if np.isfinite(crossover) and crossover <= BATCH_GRID[-1]:
        ax.axvline(crossover, color=PALETTE["vermillion"], linestyle=":",
                   label=f"compute > movement\nfrom batch {crossover:.0f}")
    over = np.asarray(e.exceeds_power_limit)
    if over.any():
        ax.axvspan(BATCH_GRID[over.argmax()], BATCH_GRID[-1], color="0.9", zorder=0,
                   label="over the\npower limit")
    chip = chip_energy(hardware)
    ax.set(xscale="log", yscale="log", xlabel="batch (sequences per step)",
           ylabel="joules per generated token (log)",
           title=f"{get_model(model).name} on {chip.name}, context {context:,}"
                 + ("" if chip.measured else " (ASSUMED H100 figures)"))
    if usd_per_kwh:
        secondary = ax.secondary_yaxis("right", functions=(
            lambda j: j * 1e6 / 3.6e6 * usd_per_kwh, lambda c: c * 3.6e6 / 1e6 / usd_per_kwh))
        secondary.set_ylabel(f"\\$ per million tokens at \\${usd_per_kwh:g}/kWh (log)")
    ax.set_ylim(bottom=float(np.min([np.min(v) for v in e.parts().values()])) / 300)  # room for the legend
    ax.legend(loc="lower left", ncols=2, fontsize=10)
    return ax


class EnergyExplorer(Explorer):
    """Batch, context, model and chip -> joules per token, split four ways, and its cost."""

    figsize = (9.5, 3.8)

    things_to_try = (
        ("Raise the context of llama-3.1-8b from 1k to 128k tokens and watch the KV line rise "
         "above everything.", {"model": "llama-3.1-8b", "context": 131072}),
        ("Compare qwen3-30b-a3b with llama-3.1-8b (more weights in total, fewer per token): "
         "which costs fewer joules per token at batch 1, 64 and 1024?", {"model": "qwen3-30b-a3b"}),
        ("Switch the chip to H200: its measured bytes are cheaper (HBM3e), so where does "
         "compute overtake movement now?", {"hardware": "H200"}),
    )

    def controls(self) -> dict:
        import ipywidgets as widgets
        return {
            "model": widgets.Dropdown(options=list_models(), value="llama-3.1-8b",
                                      description="model"),
            "hardware": widgets.Dropdown(options=list_hardware(), value="H100-SXM",
                                         description="chip"),
            "batch": widgets.FloatLogSlider(value=64, base=2, min=0, max=12, step=0.25,
                                            description="batch", readout_format=",.0f",
                                            continuous_update=False),
            "context": widgets.FloatLogSlider(value=1024, base=2, min=7, max=17, step=1,
                                              description="context", readout_format=".0f",
                                              continuous_update=False),
            "usd_per_kwh": widgets.FloatSlider(value=0.10, min=0.03, max=0.40, step=0.01,
                                               description="$ per kWh", readout_format=".2f",
                                               continuous_update=False),
        }

    def draw(self, fig, model, hardware, batch, context, usd_per_kwh) -> str:
        left, right = fig.subplots(1, 2, width_ratios=[1, 1.7])
        # fixed axes for every model and chip, so a live redraw only repaints the data
        self._bars = left.bar(list(PARTS), [1.0] * 4, color=list(PARTS.values()))
        left.set(yscale="log", ylim=(1e-5, 300), ylabel="joules per token (log)",
                 title="at this batch")
        left.tick_params(axis="x", labelsize=9)
        self._lines = [right.plot(BATCH_GRID, np.ones(BATCH_GRID.size), color=colour,
                                  label=name)[0] for name, colour in PARTS.items()]
        self._total = right.plot(BATCH_GRID, np.ones(BATCH_GRID.size), color=PALETTE["black"],
                                 label="total")[0]
        self._marker = right.axvline(batch, color=PALETTE["vermillion"], linestyle="--",
                                     label="this batch")
        self._crossover = right.axvline(1, color=PALETTE["green"], linestyle=":",
                                        label="compute > weights + KV")
        right.set(xscale="log", yscale="log", xlim=(1, 4096), ylim=(1e-5, 300),
                  xlabel="batch (sequences per step)", ylabel="joules per token (log)",
                  title="against batch")
        right.legend(loc="lower left", fontsize=8, ncols=2)
        self.moving = [*self._bars, *self._lines, self._total, self._marker, self._crossover]
        return self.update(model, hardware, batch, context, usd_per_kwh)

    def _curve(self, model, hardware, context):
        """The curve against batch and the crossover batch, cached: moving only the batch or
        the price slider then redraws without recomputing them."""
        cache = self.__dict__.setdefault("_cache", {})
        key = (model, hardware, context)
        if key not in cache:
            cache[key] = (decode_energy(model, hardware, BATCH_GRID, context),
                          compute_overtakes_movement(model, hardware, context))
        return cache[key]

    def update(self, model, hardware, batch, context, usd_per_kwh) -> str:
        try:
            return self._update(model, hardware, batch, context, usd_per_kwh)
        except ValueError as error:  # clear the old chip's curves and say why, in words
            for line in (*self._lines, self._total):
                line.set_ydata(np.full(BATCH_GRID.size, np.nan))
            for bar in self._bars:
                bar.set_height(1e-12)  # below the axis: no bar
            self._marker.set_visible(False)
            self._crossover.set_visible(False)
            return (f"<b>No figure for {model} on {hardware}:</b> {str(error).rstrip('.')}. "
                    "The plot is empty until you choose another combination.")

    def _update(self, model, hardware, batch, context, usd_per_kwh) -> str:
        context = int(round(float(context)))
        batch = int(round(float(batch)))
        usd_per_kwh = round(float(usd_per_kwh), 2)
        curve, crossover = self._curve(model, hardware, context)
        self._marker.set_visible(True)
        for line, values in zip(self._lines, curve.parts().values()):
            line.set_ydata(np.maximum(values, 1e-9))
        self._total.set_ydata(curve.total)
        here = decode_energy(model, hardware, batch, context)
        for bar, value in zip(self._bars, here.parts().values()):
            bar.set_height(max(value, 1e-9))
        self._marker.set_xdata([batch, batch])
        visible = bool(np.isfinite(crossover) and crossover <= BATCH_GRID[-1])
        self._crossover.set_visible(visible)
        if visible:
            self._crossover.set_xdata([crossover, crossover])

        chip = here.chip
        shares = ", ".join(f"{name} {value / here.total:.0%}" for name, value in here.parts().items())
        cost = here.electricity_cost_per_million_tokens(usd_per_kwh)
        where = (f"compute energy overtakes movement from batch <b>{crossover:,.0f}</b>"
                 if np.isfinite(crossover) else
                 "compute energy <b>never</b> overtakes movement at this context: the KV bytes "
                 "per token alone cost more than the FLOPs")
        figures = ("measured on this chip" if chip.measured else
                   "<b>ASSUMED</b>: the H100's measured figures; nothing was measured on this chip")
        power = (f" <b>Unreliable here:</b> the model asks for {here.average_watts:,.0f} W, above "
                 f"the {chip.power_limit_watts:,.0f} W limit (a real card slows down, and adding "
                 "both above-idle figures counts a busy card's base power twice)."
                 if here.exceeds_power_limit else "")
        return (f"<b>{get_model(model).name}</b> on <b>{get_hardware(hardware).name}</b>, batch "
                f"{batch:,}, context {context:,}: <b>{here.total:.3g} J per token</b> ({shares}); "
                f"electricity ${cost:.3g} per million tokens at ${usd_per_kwh:.2f}/kWh. "
                f"{where[0].upper() + where[1:]}. Energy figures: "
                f"{figures}.{power}")
