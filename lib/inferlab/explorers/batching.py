"""Lesson 06: batching. The figures of the lesson and the batch explorer."""
from __future__ import annotations

import math

import numpy as np

from .. import reference
from ..batching import (batch_share_for_tier, batch_sweep, decode_knee, decode_parts, fast_tier_curve, fast_tier_from_steps,
                        knee_batch, moe_knee_batch, moe_layer_step,
                        price_multiple_for_speedup, published_fast_tiers)
from ..hardware import get_hardware, list_hardware
from ..intensity import knee_from_sweep
from ..models import get_model, list_models
from ..plotting import MEASURED, PALETTE, figure, seconds_label
from ..roofline import chips_to_hold, decode_step, latency_floor
from .. import economics, kv
from ..widgets import Explorer

CONTEXT_COLOURS = {128: PALETTE["blue"], 1024: PALETTE["orange"], 4096: PALETTE["green"]}


def _measured_decode(device, context):
    """Measured decode steps at one context: unique batches and the median step time."""
    data = reference.decode_steps(device, "sdpa")
    pick = data["context"] == context
    batches = np.unique(data["batch"][pick])
    seconds = np.array([np.median(data["seconds"][pick & (data["batch"] == b)]) for b in batches])
    return batches, seconds


def cost_vs_batch(usd_per_gpu_hour, model="llama-3.1-8b", hardware="H100-SXM", device="h100",
                  contexts=(128, 1024, 4096)):
    """Two panels against batch: the step time (flat, then rising) and the dollars per
    million tokens (falling, then flat), roofline lines (dotted where the batch's KV cache
    would not fit in memory) and measured H100 points."""
    fig, axes = figure(ncols=2, width=10.0, height=3.8)
    left, right = axes[0]
    chip = get_hardware(hardware)
    batch = np.unique(np.geomspace(1, 1024, 120).round())
    for context, colour in zip(contexts, CONTEXT_COLOURS.values()):
        curves = batch_sweep(model, chip, batch, context)
        measured_batch, measured_seconds = _measured_decode(device, context)
        # solid where the batch's KV cache fits beside the weights, dotted where it does not
        fits = batch <= max(kv.max_batch(model, chip, context), 1)
        cost = curves.usd_per_million_tokens(usd_per_gpu_hour)
        for keep, style, label in ((fits, "-", f"roofline, context {context}"), (~fits, ":", None)):
            if keep.any():
                edge = np.flatnonzero(keep)
                span = slice(max(edge[0] - 1, 0), edge[-1] + 1)  # join the two pieces
                left.plot(batch[span], curves.step_seconds[span] * 1e3, color=colour,
                          linestyle=style, label=label)
                right.plot(batch[span], cost[span], color=colour, linestyle=style)
        left.plot(measured_batch, measured_seconds * 1e3, color=colour, **MEASURED)
        right.plot(measured_batch, measured_seconds / measured_batch * usd_per_gpu_hour / 3600 * 1e6,
                   color=colour, **MEASURED)
    left.plot([], [], color=PALETTE["black"], label=f"measured on {chip.name}", **MEASURED)
    left.plot([], [], color=PALETTE["black"], linestyle=":", label="roofline where the KV cache does not fit")
    left.set(xscale="log", yscale="log", xlabel="batch (sequences per step)",
             ylabel="step time = each user's ms per token", title="the step: flat, then rising")
    right.set(xscale="log", yscale="log", xlabel="batch (sequences per step)",
              ylabel="$ per million output tokens",
              title=f"cost per token at ${usd_per_gpu_hour:.2f} per GPU-hour")
    left.legend(loc="upper left")
    return fig


def gemm_knees(device="h100"):
    """One chip's bf16 knee two ways, in rows (tokens), from the shipped sweep of
    X[M, 8192] @ W[8192, 8192]:

    - ``spec``: the spec ridge, peak FLOP/s x 2 bytes / (2 x spec bandwidth);
    - ``observed``: the observed GEMM knee, where the measured flat part meets the measured
      rising part (``intensity.knee_from_sweep``), equal to the best measured FLOP/s over the
      bandwidth the small (M <= 64) products streamed their weights at;

    and the two achieved fractions of the spec behind the difference: ``bandwidth_share``
    (the small products' streaming rate) and ``flops_share`` (the best product's FLOP/s)."""
    spec_chip = get_hardware(reference.CATALOGUE_NAME[device])
    sweep = reference.gemm_sweep(device, "bf16")
    square = (sweep["K"] == 8192) & (sweep["N"] == 8192)
    rows, seconds = sweep["M"][square], sweep["seconds"][square]
    flat = rows <= 64
    streamed = 8192 * 8192 * 2.0 / np.median(seconds[flat])  # weight bytes / flat time
    best = float(np.max(2.0 * rows * 8192 * 8192 / seconds))
    return {"spec": knee_batch(spec_chip), "observed": knee_from_sweep(rows, seconds),
            "bandwidth_share": streamed / spec_chip.memory_bandwidth,
            "flops_share": best / spec_chip.peak_flops("bf16")}


def knee_on_measurements(device="h100"):
    """Time per row of the measured bf16 GEMM sweep (left) and of the measured decode steps
    at context 128 (right), the spec-sheet roofline, and the two knees of ``gemm_knees``."""
    fig, axes = figure(ncols=2, width=10.0, height=3.8)
    left, right = axes[0]
    spec = get_hardware(reference.CATALOGUE_NAME[device])
    knees = gemm_knees(device)
    sweep = reference.gemm_sweep(device, "bf16")
    square = (sweep["K"] == 8192) & (sweep["N"] == 8192)
    rows = np.unique(np.geomspace(1, 16384, 200).round())
    flops, nbytes = 2.0 * rows * 8192 * 8192, (2 * rows * 8192 + 8192 * 8192) * 2.0
    seconds = np.maximum(nbytes / spec.memory_bandwidth, flops / spec.peak_flops("bf16"))
    left.plot(rows, seconds / rows * 1e6, color=PALETTE["blue"], label="roofline, spec sheet")
    step = decode_step("llama-3.1-8b", spec, rows, 128)
    right.plot(rows, step.seconds / rows * 1e3, color=PALETTE["blue"])
    for key, colour, style, label in (("spec", PALETTE["blue"], ":", "spec ridge"),
                                      ("observed", PALETTE["vermillion"], "-.", "observed GEMM knee")):
        for ax in (left, right):
            ax.axvline(knees[key], color=colour, linestyle=style,
                       label=f"{label}: {knees[key]:.0f}" if ax is left else None)
    left.plot(sweep["M"][square], sweep["seconds"][square] / sweep["M"][square] * 1e6,
              color=PALETTE["black"], label="measured", **MEASURED)
    left.set(xscale="log", yscale="log", xlabel="rows M (tokens)", ylabel="µs per row",
             title=f"GEMM [M, 8192] x [8192, 8192] on {spec.name}")
    left.legend(loc="upper right", fontsize=8, frameon=True, framealpha=0.95)
    batches, step_seconds = _measured_decode(device, 128)
    right.plot(batches, step_seconds / batches * 1e3, color=PALETTE["black"], **MEASURED)
    right.set(xscale="log", yscale="log", xlabel="batch (sequences)", ylabel="ms of step per token",
              title="llama-3.1-8b-shaped decode, context 128", xlim=(1, 2048))
    return fig


def moe_against_dense(device="h100"):
    """The shipped MoE measurement: time per token of the MoE layer and of a dense layer of
    the same active size, the roofline of each, and the knees B* and B* x E / k."""
    sweep = reference.moe_sweep(device)
    chip = get_hardware(reference.CATALOGUE_NAME[device])
    shape = dict(d_model=int(sweep["d_model"]), expert_ffn=int(sweep["d_expert"]))
    experts, top_k = int(sweep["experts"]), int(sweep["top_k"])
    tokens = np.unique(np.geomspace(1, sweep["tokens"].max(), 200).round())
    fig, ax = figure(height=3.8)
    for label, e, colour, measured in (("dense FFN", top_k, PALETTE["blue"], sweep["dense_seconds"]),
                                       (f"MoE, {experts} experts, top-{top_k}", experts,
                                        PALETTE["vermillion"], sweep["moe_seconds"])):
        layer = moe_layer_step(tokens, chip, experts=e, top_k=top_k, **shape)
        ax.plot(tokens, layer.seconds / tokens * 1e6, color=colour, label=f"{label}: roofline")
        ax.plot(sweep["tokens"], measured / sweep["tokens"] * 1e6, color=colour,
                label=f"{label}: measured", **MEASURED)
    dense_knee, moe_knee = knee_batch(chip), moe_knee_batch(chip, experts, top_k)
    for x, text in ((dense_knee, f"B* = {dense_knee:.0f}"),
                    (moe_knee, f"B* x E/k = {moe_knee:.0f}")):
        ax.axvline(x, color=PALETTE["black"], linestyle=":")
        ax.annotate(text, (x, 0.97), xycoords=("data", "axes fraction"), xytext=(4, 0),
                    textcoords="offset points", va="top", fontsize=9)
    ax.set(xscale="log", yscale="log", xlabel="tokens in the batch", ylabel="µs per token (one layer)",
           title=f"one MoE layer against a dense one on {chip.name}")
    ax.legend(loc="lower left")
    return fig


def moe_parts(model="deepseek-v3", hardware="H100-SXM", context=4096, *, weight_bytes=1,
              compute_dtype="fp8", operating_per_expert=256):
    """Time per token of each part of a decode step (own roofline each) against batch, with
    the dense knee, the experts' knee and a batch of ``operating_per_expert`` tokens per
    expert marked."""
    model, chip = get_model(model), get_hardware(hardware)
    batch = np.unique(np.geomspace(1, 65536, 200).round())
    parts = decode_parts(model, chip, batch, context, weight_bytes=weight_bytes,
                         kv_bytes=weight_bytes, compute_dtype=compute_dtype)
    fig, ax = figure(height=3.8)
    colours = {"dense": PALETTE["blue"], "experts": PALETTE["vermillion"], "attention": PALETTE["green"]}
    names = {"dense": "dense (attention projections, shared expert, head)",
             "experts": "routed experts", "attention": f"attention over {context} cached tokens"}
    for name, part in parts.items():
        ax.plot(batch, part.seconds / batch * 1e3, color=colours[name], label=names[name])
    total = sum(p.seconds for p in parts.values())
    ax.plot(batch, total / batch * 1e3, color=PALETTE["black"], label="sum of the parts")
    e, k = model.moe.experts, model.moe.top_k
    marks = {f"B* = {knee_batch(chip, weight_bytes=weight_bytes, compute_dtype=compute_dtype):.0f}":
             knee_batch(chip, weight_bytes=weight_bytes, compute_dtype=compute_dtype),
             f"B* x E/k = {moe_knee_batch(chip, e, k, weight_bytes=weight_bytes, compute_dtype=compute_dtype):.0f}":
             moe_knee_batch(chip, e, k, weight_bytes=weight_bytes, compute_dtype=compute_dtype),
             f"{operating_per_expert} tokens per expert": operating_per_expert * e / k}
    for (text, x), y, side in zip(marks.items(), (0.97, 0.97, 0.80), (1, 1, -1)):
        ax.axvline(x, color=PALETTE["black"], linestyle=":")
        ax.annotate(text, (x, y), xycoords=("data", "axes fraction"), xytext=(4 * side, 0),
                    textcoords="offset points", va="top", ha="left" if side > 0 else "right", fontsize=9)
    ax.set(xscale="log", yscale="log", xlabel="tokens per decode step", ylabel="ms per token (one chip's share)",
           title=f"{model.name} decode on {chip.name}, {compute_dtype} weights", ylim=(1e-4, None))
    ax.legend(loc="lower left", fontsize=8)
    return fig


def fast_tier_figure(model="llama-3.1-8b", hardware="H100-SXM", context=1024, standard_batch=256,
                     device="h100"):
    """Price multiple against speed-up: the roofline's curve, the measured H100 curve, the
    two-part formula through the Anthropic fast mode, and the published tiers."""
    fig, ax = figure(height=4.0)
    model_curve = fast_tier_curve(model, hardware, standard_batch, context)
    ax.plot(model_curve.speedup, model_curve.price_multiple, color=PALETTE["blue"],
            label=f"roofline: {model}, {hardware}, context {context}, from batch {standard_batch}")
    batches, seconds = _measured_decode(device, context)
    measured = fast_tier_from_steps(batches, seconds, standard_batch)
    keep = measured.batch <= standard_batch
    ax.plot(measured.speedup[keep], measured.price_multiple[keep], color=PALETTE["black"],
            label=f"measured H100 steps, from batch {standard_batch}", **MEASURED)
    for b, s, m in zip(measured.batch[keep], measured.speedup[keep], measured.price_multiple[keep]):
        if b < standard_batch:
            ax.annotate(f"B={b:.0f}", (s, m), xytext=(5, -3), textcoords="offset points", fontsize=8)
    tiers = published_fast_tiers()
    unpublished = [t for t in tiers if math.isnan(t.speedup)]
    if unpublished:  # many tiers share a few multiples: one band and one label, not a label each
        low = min(t.price_multiple for t in unpublished)
        high = max(t.price_multiple for t in unpublished)
        ax.axhspan(low, high, color=PALETTE["purple"], alpha=0.15, linewidth=0)
        for multiple in sorted({t.price_multiple for t in unpublished}):
            ax.axhline(multiple, color=PALETTE["purple"], linestyle=":", linewidth=0.8)
        providers = ", ".join(sorted({t.provider for t in unpublished}))
        ax.annotate(f"{providers} priority tiers ({len(unpublished)} models): {low:.3g}x to "
                    f"{high:.3g}x, no speed-up published", (3.97, high), fontsize=8, ha="right",
                    va="bottom", xytext=(0, 2), textcoords="offset points", color=PALETTE["purple"])
    for tier in tiers:
        if math.isnan(tier.speedup):
            continue
        share = batch_share_for_tier(tier.speedup, tier.price_multiple)
        s = np.linspace(1, min(1 / (1 - share) * 0.999, 4), 200)
        ax.plot(s, price_multiple_for_speedup(s, share), color=PALETTE["vermillion"], linestyle="--",
                label=f"two-part model through it (batch share {share:.2f})")
        ax.plot([tier.speedup], [tier.price_multiple], marker="*", markersize=14,
                color=PALETTE["vermillion"], linestyle="none",
                label=f"{tier.provider} {tier.model} {tier.tier} ({tier.speedup_kind} "
                      f"{tier.speedup:g}x, {tier.price_multiple:g}x price)")
    ax.set(xlabel="speed-up for each user (tokens/s per user, relative)",
           ylabel="price multiple (cost per token, relative)", ylim=(0.8, 12), xlim=(0.95, 4),
           yscale="log", title="what a faster tier must charge")
    ax.set_yticks([1, 2, 3, 6, 10], ["1", "2", "3", "6", "10"])
    ax.legend(loc="upper left", fontsize=8)
    return fig


# --- the explorer ---------------------------------------------------------------------------------
class BatchExplorer(Explorer):
    """Batch (and model, chip, context, price) -> latency per token, throughput, utilisation
    and dollars per million tokens."""

    figsize = (9.0, 5.0)
    CONTEXTS = (128, 1024, 4096, 32768)

    things_to_try = (
        ("For llama-3.1-8b, switch the context from 1024 to 32768: watch the knee vanish and "
         "the batch that fits shrink.", {"model": "llama-3.1-8b", "context": 32768}),
        ("Pick deepseek-v3 at context 128: where does its cost per token stop falling? Compare "
         "the whole step's knee with the experts' knee in the summary.",
         {"model": "deepseek-v3", "context": 128}),
        ("Compare an H200 with an H100 at batch 64: which curves move, and which do not?",
         {"hardware": "H200", "batch": 64}),
    )

    def controls(self) -> dict:
        import ipywidgets as widgets
        chips = [c for c in list_hardware() if "bf16" in get_hardware(c).dtypes]
        return {
            "batch": widgets.FloatLogSlider(value=64, base=2, min=0, max=14, step=0.5,
                                            description="batch", readout_format=".0f"),
            "model": widgets.Dropdown(options=list_models(), value="llama-3.1-8b", description="model"),
            "hardware": widgets.Dropdown(options=chips, value="H100-SXM", description="chip"),
            "context": widgets.Dropdown(options=list(self.CONTEXTS), value=1024, description="context"),
            "usd_per_gpu_hour": widgets.FloatSlider(value=round(economics.gpu_hour_price("H100-SXM"), 2),
                                                    min=0.5, max=10.0, step=0.01,
                                                    description="$/GPU-h", readout_format=".2f"),
        }

    def draw(self, fig, **values) -> str:
        axes = fig.subplots(2, 2, sharex=True).ravel()
        self._axes = axes
        # every value the slider can send (powers of 2 in half steps), plus a smooth grid
        self._batch = np.unique(np.concatenate([np.geomspace(1, 2 ** 14, 120),
                                                2.0 ** np.arange(0, 14.01, 0.5)]).round())
        titles = ("each user's time per token (ms)", "throughput (tokens/s, all users)",
                  "utilisation (% of peak FLOP/s)", "$ per million output tokens")
        self._lines, self._dots, self._knees, self._limits = [], [], [], []
        for ax, title in zip(axes, titles):
            line, = ax.plot([], [], color=PALETTE["blue"])
            dot, = ax.plot([], [], marker="o", markersize=9, color=PALETTE["vermillion"], linestyle="none")
            knee = ax.axvline(1, color=PALETTE["black"], linestyle=":", linewidth=1.2)
            limit = ax.axvspan(1, 2, color=PALETTE["black"], alpha=0.08, linewidth=0)
            ax.set_title(title, fontsize=10)
            ax.set_xscale("log")
            self._lines.append(line)
            self._dots.append(dot)
            self._knees.append(knee)
            self._limits.append(limit)
        for ax in axes[2:]:
            ax.set_xlabel("batch (sequences per step)")
        for ax in (axes[0], axes[1], axes[3]):
            ax.set_yscale("log")
        for ax in axes:  # fewer ticks: a full render (model, chip, context, price) stays fast
            ax.minorticks_off()
        axes[2].set_ylim(0, 100)
        self._floor = axes[0].axhline(1, color=PALETTE["vermillion"], linestyle="--", linewidth=1)
        for ax in axes:
            ax.set_xlim(1, 2 ** 14)
        self.moving = [*self._lines, *self._dots, *self._knees, *self._limits, self._floor]
        self._key, self._first = None, True
        return self.update(**values)

    def _curves(self, model, hardware, context, usd_per_gpu_hour):
        chips = int(max(1, chips_to_hold(model, hardware, reserve_fraction=0.3)))
        curves = batch_sweep(model, hardware, self._batch, context, chips=chips)
        cost = curves.usd_per_million_tokens(usd_per_gpu_hour)
        series = (curves.step_seconds * 1e3, curves.tokens_per_second, curves.utilisation * 100, cost)
        knee = decode_knee(model, hardware, context, chips=chips, max_batch=2 ** 20)
        room = float(kv.max_batch(model, hardware, context, chips=chips))
        floor = latency_floor(model, hardware, chips=chips)
        return chips, curves, series, knee, room, floor

    def update(self, batch, model, hardware, context, usd_per_gpu_hour) -> str:
        key = (model, hardware, context, round(float(usd_per_gpu_hour), 4))
        if key != self._key:  # the curves change: new data; new limits only when they must
            self._key = key
            self._state = self._curves(model, hardware, context, usd_per_gpu_hour)
            chips, curves, series, knee, room, floor = self._state
            for ax, line, knee_line, limit, values in zip(self._axes, self._lines, self._knees,
                                                          self._limits, series):
                line.set_data(self._batch, values)
                knee_line.set_xdata([knee, knee] if math.isfinite(knee) else [np.nan, np.nan])
                start = max(room, 1.0)
                limit.set_x(start)  # axvspan gives a Rectangle in axes-fraction height
                limit.set_width(2 ** 14 - start)
                limit.set_visible(room < 2 ** 14)
                if ax.get_yscale() == "log":
                    # whole decades around the data: most changes keep them, so the saved
                    # background (ticks, labels) stays valid and only the data is redrawn
                    wanted = (10.0 ** np.floor(np.log10(values.min())),
                              10.0 ** np.ceil(np.log10(values.max())))
                    if wanted[1] <= wanted[0] * 10:
                        wanted = (wanted[0], wanted[0] * 100)
                    low, high = ax.get_ylim()
                    if self._first:
                        ax.set_ylim(*wanted)
                    elif not (low <= wanted[0] and wanted[1] <= high):
                        # grow to hold the new curve too (axes that stay put are easier to
                        # compare by eye); start afresh past five decades
                        grown = (min(low, wanted[0]), max(high, wanted[1]))
                        ax.set_ylim(*(grown if grown[1] <= grown[0] * 1e5 else wanted))
                        ax.minorticks_off()
                        self.invalidate()
            self._floor.set_ydata([floor * 1e3, floor * 1e3])
            self._first = False
        chips, curves, series, knee, room, floor = self._state
        b = int(round(float(batch)))
        at = int(np.argmin(np.abs(self._batch - b)))
        for dot, values in zip(self._dots, series):
            dot.set_data([self._batch[at]], [values[at]])
        b = int(self._batch[at])
        step, cost = curves.step_seconds[at], series[3][at]
        knee_text = (f"The step turns compute-bound at batch <b>{knee:,.0f}</b> (dotted line)"
                     if math.isfinite(knee) else "The step <b>never</b> turns compute-bound here: "
                     "the KV cache reads grow with the batch as fast as the FLOPs")
        fits = ("" if b <= room else f" <b>Does not fit:</b> only {room:,.0f} sequences of {context} "
                "tokens fit in memory (shaded).")
        moe = get_model(model).moe
        if moe is not None:  # the lesson's experts' knee, next to the whole-step one
            knee_text += (f". That dotted line is the <b>whole step</b> as one roofline (all "
                          f"bytes against all FLOPs, total/active); the routed experts alone stay "
                          f"memory-bound until B* x E/k = <b>{moe_knee_batch(hardware, moe.experts, moe.top_k):,.0f}</b>"
                          f" in bf16 (the lesson's knee; fp8 gives about the same). At small batches the step grows with the batch "
                          f"because each new sequence routes to experts no other has touched yet: "
                          f"more expert weights are read")
        ideal = " (ideal tensor parallelism, no communication)" if chips > 1 else ""
        return (f"<b>{model}</b> on {chips} × <b>{hardware}</b>{ideal}, context {context}, batch <b>{b:,}</b>: "
                f"a step takes <b>{seconds_label(step)}</b> ({1 / step:,.0f} tokens/s per user), "
                f"the batch makes <b>{curves.tokens_per_second[at]:,.0f} tokens/s</b>, using "
                f"<b>{curves.utilisation[at]:.0%}</b> of peak FLOP/s, at <b>${cost:,.3g}</b> per million "
                f"tokens (${float(usd_per_gpu_hour):.2f} per GPU-hour). {knee_text}; the dashed line "
                f"is the latency floor.{fits}")
