"""Lesson 07: prefill against decode. Figures that put both phases next to the shipped
measurements, and an explorer of one request's time and cost."""
from __future__ import annotations

import numpy as np

from .. import kv, reference, serving
from ..hardware import get_hardware, list_hardware
from ..models import get_model, list_models
from ..plotting import MEASURED, PALETTE, figure, roofline, seconds_label
from ..roofline import chips_to_hold, decode_step, prefill_step
from ..economics import gpu_hour_price
from ..widgets import Explorer

MODEL = "llama-3.1-8b"  # the shape of the measured decoder


def _median_at(data: dict, **where) -> float:
    pick = np.ones_like(data["seconds"], dtype=bool)
    for key, value in where.items():
        pick &= data[key] == value
    if not pick.any():
        raise ValueError(f"no measurement at {where}")
    return float(np.median(data["seconds"][pick]))


def measured_prefill_tokens_per_second(device: str = "h100", prompt: int = 1024) -> float:
    """Tokens per second of the measured batch-1 prefill of a ``prompt``-token prompt."""
    return prompt / _median_at(reference.prefill_steps(device), prompt=prompt)


def measured_decode_tokens_per_second(device: str = "h100", batch: int = 1, context: int = 128) -> float:
    """Tokens per second (all sequences together) of the measured decode step."""
    return batch / _median_at(reference.decode_steps(device, "sdpa"), batch=batch, context=context)


def measured_output_input_ratio(device: str = "h100", batch: int = 64, context: int = 1024) -> float:
    """Measured chip-seconds per output token (decode at ``batch``, ``context``) over
    chip-seconds per input token (batch-1 prefill of a ``context``-token prompt)."""
    return (measured_prefill_tokens_per_second(device, context)
            / measured_decode_tokens_per_second(device, batch, context))


# --- figures ------------------------------------------------------------------------------
def phases_on_the_roofline(device: str = "h100", model: str = MODEL, ax=None):
    """Prefill (one prompt, 16 to 16 384 tokens) and decode (batch 1 to 1024, context 128)
    on the chip's roofline: each measured step at the intensity the model gives it and the
    FLOP/s it reached (model FLOPs / measured seconds)."""
    chip = get_hardware(reference.CATALOGUE_NAME[device])
    # the ridge's label above the roof, left of its marker: below it sit the measured points
    ax = roofline(chip.name, ax=ax, intensity=(0.3, 3e4), ridge_label_offset=(-58, 6))
    pre = reference.prefill_steps(device)
    cost = prefill_step(model, chip, pre["prompt"])
    ax.plot(cost.intensity, cost.flops / pre["seconds"] / 1e12, color=PALETTE["vermillion"],
            marker="s", linestyle="-", linewidth=1, label="prefill, one prompt (measured)")
    for prompt, x, y in zip(pre["prompt"], cost.intensity, cost.flops / pre["seconds"] / 1e12):
        if prompt in (16, 2048, 16384):  # the short prompt's label below its point, clear of decode's
            ax.annotate(f"{prompt} tokens", (x, y), textcoords="offset points",
                        xytext=(4, -12) if prompt == 16 else (-22, 7),
                        fontsize=8, color=PALETTE["vermillion"])
    dec = reference.decode_steps(device, "sdpa")
    pick = (dec["context"] == 128) & (dec["run"] == 1)
    cost = decode_step(model, chip, dec["batch"][pick], 128)
    ax.plot(cost.intensity, cost.flops / dec["seconds"][pick] / 1e12, color=PALETTE["green"],
            marker="o", linestyle="-", linewidth=1, label="decode, context 128 (measured)")
    for batch, x, y in zip(dec["batch"][pick], cost.intensity, cost.flops / dec["seconds"][pick] / 1e12):
        if batch in (1, 64, 1024):
            ax.annotate(f"batch {batch}", (x, y), textcoords="offset points", xytext=(4, -12),
                        fontsize=8, color=PALETTE["green"])
    ax.set_ylim(0.3, 2000)
    ax.set_title(f"{model}-shaped model on an {chip.name}: where each phase sits")
    ax.legend(loc="upper left")
    return ax


def prefill_speed(device: str = "h100", model: str = MODEL):
    """Left: prefill tokens/s against prompt length, measured and predicted, with batch-1
    decode for scale. Right: long-prompt slowdown, measured against the FLOPs' prediction."""
    chip = get_hardware(reference.CATALOGUE_NAME[device])
    measured_chip = reference.measured_hardware(device)
    fig, axes = figure(2, width=11, height=4.2)
    left, right = axes.flat
    pre = reference.prefill_steps(device)
    prompts = np.unique(np.geomspace(16, 16384, 120).round())
    left.plot(prompts, prefill_step(model, chip, prompts).tokens_per_second, color=PALETTE["blue"],
              label=f"prefill roofline, spec ({chip.peak_flops() / 1e12:.0f} TFLOP/s)")
    left.plot(prompts, prefill_step(model, measured_chip, prompts).tokens_per_second,
              color=PALETTE["sky"], linestyle="--",
              label=f"prefill roofline, measured ({measured_chip.peak_flops() / 1e12:.0f} TFLOP/s)")
    left.plot(pre["prompt"], pre["prompt"] / pre["seconds"], color=PALETTE["black"],
              label="prefill measured", **MEASURED)
    decode = measured_decode_tokens_per_second(device, 1, 128)
    left.axhline(decode, color=PALETTE["green"], linestyle=":",
                 label=f"decode, batch 1, measured ({decode:.0f} tokens/s)")
    left.set(xscale="log", yscale="log", ylim=(50, 2e5), xlabel="prompt length (tokens)",
             ylabel="tokens per second", title="one prompt at a time")
    left.legend(loc="center right")

    long = pre["prompt"] >= 1024
    base = float(pre["seconds"][pre["prompt"] == 1024][0]) / 1024
    measured_speed = base / (pre["seconds"][long] / pre["prompt"][long])
    flops_per_token = prefill_step(model, chip, prompts).flops / prompts
    at_1024 = prefill_step(model, chip, 1024).flops / 1024
    keep = prompts >= 1024
    right.plot(prompts[keep], at_1024 / flops_per_token[keep], color=PALETTE["blue"],
               label="predicted: FLOPs per token at 1024 / at P")
    right.plot(pre["prompt"][long], measured_speed, color=PALETTE["black"],
               label="measured tokens/s, relative to 1024", **MEASURED)
    share = serving.attention_flops_share(model, prompts[keep])
    right.plot(prompts[keep], share, color=PALETTE["orange"], linestyle="--",
               label="share of FLOPs in attention")
    right.set(xscale="log", ylim=(0, 1.1), xlabel="prompt length (tokens)",
              ylabel="fraction", title="long prompts: attention's FLOPs grow as P²")
    right.legend(loc="center left")
    return fig


TYPICAL_REQUESTS = (("chat turn", 1000, 300), ("RAG answer", 8000, 300),
                    ("summarise a report", 30000, 500), ("write code", 2000, 2000),
                    ("agent step, long context", 60000, 150))


def request_breakdown(model: str = MODEL, hardware: str = "H100-SXM", batch: int = 64,
                      usd_per_gpu_hour: float | None = None, requests=TYPICAL_REQUESTS):
    """Time (waiting for the first token vs generating) and cost (input vs output) of a few
    typical requests, computed in one vectorised call. Each is decoded in a batch of
    ``batch`` sequences like it, or as many as fit in one chip's memory if fewer."""
    names = [r[0] for r in requests]
    prompt = np.array([r[1] for r in requests])
    output = np.array([r[2] for r in requests])
    batch = np.minimum(batch, kv.max_batch(model, hardware, prompt + output))
    if np.any(batch < 1):
        raise ValueError(f"a request of {int((prompt + output).max()):,} tokens does not fit "
                         f"beside {model}'s weights on one {hardware}")
    cost = serving.request_cost(model, hardware, prompt, output, batch,
                                usd_per_gpu_hour=usd_per_gpu_hour)
    labels = [f"{n}, batch {b}\n{p:,} in, {o:,} out"
              for n, p, o, b in zip(names, prompt, output, batch)]
    fig, axes = figure(2, width=11, height=3.8)
    left, right = axes.flat
    y = np.arange(len(names))
    left.barh(y, cost.ttft, color=PALETTE["vermillion"], label="time to first token")
    left.barh(y, cost.seconds - cost.ttft, left=cost.ttft, color=PALETTE["green"],
              label="generating the rest")
    for row, seconds in zip(y, cost.seconds):
        left.text(seconds, row, f" {seconds:.1f} s", va="center", fontsize=8)
    left.set_yticks(y, labels, fontsize=8)
    left.invert_yaxis()
    left.set(xlabel="seconds (no queueing)", title="time of one request")
    left.set_xlim(0, cost.seconds.max() * 1.25)
    left.legend(loc="upper right")
    micro = 1e6  # show micro-dollars: a request costs fractions of a cent
    right.barh(y, cost.input_usd * micro, color=PALETTE["orange"], label="input (prefill)")
    right.barh(y, cost.output_usd * micro, left=cost.input_usd * micro, color=PALETTE["blue"],
               label="output (decode)")
    for row, total, share in zip(y, cost.total_usd * micro, cost.input_share):
        right.text(total, row, f" {share:.0%} input", va="center", fontsize=8)
    right.set_yticks(y, [""] * len(y))
    right.invert_yaxis()
    right.set(xlabel="micro-dollars per request", title="cost at the chip's rental price")
    right.set_xlim(0, cost.total_usd.max() * micro * 1.3)
    right.legend(loc="upper right")
    return fig, cost


def cost_ratio_vs_batch(device: str = "h100", model: str = MODEL, contexts=(1024, 4096, 16384)):
    """The cost of an output token over an input token against the decode batch: predicted
    (lines, prefill of a prompt as long as the context), measured (points) and the band of
    published standard-tier price ratios."""
    chip = get_hardware(reference.CATALOGUE_NAME[device])
    _, ax = figure(width=10, height=4.4)
    ratios = [r["output_over_input"] for r in serving.published_price_ratios()
              if r["tier"].startswith("standard")]
    ax.axhspan(min(ratios), max(ratios), color=PALETTE["yellow"], alpha=0.35,
               label=f"published output/input prices: {min(ratios):.0f}x to {max(ratios):.0f}x")
    batches = np.unique(np.geomspace(1, 1024, 60).round())
    dec = reference.decode_steps(device, "sdpa")
    colours = [PALETTE["blue"], PALETTE["green"], PALETTE["vermillion"]]
    for colour, context in zip(colours, contexts):
        ratio = serving.output_input_cost_ratio(model, chip, context, batches, context)
        fits = batches <= kv.max_batch(model, chip, context)
        ax.plot(batches[fits], ratio[fits], color=colour, label=f"predicted, context {context:,}")
        ax.plot(batches[~fits], ratio[~fits], color=colour, linestyle=":", linewidth=1.2)
        measured = sorted({int(b) for b in dec["batch"][dec["context"] == context]})
        ax.plot(measured, [measured_output_input_ratio(device, b, context) for b in measured],
                color=colour, label=f"measured, context {context:,}", **MEASURED)
    ax.set(xscale="log", yscale="log", ylim=(1, 1000), xlabel="decode batch (sequences per step)",
           ylabel="cost of an output token / an input token",
           title=f"{model} on an {chip.name}: why output tokens cost more")
    ax.plot([], [], color=PALETTE["black"], linestyle=":", linewidth=1.2,
            label=f"dotted: the batch's KV cache\ndoes not fit in {chip.memory_bytes / 1e9:.0f} GB")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax


# --- explorer -----------------------------------------------------------------------------
class RequestExplorer(Explorer):
    """Prompt, output, batch, chip, model and price -> TTFT, TPOT, total time, the cost
    split and the implied output/input price ratio."""

    figsize = (9.5, 3.6)
    batches = np.unique(np.geomspace(1, 1024, 48).round())

    things_to_try = (
        ("With a 2,048-token prompt, raise the batch: does an output token get below 5× an "
         "input token before the KV cache stops fitting (the warning)?",
         {"model": "llama-3.1-8b", "prompt": 2048, "batch": 256}),
        ("Do the same on an H200 (more bandwidth, more memory).", {"hardware": "H200"}),
        ("Raise the prompt to 131,072 tokens: watch TTFT, the input's share of the cost and the "
         "batch that fits.", {"prompt": 131072}),
        ("Switch to deepseek-v3: why is its ratio unlike llama-3.1-70b's?",
         {"model": "deepseek-v3"}),
    )

    def controls(self) -> dict:
        import ipywidgets as widgets
        style = {"description_width": "initial"}
        return {
            "model": widgets.Dropdown(options=list_models(), value=MODEL, description="model"),
            "hardware": widgets.Dropdown(options=list_hardware(), value="H100-SXM",
                                         description="chip"),
            "prompt": widgets.FloatLogSlider(value=2048, base=2, min=4, max=17, step=0.25,
                                             style=style, readout_format=",.0f",
                                             description="prompt tokens", continuous_update=False),
            "output": widgets.FloatLogSlider(value=512, base=2, min=0, max=14, step=0.25,
                                             style=style, readout_format=",.0f",
                                             description="output tokens", continuous_update=False),
            "batch": widgets.FloatLogSlider(value=64, base=2, min=0, max=10, step=0.25,
                                            style=style, readout_format=",.0f",
                                            description="decode batch", continuous_update=False),
            "usd_per_gpu_hour": widgets.FloatSlider(value=round(gpu_hour_price("H100-SXM"), 2),
                                                    min=0.5, max=10.0, step=0.01,
                                                    style=style, description="$ per chip-hour",
                                                    continuous_update=False),
        }

    def draw(self, fig, **values) -> str:
        left, right = fig.subplots(1, 2, width_ratios=[1.4, 1])
        ones = np.ones_like(self.batches)
        (self._output_line,) = left.plot(self.batches, ones, color=PALETTE["blue"],
                                         label="output token (decode)")
        (self._input_line,) = left.plot(self.batches, ones, color=PALETTE["orange"],
                                        label="input token (prefill)")
        (self._marker,) = left.plot([1], [1], marker="o", color=PALETTE["black"], linestyle="none",
                                    label="your batch")
        left.set(xscale="log", yscale="log", xlim=(1, 1024), ylim=(1e-3, 1e4),
                 xlabel="decode batch", ylabel="$ per million tokens",
                 title="cost per token against the batch")
        left.legend(loc="upper right", fontsize=8)
        self._bars = right.barh([0, 0, 1, 1], [0.5, 0.5, 0.5, 0.5], left=[0, 0.5, 0, 0.5],
                                color=[PALETTE["vermillion"], PALETTE["green"],
                                       PALETTE["orange"], PALETTE["blue"]])
        right.set_yticks([0, 1], ["time", "cost"])
        right.set(xlim=(0, 1), xlabel="share of the request", title="where it goes")
        right.set_xticks([0, 0.25, 0.5, 0.75, 1], ["0", "25 %", "50 %", "75 %", "100 %"])
        right.get_xticklabels()[-1].set_horizontalalignment("right")  # inside the figure's edge
        fig.get_layout_engine().set(w_pad=0.12)  # and a margin at the figure's right edge
        right.invert_yaxis()
        right.legend(self._bars, ["first token (prefill)", "the rest (decode)", "input", "output"],
                     loc="upper center", bbox_to_anchor=(0.5, -0.28), ncol=2, fontsize=8)
        self.moving = [self._output_line, self._input_line, self._marker, *self._bars]
        return self.update(**values)

    def update(self, model, hardware, prompt, output, batch, usd_per_gpu_hour) -> str:
        try:
            return self._update(model, hardware, prompt, output, batch, usd_per_gpu_hour)
        except ValueError as error:  # clear the old chip's figure and say why, in words
            nothing = np.full(self.batches.shape, np.nan)
            self._output_line.set_ydata(nothing)
            self._input_line.set_ydata(nothing)
            self._marker.set_data([np.nan], [np.nan])
            for bar in self._bars:
                bar.set_width(0)
            return (f"<b>No figure for {model} on {hardware}:</b> {str(error).rstrip('.')}. "
                    "The plot is empty until you choose another combination.")

    def _update(self, model, hardware, prompt, output, batch, usd_per_gpu_hour) -> str:
        model, chip = get_model(model), get_hardware(hardware)
        prompt, output, batch = (int(round(float(v))) for v in (prompt, output, batch))
        price = float(f"{usd_per_gpu_hour:.2f}")
        chips = int(chips_to_hold(model, chip, reserve_fraction=0.1))
        options = dict(usd_per_gpu_hour=price, chips=chips)
        cost = serving.request_cost(model, chip, prompt, output, batch, **options)
        curve = serving.request_cost(model, chip, prompt, output, self.batches, **options)
        self._output_line.set_ydata(curve.usd_per_output_token * 1e6)
        self._input_line.set_ydata(np.full(self.batches.shape, cost.usd_per_input_token * 1e6))
        self._marker.set_data([batch], [cost.usd_per_output_token * 1e6])
        time_share = cost.ttft / cost.seconds
        shares = [(0, time_share), (time_share, 1 - time_share),
                  (0, cost.input_share), (cost.input_share, 1 - cost.input_share)]
        for bar, (start, width) in zip(self._bars, shares):
            bar.set_x(start)
            bar.set_width(width)
        context = prompt + output
        kv = batch * context * model.kv_bytes_per_token(2)
        room = chips * chip.memory_bytes - model.total_params * 2
        fits = ("" if kv <= room else
                f" <b>Warning:</b> the batch's KV cache ({kv / 1e9:.0f} GB at the last token) "
                f"does not fit beside the weights ({max(room, 0) / 1e9:.0f} GB free): lesson 08.")
        step = decode_step(model, chip, batch, context, chips=chips)
        held = ("enough to hold the bf16 weights in 90 % of their memory; ideal tensor parallelism, "
                "no communication"
                if chips > 1 else "it holds the bf16 weights")
        return (f"<b>{model.name}</b> on {chips} × <b>{chip.name}</b> ({held}), "
                f"${price:.2f} per chip-hour. "
                f"TTFT <b>{seconds_label(cost.ttft)}</b>, TPOT <b>{seconds_label(cost.tpot)}</b> "
                f"({1 / cost.tpot:,.0f} tokens/s per user; decode is {step.bound}-bound at the "
                f"last token), total <b>{seconds_label(cost.seconds)}</b>. "
                f"Cost <b>${cost.total_usd * 1e3:.3g} per thousand</b> such requests, "
                f"{cost.input_share:.0%} of it for the input. "
                f"Per million tokens: input ${cost.usd_per_input_token * 1e6:.3g}, output "
                f"${cost.usd_per_output_token * 1e6:.3g}: an output token costs "
                f"<b>{cost.output_input_ratio:.1f}×</b> an input token.{fits}")
