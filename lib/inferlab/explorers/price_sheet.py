"""Lesson 11: the capstone price sheet explorer (the whole course in one figure)."""
from __future__ import annotations

import math

import numpy as np

from .. import economics
from ..hardware import get_hardware, list_hardware
from ..models import get_model, list_models
from ..plotting import PALETTE
from ..price_sheet import RATIOS, ProviderAssumptions, price_sheet, published_ratios, published_sheet, standard_rows
from ..widgets import Explorer

#: The sheet's prices in the order the figure shows them: (label, PriceSheet field).
PRICES = (("input", "input"), ("cached\ninput", "cached_input"), ("output", "output"),
          ("long\ninput", "long_input"), ("long\noutput", "long_output"), ("fast\noutput", "fast_output"),
          ("batch\ninput", "batch_input"), ("batch\noutput", "batch_output"))
RATIO_LABELS = ("output\n/ input", "cached\n/ input", "long in\n/ input", "long out\n/ output",
                "fast out\n/ output", "batch out\n/ output")
PRECISIONS = {"bf16": dict(weight_bytes=2, kv_bytes=2, compute_dtype="bf16"),
              "fp8 weights": dict(weight_bytes=1, kv_bytes=2, compute_dtype="fp8")}


def published_choices() -> dict:
    """Label -> (provider, model) for every published standard sheet."""
    choices = {}
    for p in standard_rows():
        label = f"{p.provider} {p.model} ({p.source_date.split(' ')[0]})"
        choices.setdefault(label, (p.provider, p.model))
    return choices


def published_prices(provider, model) -> np.ndarray:
    """A published sheet as the explorer's price row ($/M; nan where not published)."""
    s = published_sheet(provider, model)
    return np.array([s["input"], s["cached_input"], s["output"],
                     s["input"] * s["long input / input"], s["output"] * s["long output / output"],
                     s["output"] * s["fast output / output"],
                     s["input"] * s["batch output / output"], s["output"] * s["batch output / output"]])


class PriceSheetExplorer(Explorer):
    """Model, chip, chips, precision, price per GPU-hour, batch, utilisation, context and
    margin -> the derived price sheet and its ratios, next to a published sheet and the
    range of all published ratios."""

    figsize = (10.0, 4.2)
    CONTEXTS = (1024, 4096, 16384, 65536)
    _base = {"model": "llama-3.1-70b", "hardware": "H100-SXM", "chips": 8, "precision": "bf16",
             "batch": 256, "utilisation": 0.5, "context": 4096, "margin": 0.5}
    things_to_try = (
        ("Raise the max batch to 1024: output falls, the fast tier's multiple grows.", {**_base, "batch": 1024}),
        ("Utilisation 0.9 and margin 0: how close are you to DeepSeek's prices?",
         {**_base, "utilisation": 0.9, "margin": 0.0}),
        ("deepseek-v3, 16 H100s, fp8, max batch 1024: lower it until output/input enters the published band.",
         {**_base, "model": "deepseek-v3", "chips": 16, "precision": "fp8 weights", "batch": 1024}),
        ("An H200 at the same rent: which lines move?", {**_base, "hardware": "H200"}),
    )

    def controls(self) -> dict:
        import ipywidgets as widgets
        chips = [c for c in list_hardware() if "bf16" in get_hardware(c).dtypes]
        choices = published_choices()
        style = {"description_width": "initial"}
        return {
            "model": widgets.Dropdown(options=list_models(), value="llama-3.1-70b", description="model"),
            "hardware": widgets.Dropdown(options=chips, value="H100-SXM", description="chip"),
            "chips": widgets.Dropdown(options=[1, 2, 4, 8, 16, 32], value=8, description="chips"),
            "precision": widgets.ToggleButtons(options=list(PRECISIONS), value="bf16", description="precision"),
            "usd_per_gpu_hour": widgets.FloatSlider(value=round(economics.gpu_hour_price("H100-SXM"), 2),
                                                    min=1.0, max=12.0, step=0.01, readout_format=".2f",
                                                    description="$ per GPU-hour", style=style),
            "batch": widgets.FloatLogSlider(value=256, base=2, min=0, max=12, step=1, readout_format=".0f",
                                            description="max batch", style=style),
            "utilisation": widgets.FloatSlider(value=0.5, min=0.1, max=0.9, step=0.05, readout_format=".2f",
                                               description="utilisation", style=style),
            "context": widgets.Dropdown(options=list(self.CONTEXTS), value=4096, description="context"),
            "margin": widgets.FloatSlider(value=0.5, min=0.0, max=0.9, step=0.05, readout_format=".2f",
                                          description="margin", style=style),
            "compare": widgets.Dropdown(options=list(choices), value=next(
                label for label in choices if label.startswith("DeepSeek deepseek-chat")),
                description="compare with", style=style),
        }

    def draw(self, fig, **values) -> str:
        left, right = fig.subplots(1, 2, width_ratios=[1.25, 1])
        x = np.arange(len(PRICES))
        self._ours, = left.plot(x, np.full(len(x), np.nan), marker="o", markersize=10, linestyle="none",
                                color=PALETTE["vermillion"], label="your sheet")
        self._theirs, = left.plot(x, np.full(len(x), np.nan), marker="D", markersize=7, linestyle="none",
                                  color=PALETTE["black"], label="the published sheet chosen")
        left.set(yscale="log", ylim=(1e-3, 2e3), xlim=(-0.5, len(x) - 0.5),
                 ylabel="$ per million tokens", title="the price sheet")
        left.set_xticks(x, [label for label, _ in PRICES], fontsize=8)
        left.legend(loc="upper left", fontsize=8)

        rx = np.arange(len(RATIOS))
        rows = published_ratios()
        for i, name in enumerate(RATIOS):
            v = np.array([r["value"] for r in rows if r["ratio"] == name])
            jitter = np.linspace(-0.25, 0.25, len(v)) if len(v) > 1 else np.zeros(len(v))
            right.plot(i + jitter, v, marker="o", markersize=4, linestyle="none", color=PALETTE["sky"],
                       alpha=0.6, label="every published sheet" if i == 0 else None)
        self._our_ratios, = right.plot(rx, np.full(len(rx), np.nan), marker="o", markersize=10,
                                       linestyle="none", color=PALETTE["vermillion"], label="your sheet")
        self._their_ratios, = right.plot(rx, np.full(len(rx), np.nan), marker="D", markersize=7,
                                         linestyle="none", color=PALETTE["black"], label="the sheet chosen")
        right.axhline(1, color=PALETTE["black"], linewidth=0.8)
        right.set(yscale="log", ylim=(3e-3, 300), xlim=(-0.5, len(rx) - 0.5), ylabel="ratio",
                  title="its ratios against the published ones")
        right.set_xticks(rx, RATIO_LABELS, fontsize=8)
        right.legend(loc="upper left", fontsize=8)
        for ax in (left, right):
            ax.minorticks_off()
        self.moving = [self._ours, self._theirs, self._our_ratios, self._their_ratios]
        return self.update(**values)

    def update(self, model, hardware, chips, precision, usd_per_gpu_hour, batch, utilisation, context,
               margin, compare) -> str:
        provider, published_model = published_choices()[compare]
        theirs = published_prices(provider, published_model)
        self._theirs.set_ydata(theirs)
        their_ratios = published_sheet(provider, published_model)
        self._their_ratios.set_ydata([their_ratios[name] for name in RATIOS])
        settings = dict(model=model, hardware=hardware, chips=int(chips), context=int(context),
                        usd_per_gpu_hour=round(float(usd_per_gpu_hour), 2),
                        batch=int(round(float(batch))), utilisation=round(float(utilisation), 2),
                        margin=round(float(margin), 2), **PRECISIONS[precision])
        note = ""
        try:
            sheet = price_sheet(**settings)
        except ValueError as error:  # one long sequence does not fit: price the model's own window
            window = get_model(model).max_context
            if "long_context" not in str(error) or not window:
                raise
            sheet = price_sheet(**settings, long_context=window, long_threshold=window // 2)
            note = (f" One {ProviderAssumptions.long_context:,}-token sequence would not fit here, so the long "
                    f"line prices the model's own window, {window:,} tokens, against half of it.")
        self._ours.set_ydata([getattr(sheet, field) for _, field in PRICES])
        self._our_ratios.set_ydata([sheet.ratios[name] for name in RATIOS])
        return _summary(sheet, compare, theirs) + note


def _money(value) -> str:
    return "n/a" if not math.isfinite(value) else (f"${value:.3g}" if value < 100 else f"${value:,.0f}")


def _summary(sheet, compare, theirs) -> str:
    a = sheet.assumptions
    cells = "".join(
        f"<tr><td>{row['tier']}</td><td>{_money(row['input'])}</td>"
        f"<td>{_money(row['cached_input']) if row['cached_input'] != '' else ''}</td>"
        f"<td>{_money(row['output'])}</td><td>{row['runs']}</td></tr>" for row in sheet.rows())
    ratios = ", ".join(f"{name} <b>{value:.3g}</b>" for name, value in sheet.ratios.items()
                       if math.isfinite(value))
    target = "" if sheet.meets_target else (
        f" <b>Misses the {a.max_tpot * 1e3:.0f} ms latency target</b> even at batch 1.")
    return (f"<b>{a.model}</b> on {a.chips} × <b>{get_hardware(a.hardware).name}</b> at "
            f"${a.gpu_hour_price:.2f} per GPU-hour, {a.utilisation:.0%} utilised, {a.margin:.0%} margin, "
            f"context {a.context:,}. Prices in $ per million tokens:"
            f"<table class='inferlab-table'><tr><th>tier</th><th>input</th><th>cached</th><th>output</th>"
            f"<th>runs at</th></tr>{cells}</table>"
            f"Ratios: {ratios}.{target} Published, {compare}: input {_money(theirs[0])}, "
            f"output {_money(theirs[2])}.")
