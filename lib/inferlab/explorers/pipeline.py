"""Lesson 10: many chips for one model. The pipeline timeline (a Gantt chart of stages over
time), tensor parallelism's latency against its degree, and the explorer that ties them."""
from __future__ import annotations

import numpy as np
from matplotlib.collections import PolyCollection
from matplotlib.patches import Rectangle

from .. import parallelism as par
from ..display import Table
from ..hardware import get_hardware
from ..kv import weight_memory_bytes
from ..models import get_model
from ..plotting import COLORS, PALETTE, figure, seconds_label
from ..roofline import bytes_per_value
from ..widgets import Explorer

MODELS = ("llama-3.1-8b", "llama-3.1-70b", "llama-3.1-405b", "qwen3-235b-a22b", "deepseek-v3")
CHIPS = ("H100-SXM", "H200", "B200", "A100-80GB")
LINKS = ("NVLink 4", "PCIe Gen5", "PCIe Gen4")
DEGREES = np.array([1, 2, 4, 8, 16, 32, 64])


def _precision(precision):
    """Weight bytes and compute format for a precision name ('bf16' or 'fp8')."""
    return dict(weight_bytes=bytes_per_value(precision), compute_dtype=precision)


def _bars(timeline, scale=1e3, height=0.7):
    """Rectangles (as vertex lists) and micro-batch numbers of every (round, micro-batch,
    stage) cell of ``timeline``; stage 1 at the top. Times are multiplied by ``scale``."""
    start = timeline.start * scale
    end = timeline.end * scale
    rounds, micro_batches, stages = start.shape
    stage = np.broadcast_to(np.arange(stages), start.shape)
    micro = np.broadcast_to(np.arange(micro_batches)[None, :, None], start.shape)
    x0, x1, y = start.ravel(), end.ravel(), stage.ravel()
    low, high = y - height / 2, y + height / 2
    verts = np.stack([np.stack([x0, low], 1), np.stack([x1, low], 1), np.stack([x1, high], 1),
                      np.stack([x0, high], 1)], axis=1)
    return verts, micro.ravel()


def _colours(micro):
    return [COLORS[m % len(COLORS)] for m in micro]


def draw_timeline(ax, timeline, *, title="", xmax=None):
    """A Gantt chart of ``timeline`` (a :class:`~inferlab.parallelism.Timeline`) on ``ax``:
    one row per stage, one bar per micro-batch and token, coloured by micro-batch, in ms.
    Returns the PolyCollection of bars."""
    verts, micro = _bars(timeline)
    bars = PolyCollection(verts, facecolors=_colours(micro), edgecolors="white", linewidths=0.5)
    ax.add_collection(bars)
    stages = timeline.stages
    ax.set_yticks(range(stages), [f"stage {s + 1}" for s in range(stages)])
    ax.set_ylim(stages - 0.5, -0.5)
    ax.set_xlim(0, xmax or timeline.seconds * 1e3 * 1.02)
    ax.set(xlabel="time (ms)", title=title)
    ax.grid(axis="y", visible=False)
    return bars


def bubble_figure(model="llama-3.1-70b", hardware="H100-SXM", micro_batch=8, context=4096, *,
                  stages=4, link="NVLink 4", rounds=2, precision="bf16"):
    """Two timelines of the same pipeline: one micro-batch in flight (the bubble) and
    ``stages`` micro-batches (full). Same time axis. Returns the figure."""
    fig, axes = figure(nrows=2, width=8.5, height=4.6)
    axes = axes.ravel()
    idle = par.parallel_decode(model, hardware, micro_batch, context, stages=stages, link=link,
                               micro_batches=1, **_precision(precision))
    full = par.parallel_decode(model, hardware, micro_batch, context, stages=stages, link=link,
                               micro_batches=stages, **_precision(precision))
    lines = [idle.timeline(rounds), full.timeline(rounds)]
    xmax = max(t.seconds for t in lines) * 1e3 * 1.02
    for ax, step, timeline in zip(axes, (idle, full), lines):
        count = int(step.micro_batches)
        draw_timeline(ax, timeline, xmax=xmax, title=(
            f"{count} micro-batch{'es' if count > 1 else ''} of {micro_batch} in flight: "
            f"{step.tokens_per_second:,.0f} tokens/s, token every "
            f"{seconds_label(step.token_seconds)}, chips busy {step.busy_fraction:.0%}"))
    axes[0].set_xlabel("")
    fig.suptitle(f"{get_model(model).name} in {stages} pipeline stages on {get_hardware(hardware).name} "
                 f"(colours: micro-batches; {rounds} tokens each)", fontsize=11)
    return fig


def tensor_parallel_figure(models=("llama-3.1-70b", "llama-3.1-405b"), hardware="H100-SXM",
                           links=("NVLink 4", "PCIe Gen5"), micro_batch=1, context=4096,
                           precision="bf16"):
    """Per-token latency against the tensor-parallel degree, one panel per model: the
    compute alone (ideal 1/N) and compute + all-reduces on each link; a dot where the
    all-reduces start to take longer than the compute. Returns (figure, Table)."""
    fig, axes = figure(ncols=len(models), width=9.0, height=4.1)
    axes = np.ravel(axes)
    rows = []
    styles = {links[0]: PALETTE["blue"], **{l: c for l, c in zip(links[1:], (PALETTE["vermillion"], PALETTE["green"]))}}
    for ax, name in zip(axes, models):
        fits_from = par.chips_to_serve(name, hardware, weight_bytes=bytes_per_value(precision))
        for link in links:
            step = par.parallel_decode(name, hardware, micro_batch, context, tensor_parallel=DEGREES,
                                       link=link, **_precision(precision))
            ax.plot(DEGREES, step.token_seconds * 1e3, color=styles[link], marker="o", markersize=4,
                    label=f"compute + all-reduces, {link}")
            at = par.communication_dominates_at(name, hardware, micro_batch, context, link=link,
                                                **_precision(precision))
            if at is not None and at <= DEGREES[-1]:
                here = par.parallel_decode(name, hardware, micro_batch, context, tensor_parallel=at,
                                           link=link, **_precision(precision))
                ax.plot([at], [here.token_seconds * 1e3], marker="D", markersize=9,
                        color=styles[link], markeredgecolor="black", linestyle="none")
            eight = par.parallel_decode(name, hardware, micro_batch, context, tensor_parallel=8,
                                        link=link, **_precision(precision))
            rows.append({"model": name, "link": link, "fits from (chips)": fits_from,
                         "TP=8 latency": seconds_label(eight.token_seconds),
                         "of which all-reduces": f"{eight.communication_share:.0%}",
                         "all-reduces ≥ compute from (chips)": at if at is not None else "beyond 64"})
        ax.plot(DEGREES, step.compute_seconds * 1e3, color=PALETTE["black"], linestyle=":",
                label="compute alone (ideal 1/N)")
        ax.axvspan(0.7, fits_from - 0.05, color="#d9d9d9", alpha=0.6, lw=0)
        ax.text(0.75, 0.04, "weights do\nnot fit", transform=ax.get_xaxis_transform(), fontsize=8,
                color="#555555")
        ax.axvline(8, color=PALETTE["black"], lw=0.8, alpha=0.5)
        ax.text(8.4, 0.9, "8 GPUs:\none NVLink\nnode", transform=ax.get_xaxis_transform(), fontsize=8,
                va="top", color="#555555")
        ax.set(xscale="log", yscale="log", xlabel="tensor-parallel degree (chips)",
               title=f"{name}, {precision}, batch {micro_batch}")
        ax.set_xticks(DEGREES, [str(d) for d in DEGREES])
        ax.minorticks_off()
    axes[0].set_ylabel("per-token latency (ms, log)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=3, fontsize=8)
    table = Table(rows, caption=f"Tensor parallelism on {get_hardware(hardware).name}, batch {micro_batch}, "
                                f"context {context} (diamonds: all-reduces take as long as the compute)")
    return fig, table


def assumptions_table() -> Table:
    """The assumed fixed cost per collective on each link, with its range and sources."""
    rows = [{"link": e.link, "one-direction bandwidth": f"{par.link_bandwidth(e.link) / 1e9:.4g} GB/s",
             "assumed latency": seconds_label(e.seconds),
             "range in sources": f"{e.low * 1e6:.0f}-{e.high * 1e6:.0f} µs",
             "confidence": e.confidence, "source": e.source.split(" ; ")[0]}
            for e in par.link_latencies()]
    return Table(rows, caption="Assumptions: per-collective latency (data/link_latency.csv; "
                               "bandwidths from data/memory.csv)")


class PipelineExplorer(Explorer):
    """Model, chip, precision, link, stages, tensor-parallel degree, micro-batches ->
    chips, per-token latency, tokens/s and the timeline."""

    figsize = (10.0, 4.0)
    context = 4096
    _base = {"model": "llama-3.1-70b", "hardware": "H100-SXM", "precision": "bf16", "link": "NVLink 4",
             "stages": 4, "tensor_parallel": 1, "micro_batches": 1, "micro_batch": 8}
    things_to_try = (
        ("4 micro-batches: 4x the tokens, the same latency.",
         {**_base, "micro_batches": 4}),
        ("8 micro-batches on 4 stages: the latency?", {**_base, "micro_batches": 8}),
        ("llama-3.1-405b, 2 stages × TP 8, PCIe Gen4.",
         {**_base, "model": "llama-3.1-405b", "stages": 2, "tensor_parallel": 8, "link": "PCIe Gen4"}),
        ("deepseek-v3 in fp8, 128 per micro-batch: how many chips?",
         {**_base, "model": "deepseek-v3", "precision": "fp8", "micro_batch": 128}),
    )
    rounds = 2
    max_stages = 16

    def controls(self) -> dict:
        import ipywidgets as widgets
        style = {"description_width": "initial"}  # long names ("micro-batches") are not cut
        controls = {
            "model": widgets.Dropdown(options=list(MODELS), value="llama-3.1-70b", description="model"),
            "hardware": widgets.Dropdown(options=list(CHIPS), value="H100-SXM", description="chip"),
            "precision": widgets.ToggleButtons(options=["bf16", "fp8"], value="bf16", description="weights"),
            "link": widgets.Dropdown(options=list(LINKS), value="NVLink 4", description="link"),
            "stages": widgets.IntSlider(value=4, min=1, max=self.max_stages, description="PP stages"),
            "tensor_parallel": widgets.Dropdown(options=[1, 2, 4, 8, 16], value=1, description="TP degree"),
            "micro_batches": widgets.IntSlider(value=1, min=1, max=16, description="micro-batches"),
            "micro_batch": widgets.Dropdown(options=[1, 8, 32, 128], value=8,
                                            description="seqs / micro-batch"),
        }
        for control in controls.values():
            control.style = style
        return controls

    def draw(self, fig, **values) -> str:
        left, right = fig.subplots(1, 2, width_ratios=[1.5, 1])
        self._left, self._right = left, right
        # Left: the timeline on fixed axes, so that a redraw only redraws the bars. Time is
        # in units of the per-token latency (its value in ms is in the summary and the
        # label); stages are rows of a unit-height axis, stage 1 at the top.
        self._bars = PolyCollection([], edgecolors="white", linewidths=0.5)
        left.add_collection(self._bars)
        left.set(xlim=(0, self.rounds + 1), ylim=(1, 0), yticks=[],
                 xlabel="time, in per-token latencies (1 = one token of one sequence)")
        left.grid(axis="y", visible=False)
        self._first = left.text(-0.01, 1, "stage 1", transform=left.transAxes, ha="right", va="top",
                                fontsize=9)
        self._last = left.text(-0.01, 0, "", transform=left.transAxes, ha="right", va="bottom",
                               fontsize=9)
        self._scale = left.text(0.99, 0.02, "", transform=left.transAxes, ha="right", va="bottom",
                                fontsize=9, bbox=dict(facecolor="white", edgecolor="none", alpha=0.8))
        # right: latency against chips, pipeline only and tensor only, fixed log axes
        self._unfit = Rectangle((0.7, 0), 0.0, 1, transform=right.get_xaxis_transform(),
                                color="#d9d9d9", alpha=0.6, lw=0)
        right.add_patch(self._unfit)
        (self._pp_line,) = right.plot(DEGREES, np.ones(DEGREES.size), color=PALETTE["vermillion"],
                                      marker="o", markersize=4, label="pipeline stages only")
        (self._tp_line,) = right.plot(DEGREES, np.ones(DEGREES.size), color=PALETTE["blue"],
                                      marker="o", markersize=4, label="tensor parallel only")
        (self._here,) = right.plot([1], [1], marker="*", markersize=14, color=PALETTE["black"],
                                   linestyle="none", label="your setting")
        right.set(xscale="log", yscale="log", xlim=(0.7, 300), ylim=(0.3, 3000),
                  xlabel="chips", ylabel="per-token latency (ms, log)", title="latency against chips")
        right.set_xticks([1, 2, 4, 8, 16, 32, 64, 256], ["1", "2", "4", "8", "16", "32", "64", "256"])
        right.minorticks_off()
        right.legend(loc="upper right", fontsize=8)
        self.moving = [self._bars, self._first, self._last, self._scale, self._unfit,
                       self._pp_line, self._tp_line, self._here]
        return self.update(**values)

    def update(self, model, hardware, precision, link, stages, tensor_parallel, micro_batches,
               micro_batch) -> str:
        options = dict(link=link, **_precision(precision))
        step = par.parallel_decode(model, hardware, micro_batch, self.context, stages=stages,
                                   tensor_parallel=tensor_parallel, micro_batches=micro_batches,
                                   **options)
        timeline = step.timeline(self.rounds)
        verts, micro = _bars(timeline, scale=1.0 / step.token_seconds, height=0.7)
        verts[:, :, 1] = (verts[:, :, 1] + 0.5) / stages  # rows of height 1 / stages
        self._bars.set_verts(verts)
        self._bars.set_facecolor(_colours(micro))
        self._last.set_text(f"stage {stages}" if stages > 1 else "")
        self._scale.set_text(f"1 = {seconds_label(step.token_seconds)}")
        m = get_model(model)
        pp_degrees = np.minimum(DEGREES, m.layers)
        pipeline = par.parallel_decode(model, hardware, micro_batch, self.context, stages=pp_degrees,
                                       micro_batches=1, **options)
        tensor = par.parallel_decode(model, hardware, micro_batch, self.context,
                                     tensor_parallel=DEGREES, **options)
        self._pp_line.set_data(pp_degrees, pipeline.token_seconds * 1e3)
        self._tp_line.set_data(DEGREES, tensor.token_seconds * 1e3)
        self._here.set_data([step.chips], [step.token_seconds * 1e3])
        kv_budget = step.memory_per_chip * step.chips - weight_memory_bytes(
            model, weight_bytes=bytes_per_value(precision))
        need = par.chips_to_serve(model, hardware, weight_bytes=bytes_per_value(precision),
                                  kv_budget_bytes=kv_budget)
        self._unfit.set_width(max(need - 0.05 - 0.7, 0))
        # TP 1 has no all-reduce and one stage no hop: say so rather than "0 ns"
        links = "; ".join([f"all-reduces {seconds_label(step.all_reduce_seconds)}"] * (tensor_parallel > 1)
                          + [f"hops {seconds_label(step.hop_seconds)}"] * (stages > 1)) or "no communication"
        fit = ("fits" if step.fits else
               f"<b style='color:#D55E00'>does not fit</b> ({step.memory_per_chip / 1e9:,.0f} GB per chip)")
        return (f"<b>{m.name}</b>, {precision} weights, {micro_batches} micro-batch(es) of {micro_batch} "
                f"sequences at context {self.context}: <b>{int(step.chips)} chip{'s' * (step.chips > 1)}</b> "
                f"({stages} stage{'s' * (stages > 1)} x TP {tensor_parallel}), {fit}; weights + KV need at least "
                f"{need} chip{'s' * (need > 1)}. "
                f"Per-token latency <b>{seconds_label(step.token_seconds)}</b> "
                f"({links}); <b>{step.tokens_per_second:,.0f} tokens/s</b>; "
                f"chips busy {step.busy_fraction:.0%}. Grey: too few chips to hold weights + KV.")
