"""Figures of the lab: a measured roofline beside the shipped H100 one, and the sweep's
time against the number of rows M."""
from __future__ import annotations

import numpy as np
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from . import reference
from .display import Table
from .plotting import MEASURED, PALETTE, figure, seconds_label
from .roofline import matmul_bytes, matmul_flops
from .roofline_fit import RooflineFit, fit_sweep, knee_rows


def _flops_unit(peak: float):
    """(scale, label) so that the peak reads as a number between 1 and 1000."""
    for scale, unit in ((1e15, "PFLOP/s"), (1e12, "TFLOP/s"), (1e9, "GFLOP/s"), (1e6, "MFLOP/s")):
        if peak >= scale:
            return scale, unit
    return 1.0, "FLOP/s"


def _bandwidth_text(bandwidth: float) -> str:
    return f"{bandwidth / 1e12:.3g} TB/s" if bandwidth >= 1e12 else f"{bandwidth / 1e9:.3g} GB/s"


def roofline_panel(ax, sweep: dict, fit: RooflineFit | None = None, *, title: str = "",
                   color: str = PALETTE["blue"], read_bandwidth: float | None = None,
                   read_label: str = "read test"):
    """Measured points of ``sweep`` (achieved FLOP/s against FLOP per byte) under the roof
    fitted to them (``fit``, fitted here when None); ``read_bandwidth`` (bytes/s) adds the
    slope a plain read of a large array reached, dashed. Returns the fit."""
    fit = fit_sweep(sweep) if fit is None else fit
    intensity = sweep["flops"] / sweep["bytes"]
    achieved = sweep["flops"] / sweep["seconds"]
    scale, unit = _flops_unit(fit.peak_flops)
    low = min(intensity.min(), fit.ridge) / 3
    high = max(intensity.max(), fit.ridge) * 3
    x = np.geomspace(low, high, 200)
    ax.plot(x, fit.attainable_flops(x) / scale, color=color,
            label=f"fitted roof: {_bandwidth_text(fit.bandwidth)}, {fit.peak_flops / scale:.3g} {unit}\n"
                  f"ridge (diamond): {fit.ridge:.3g} FLOP per byte")
    if read_bandwidth is not None:
        ax.plot(x, np.minimum(fit.peak_flops, x * read_bandwidth) / scale, color=color, linestyle="--",
                linewidth=1.2, label=f"{read_label}: {_bandwidth_text(read_bandwidth)}")
    ax.plot(intensity, achieved / scale, color=PALETTE["black"], label="measured matrix products",
            **MEASURED)
    ax.plot([fit.ridge], [fit.peak_flops / scale], marker="D", color=color, markersize=7, linestyle="none")
    ax.set(xscale="log", yscale="log", xlabel="arithmetic intensity (FLOP per byte)",
           ylabel=f"achieved {unit}", title=title)
    ax.set_ylim(top=fit.peak_flops / scale * 12)  # room above the roof for the legend
    ax.legend(loc="upper left")
    return fit


def lab_rooflines(measurement, device: str = "h100"):
    """Two panels: the learner's roofline (measured points, fitted roof, plain-read
    bandwidth) and the reference ``device``'s (its bf16 GEMM sweep and measured HBM read).
    A third panel shows the learner's GPU sweep when there is one. Returns (figure, axes)."""
    panels = 3 if measurement.gpu_sweep is not None else 2
    fig, axes = figure(ncols=panels, width=5.2 * panels, height=4.3)
    axes = np.ravel(axes)
    machine = measurement.machine
    roofline_panel(axes[0], measurement.sweep, measurement.fit, color=PALETTE["blue"],
                   title=f"your machine ({machine.cores} cores, float32)"
                         + (" · quick mode" if measurement.quick else ""),
                   read_bandwidth=measurement.bandwidth.best_read, read_label="large-array read")
    name = reference.CATALOGUE_NAME[reference._device(device)]
    roofline_panel(axes[1], reference.gemm_sweep(device, "bf16"), color=PALETTE["vermillion"],
                   title=f"reference: {name} (bf16, measured)",
                   read_bandwidth=reference.measured_bandwidth(device), read_label="HBM read")
    if panels == 3:
        roofline_panel(axes[2], measurement.gpu_sweep, color=PALETTE["green"], title="your GPU (bf16)")
    return fig, axes


def _flops_text(flops: float) -> str:
    scale, unit = _flops_unit(flops)
    return f"{flops / scale:.3g} {unit}"


def roofline_table(fit: RooflineFit, device: str = "h100"):
    """The learner's fitted roofline beside the reference ``device``'s (its bf16 sweep), as a
    Table: bandwidth and peak each in a readable unit (GB/s or TB/s, GFLOP/s or TFLOP/s)."""
    name = reference.CATALOGUE_NAME[reference._device(device)]
    roofs = (("yours (float32)", fit), (f"{name} (bf16, shipped)", reference.measured_roofline(device)))
    return Table([{"machine": label, "bandwidth": _bandwidth_text(roof.bandwidth),
                   "peak": _flops_text(roof.peak_flops), "ridge (FLOP/byte)": f"{roof.ridge:.3g}"}
                  for label, roof in roofs], caption="rooflines fitted to the measured sweeps")


def sweep_times(sweep: dict, fit: RooflineFit | None = None, *, bytes_per_value: float = 4, ax=None,
                label: str = "measured"):
    """Time of each X[M,K] @ W[K,N] against M (log-log) with the fitted roof's time and the
    knee (the M where the roof turns from memory to compute). Returns the axes."""
    fit = fit_sweep(sweep) if fit is None else fit
    if ax is None:
        _, ax = figure()
    rows = np.geomspace(sweep["M"].min(), sweep["M"].max(), 200)
    k, n = float(sweep["K"][0]), float(sweep["N"][0])
    roof = fit.seconds(matmul_flops(rows, k, n), matmul_bytes(rows, k, n, bytes_per_value))
    ax.plot(rows, roof * 1e3, color=PALETTE["blue"], label="fitted roof: max(bytes/BW, FLOPs/peak)")
    ax.plot(sweep["M"], sweep["seconds"] * 1e3, color=PALETTE["black"], label=label, **MEASURED)
    knee = knee_rows(fit.ridge, k, n, bytes_per_value)
    if np.isfinite(knee) and rows[0] <= knee <= rows[-1]:
        ax.axvline(knee, color=PALETTE["vermillion"], linestyle=":", label=f"knee: M ≈ {knee:.3g}")
    ax.set(xscale="log", yscale="log", xlabel="rows M (tokens in the batch)",
           ylabel="time per product (ms)",
           title=f"X[M, {k:.0f}] @ W[{k:.0f}, {n:.0f}]: flat while memory-bound, then rising")
    plain = FuncFormatter(lambda value, _: f"{value:g}")
    ax.xaxis.set_major_formatter(plain)
    # Times often span one or two decades: label 1, 2 and 5 of each so the axis can be read.
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(plain)
    low, high = ax.get_ylim()
    ax.yaxis.set_minor_formatter(plain if high / low < 3 else NullFormatter())
    ax.legend(loc="upper left")
    return ax


def decode_check(predicted: float, measured: float, reference_floor: float | None = None,
                 reference_measured: float | None = None, ax=None):
    """Bars: the predicted and timed batch-1 step on this machine, as a fraction of the timed
    step, beside the same fraction for the H100 (its floor over its measured step) when given."""
    if ax is None:
        _, ax = figure(height=2.8)
    names, fractions, colors = ["your machine"], [predicted / measured], [PALETTE["blue"]]
    if reference_floor is not None and reference_measured is not None:
        names.append("H100, llama-3-8B shape")
        fractions.append(reference_floor / reference_measured)
        colors.append(PALETTE["vermillion"])
    bars = ax.barh(names, fractions, color=colors)
    for bar, fraction in zip(bars, fractions):
        ax.annotate(f"{fraction:.0%}", (bar.get_width(), bar.get_y() + bar.get_height() / 2),
                    xytext=(4, 0), textcoords="offset points", va="center", fontsize=10)
    ax.axvline(1.0, color=PALETTE["black"], linewidth=1)
    ax.set(xlim=(0, max(1.15, max(fractions) * 1.15)),
           xlabel="predicted (bytes / read bandwidth) ÷ timed step",
           title=f"batch-1 step: predicted {seconds_label(predicted)}, timed {seconds_label(measured)}")
    ax.invert_yaxis()
    return ax
