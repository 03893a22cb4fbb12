"""Lesson 02: the roofline. Figures of the measured H100 GEMM sweeps against the roofline,
and an explorer that places a matrix product or an attention layer on a chip's roofline."""
from __future__ import annotations

import numpy as np

from .. import reference
from ..hardware import get_hardware, list_hardware
from ..intensity import (decode_attention_bytes, decode_attention_flops, knee_batch, knee_from_sweep,
                         prefill_attention_bytes, prefill_attention_flops)
from ..models import get_model, list_models
from ..plotting import MEASURED, PALETTE, bytes_label, figure, roofline, seconds_label
from ..roofline import matmul_bytes, matmul_flops, roofline_seconds
from ..widgets import Explorer

#: Bytes per value of X, W and the output in the two sweeps (fp8: bf16 output).
SWEEP_WIDTHS = {"bf16": (2, 2, 2), "fp8": (1, 1, 2)}


def sweep_hardware(device: str = "h100", dtype: str = "bf16"):
    """The catalogue chip with the roofline its ``dtype`` GEMM sweep measured
    (``reference.measured_roofline``): the fastest bytes/s and FLOP/s any product reached.
    That is the roof the products actually run against; its ridge is the measured ridge."""
    spec = get_hardware(reference.CATALOGUE_NAME[device])
    fit = reference.measured_roofline(device, dtype)
    return spec.replace(name=f"{spec.name} measured", aliases=(), memory_bandwidth=fit.bandwidth,
                        **{f"{dtype}_flops": fit.peak_flops})


def _ridges_in_legend(ax, chips, dtype, loc="lower right"):
    """Move the ridge labels of ``plotting.roofline`` into the legend (they overlap when
    several chips have similar ridges)."""
    for text in list(ax.texts):
        if text.get_text().startswith("ridge"):
            text.remove()
    handles, labels = ax.get_legend_handles_labels()
    ridges = {get_hardware(c).name: get_hardware(c).ridge_point(dtype) for c in chips}
    labels = [f"{label}, ridge {ridges[label.split(':')[0]]:.0f}" if label.split(":")[0] in ridges
              else label for label in labels]
    ax.legend(handles, labels, loc=loc)
    return ax


def catalogue_roofline(chips=("B200", "MI300X", "H200", "H100-SXM", "A100-80GB", "TPU-v5e"),
                       dtype: str = "bf16", ax=None):
    """``plotting.roofline`` of several catalogue chips, each ridge point (FLOP per byte)
    written in the legend."""
    ax = roofline(list(chips), dtype=dtype, ax=ax, intensity=(0.1, 1e4))
    ax.set_title(f"Rooflines from the spec sheets, dense {dtype} (◆ = ridge point)")
    return _ridges_in_legend(ax, chips, dtype)


def sweep_on_roofline(device: str = "h100", dtype: str = "bf16", ax=None, label_rows=(1, 64, 384, 16384)):
    """The measured GEMM sweep (K = N = 8192) as points on the chip's roofline in ``dtype``,
    with the measured roofline (``sweep_hardware``) dashed: its ridge lies right of the
    spec's, because the products stream their weights further below the spec bandwidth
    than they fall below the spec FLOP/s."""
    spec = get_hardware(reference.CATALOGUE_NAME[device])
    sweep = reference.gemm_sweep(device, dtype)
    square = sweep["K"] == 8192
    intensity = sweep["flops"][square] / sweep["bytes"][square]
    speed = sweep["flops"][square] / sweep["seconds"][square]
    ax = roofline([spec, sweep_hardware(device, dtype)], dtype=dtype, ax=ax, intensity=(0.5, 1e4),
                  points=(intensity, speed), label_points=f"measured {dtype} GEMM, K = N = 8192")
    ax.lines[2].set_linestyle("--")  # the measured roof
    _ridges_in_legend(ax, [spec, sweep_hardware(device, dtype)], dtype)
    rows = sweep["M"][square]
    for m in label_rows:
        pick = np.flatnonzero(rows == m)
        if pick.size:
            i = pick[np.argmax(speed[pick])]
            ax.annotate(f"M={m}", (intensity[i], speed[i] / 1e12), textcoords="offset points",
                        xytext=(5, -12), fontsize=8)
    ax.set_title(f"{spec.name}, {dtype}: spec sheet (solid), measured roofline (dashed)")
    ax.set_ylim(1, 4 * spec.peak_flops(dtype) / 1e12)
    return ax


def sweep_time(device: str = "h100", ax=None):
    """Measured time of X[M,8192] @ W[8192,8192] against M in bf16 and fp8, with the
    spec-sheet roofline time of each and the knee of each measured curve."""
    if ax is None:
        _, ax = figure(height=4.2)
    chip = get_hardware(reference.CATALOGUE_NAME[device])
    rows = np.geomspace(1, 16384, 300)
    for color, dtype in zip((PALETTE["blue"], PALETTE["vermillion"]), ("bf16", "fp8")):
        x_bytes, w_bytes, out_bytes = SWEEP_WIDTHS[dtype]
        moved = matmul_bytes(rows, 8192, 8192, input_bytes=x_bytes, weight_bytes=w_bytes,
                                     output_bytes=out_bytes)
        predicted = roofline_seconds(matmul_flops(rows, 8192, 8192), moved, chip, dtype)
        ax.plot(rows, predicted * 1e6, color=color, label=f"roofline, spec sheet, {dtype}")
        sweep = reference.gemm_sweep(device, dtype)
        square = sweep["K"] == 8192
        ax.plot(sweep["M"][square], sweep["seconds"][square] * 1e6, color=color,
                markerfacecolor="white", label=f"measured, {dtype}", **MEASURED)
        knee = knee_from_sweep(sweep["M"][square], sweep["seconds"][square])
        ax.axvline(knee, color=color, linestyle=":", linewidth=1.2)
        ax.annotate(f"observed knee,\n{dtype}: M ≈ {knee:.0f}", (knee, 12 if dtype == "bf16" else 25),
                    xytext=(4, 0), textcoords="offset points", fontsize=8, color=color)
    ax.axvline(knee_batch(chip), color=PALETTE["black"], linestyle="--", linewidth=1)
    ax.annotate(f"spec ridge\nM ≈ {knee_batch(chip):.0f}", (knee_batch(chip), 900), xytext=(-4, 0),
                textcoords="offset points", fontsize=8, ha="right")
    ax.set(xscale="log", yscale="log", xlabel="M (rows of X: tokens in the batch)",
           ylabel="time per product (µs)", ylim=(10, 5000),
           title=f"X[M, 8192] @ W[8192, 8192] on one {chip.name}")
    ax.legend(loc="upper left")
    return ax


# --- the explorer ---------------------------------------------------------------------
OPERATIONS = ("matmul", "prefill attention", "decode attention")
PRECISIONS = ("bf16", "fp8")
_INTENSITY = (0.3, 1e5)  # FLOP per byte: the fixed x range
_SPEED = (0.1, 3e4)      # TFLOP/s
_TIME = (1e-8, 10.0)     # seconds


def operation_cost(hardware, operation, precision="bf16", rows=1, k=8192, n=8192,
                   model="llama-3.1-8b", length=4096):
    """FLOPs, bytes and roofline seconds of one operation on one chip (a dict).

    ``operation``: 'matmul' (X[rows,k] @ W[k,n]; fp8 means fp8 X and W and a bf16 output),
    'prefill attention' (``rows`` prompts of ``length`` tokens, causal) or 'decode attention'
    (``rows`` sequences, each with ``length`` cached tokens). Attention is one layer of
    ``model`` and moves its numbers in ``precision`` (2 bytes bf16, 1 byte fp8). A model
    with latent attention (MLA, DeepSeek-V3) is modelled in decode only, in its absorbed
    form: every head reads the one shared latent per cached token (the model's
    ``decode_attention_flops_per_position`` and ``kv_bytes_per_token``, per layer), plus
    the new token's latent written and its latent-space query and output.
    """
    chip = get_hardware(hardware)
    if operation not in OPERATIONS:
        raise ValueError(f"operation must be one of {', '.join(OPERATIONS)}, got {operation!r}")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    width = 2 if precision == "bf16" else 1
    if operation == "matmul":
        flops = matmul_flops(rows, k, n)
        moved = matmul_bytes(rows, k, n, input_bytes=width, weight_bytes=width, output_bytes=2)
    else:
        shape = get_model(model)
        if shape.mla is not None:
            if operation == "prefill attention":
                raise ValueError(f"{shape.name} uses latent attention (MLA): only its decode is modelled here")
            latent = shape.mla.kv_lora_rank + shape.mla.qk_rope_head_dim
            flops = rows * length * shape.decode_attention_flops_per_position / shape.layers
            moved = rows * ((length + 1) * shape.kv_bytes_per_token(width) / shape.layers
                            + shape.heads * (latent + shape.mla.kv_lora_rank) * width)
        elif operation == "prefill attention":
            flops = prefill_attention_flops(length, shape.heads, shape.head_dim, batch=rows)
            moved = prefill_attention_bytes(length, shape.heads, shape.kv_heads, shape.head_dim,
                                            batch=rows, bytes_per_value=width)
        else:
            flops = decode_attention_flops(length, shape.heads, shape.head_dim, batch=rows)
            moved = decode_attention_bytes(length, shape.heads, shape.kv_heads, shape.head_dim,
                                           batch=rows, bytes_per_value=width)
    peak = chip.peak_flops(precision)
    memory_seconds, compute_seconds = moved / chip.memory_bandwidth, flops / peak
    return {"flops": flops, "bytes": moved, "intensity": flops / moved, "ridge": peak / chip.memory_bandwidth,
            "memory_seconds": memory_seconds, "compute_seconds": compute_seconds,
            "seconds": roofline_seconds(flops, moved, chip, precision),
            "bound": "memory" if memory_seconds >= compute_seconds else "compute",
            "peak": peak, "bandwidth": chip.memory_bandwidth}


def _roofline_chips() -> list:
    return [c for c in list_hardware() if "bf16" in get_hardware(c).dtypes]


def _plain(value: float) -> str:
    """A readout number: '1,979' from 100 up, three figures below ('0.5', '42.1')."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _flop_text(flops: float) -> str:
    for scale, unit in ((1e15, "PFLOP"), (1e12, "TFLOP"), (1e9, "GFLOP"), (1e6, "MFLOP")):
        if flops >= scale:
            return f"{_plain(flops / scale)} {unit}"
    return f"{_plain(flops)} FLOP"


#: Controls that only one kind of operation uses (the others are greyed out).
_MATMUL_ONLY, _ATTENTION_ONLY = ("k", "n"), ("model", "length")


class RooflineExplorer(Explorer):
    """Chip and operation -> where it lands on the chip's roofline, its time and its bound."""

    figsize = (9.5, 3.8)

    things_to_try = (
        ("Find the batch where an 8192 × 8192 product turns compute-bound on a B200, then on an A100-80GB.",
         {"hardware": "B200", "operation": "matmul", "rows": 256}),
        ("Switch to fp8 on the H100 and move M: does the knee move? (Then back to bf16: the A100s "
         "have no fp8 peak.)",
         {"hardware": "H100-SXM", "operation": "matmul", "precision": "fp8", "rows": 512}),
        ("Put decode attention on the A100-80GB at the largest batch: can it turn compute-bound?",
         {"hardware": "A100-80GB", "operation": "decode attention", "precision": "bf16", "rows": 65536}),
        ("Make prefill attention memory-bound on a TPU v6e.",
         {"hardware": "TPU-v6e", "operation": "prefill attention", "precision": "bf16", "rows": 1,
          "length": 128}),
        ("Put deepseek-v3's latent attention on an H200 in decode with 4,096 cached tokens: which roof "
         "binds? And with 128?",
         {"hardware": "H200", "operation": "decode attention", "precision": "bf16", "model": "deepseek-v3",
          "length": 4096}),
        ("Give an A100-40GB the decode attention of llama-3.1-8b for 256 sequences of 131,072 tokens.",
         {"hardware": "A100-40GB", "operation": "decode attention", "precision": "bf16",
          "model": "llama-3.1-8b", "rows": 256, "length": 131072}),
    )

    def controls(self) -> dict:
        import ipywidgets as widgets
        return {
            "hardware": widgets.Dropdown(options=_roofline_chips(), value="H100-SXM", description="chip"),
            "operation": widgets.ToggleButtons(options=list(OPERATIONS), value="matmul",
                                               description="operation"),
            "precision": widgets.ToggleButtons(options=list(PRECISIONS), value="bf16",
                                               description="precision"),
            "rows": widgets.FloatLogSlider(value=64, base=2, min=0, max=16, step=1,
                                           description="M / batch", readout_format=".0f"),
            "k": widgets.Dropdown(options=[1024, 2048, 4096, 8192, 14336, 16384], value=8192,
                                  description="K"),
            "n": widgets.Dropdown(options=[1024, 2048, 4096, 8192, 14336, 16384], value=8192,
                                  description="N"),
            "model": widgets.Dropdown(options=list_models(), value="llama-3.1-8b",
                                      description="model"),
            "length": widgets.FloatLogSlider(value=4096, base=2, min=7, max=17, step=1,
                                             description="tokens", readout_format=".0f"),
        }

    def draw(self, fig, **values) -> str:
        left, right = fig.subplots(1, 2, width_ratios=[1.7, 1])
        x = np.geomspace(*_INTENSITY, 100)
        for name in _roofline_chips():  # every chip, faint, for the landscape
            chip = get_hardware(name)
            left.plot(x, np.minimum(chip.peak_flops("bf16"), x * chip.memory_bandwidth) / 1e12,
                      color="0.85", linewidth=1, zorder=1)
        (self._roof,) = left.plot([], [], color=PALETTE["blue"], linewidth=2.5, zorder=3)
        (self._ridge,) = left.plot([], [], marker="D", color=PALETTE["blue"], markersize=7,
                                   linestyle="none", zorder=4)
        (self._point,) = left.plot([], [], marker="o", color=PALETTE["vermillion"], markersize=10,
                                   linestyle="none", markeredgecolor="black", zorder=5)
        (self._drop,) = left.plot([], [], color=PALETTE["vermillion"], linestyle=":", linewidth=1.5, zorder=4)
        left.set(xscale="log", yscale="log", xlim=_INTENSITY, ylim=_SPEED,
                 xlabel="arithmetic intensity (FLOP per byte)", ylabel="attainable TFLOP/s")
        left.plot([], [], color="0.85", label="other chips (bf16)")
        left.plot([], [], color=PALETTE["blue"], label="this chip; ◆ ridge")
        left.plot([], [], marker="o", color=PALETTE["vermillion"], linestyle="none", label="the operation")
        left.legend(loc="upper left")
        self._bars = right.barh(["memory:\nbytes / bandwidth", "compute:\nFLOPs / peak"], [1, 1],
                                left=_TIME[0], color=PALETTE["blue"])
        right.set(xscale="log", xlim=_TIME, xlabel="seconds (log)", title="the two roofs:\nthe longer binds")
        right.invert_yaxis()
        self.moving = [self._roof, self._ridge, self._drop, self._point, *self._bars]
        return self.update(**values)

    def update(self, hardware, operation, precision, rows, k, n, model, length) -> str:
        rows, length = int(round(rows)), int(round(length))
        for name, control in getattr(self, "_controls", {}).items():  # grey out what does not apply
            control.disabled = name in (_ATTENTION_ONLY if operation == "matmul" else _MATMUL_ONLY)
        cost = operation_cost(hardware, operation, precision, rows, k, n, model, length)
        peak, bandwidth, ridge = cost["peak"] / 1e12, cost["bandwidth"], cost["ridge"]
        self._roof.set_data([_INTENSITY[0], ridge, _INTENSITY[1]],
                            [_INTENSITY[0] * bandwidth / 1e12, peak, peak])
        self._ridge.set_data([ridge], [peak])
        speed = cost["flops"] / cost["seconds"] / 1e12
        self._point.set_data([cost["intensity"]], [speed])
        self._drop.set_data([cost["intensity"], cost["intensity"]], [_SPEED[0], speed])
        for bar, seconds, kind in zip(self._bars, (cost["memory_seconds"], cost["compute_seconds"]),
                                      ("memory", "compute")):
            bar.set_width(max(seconds, _TIME[0]) - _TIME[0])
            bar.set_color(PALETTE["vermillion"] if kind == cost["bound"] else PALETTE["sky"])
        if operation == "matmul":
            what = f"X[{rows}, {k}] @ W[{k}, {n}]"
        else:
            what = (f"{operation} of one {model} layer, {rows:,} sequence{'s' if rows > 1 else ''} × "
                    f"{length:,} tokens")
        chip = get_hardware(hardware)
        warning = ""
        if cost["bytes"] > chip.memory_bytes:
            warning = (f" <b>Warning:</b> this moves {bytes_label(cost['bytes'])}, more than the "
                       f"{bytes_label(chip.memory_bytes)} one {chip.name} holds: it does not fit on one chip.")
        return (f"<b>{what}</b> in {precision} on <b>{chip.name}</b>: "
                f"{_flop_text(cost['flops'])} over {bytes_label(cost['bytes'])} = <b>{_plain(cost['intensity'])} "
                f"FLOP/byte</b> against a ridge of {_plain(ridge)}. Memory {seconds_label(cost['memory_seconds'])}, "
                f"compute {seconds_label(cost['compute_seconds'])}: at least <b>{seconds_label(cost['seconds'])}</b>, "
                f"<b>{cost['bound']}-bound</b>, at most {_plain(speed)} of {_plain(peak)} TFLOP/s.{warning}")


def attention_intensity(model="llama-3.1-8b", chip="H100-SXM", ax=None):
    """FLOP per byte of one attention layer of ``model`` (bf16) against the prompt length
    (prefill, causal) and the cached context (decode), with ``chip``'s ridge point and the
    range of bf16 ridge points in the catalogue."""
    if ax is None:
        _, ax = figure(height=3.8)
    shape = get_model(model)
    length = np.unique(np.geomspace(16, 131072, 200).round())
    prefill = prefill_attention_flops(length, shape.heads, 1) / prefill_attention_bytes(
        length, shape.heads, shape.kv_heads, 1)
    decode = decode_attention_flops(length, shape.heads, 1) / decode_attention_bytes(
        length, shape.heads, shape.kv_heads, 1)
    ax.plot(length, prefill, color=PALETTE["vermillion"], label="prefill (prompt length), causal")
    ax.plot(length, decode, color=PALETTE["blue"], label="decode (cached tokens), any batch")
    ridges = [get_hardware(c).ridge_point("bf16") for c in _roofline_chips()]
    ax.axhspan(min(ridges), max(ridges), color="0.9", zorder=0,
               label=f"bf16 ridge points of the catalogue ({min(ridges):.0f} to {max(ridges):.0f})")
    ridge = get_hardware(chip).ridge_point("bf16")
    ax.axhline(ridge, color=PALETTE["black"], linestyle="--", linewidth=1.2,
               label=f"{get_hardware(chip).name} ridge {ridge:.0f}")
    ax.set(xscale="log", yscale="log", xlabel="tokens (prompt or cached context)",
           ylabel="FLOP per byte", ylim=(1, 1e5),
           title=f"Attention intensity, one {shape.name} layer ({shape.heads} query / "
                 f"{shape.kv_heads} KV heads, bf16)")
    ax.legend(loc="upper left")
    return ax
