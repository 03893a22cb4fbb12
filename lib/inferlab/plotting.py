"""One plot style for the course and the figures every lesson reuses.

Colours are the Okabe-Ito palette (safe for the common colour-vision deficiencies);
every axis carries its unit.
"""
from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np

from .hardware import get_hardware

#: Okabe & Ito (2008) colour-blind-safe palette.
PALETTE = {
    "blue": "#0072B2", "orange": "#E69F00", "green": "#009E73", "vermillion": "#D55E00",
    "sky": "#56B4E9", "purple": "#CC79A7", "yellow": "#F0E442", "black": "#000000",
}
COLORS = [PALETTE[c] for c in ("blue", "orange", "green", "vermillion", "sky", "purple", "black")]
#: Measured points always use these markers, predictions lines, so print-outs read too.
MEASURED = dict(marker="o", linestyle="none", markersize=5)

STYLE = {
    "figure.figsize": (7.0, 4.0),
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": mpl.cycler(color=COLORS),
    "legend.frameon": False,
    "legend.fontsize": 9,
    "lines.linewidth": 2.0,
}


def use_style() -> None:
    """Apply the course style to matplotlib (idempotent)."""
    mpl.rcParams.update(STYLE)


def figure(ncols: int = 1, nrows: int = 1, width: float | None = None, height: float | None = None):
    """A styled figure and its axes (``constrained`` layout)."""
    use_style()
    w, h = STYLE["figure.figsize"]
    return plt.subplots(nrows, ncols, figsize=(width or w * (1 if ncols == 1 else 0.62 * ncols),
                                               height or h * (1 if nrows == 1 else 0.8 * nrows)),
                        layout="constrained", squeeze=ncols * nrows == 1)


def seconds_label(seconds) -> str:
    """A human reading of a duration: '4.79 ms', '151 µs', '2.1 s'."""
    seconds = float(seconds)
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs"), (1e-9, "ns")):
        if abs(seconds) >= scale or unit == "ns":
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds} s"  # pragma: no cover


def bytes_label(nbytes) -> str:
    """A human reading of a size in decimal units: '16.1 GB'."""
    nbytes = float(nbytes)
    for scale, unit in ((1e15, "PB"), (1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
        if abs(nbytes) >= scale:
            return f"{nbytes / scale:.3g} {unit}"
    return f"{nbytes:.3g} B"


def roofline(hardware=("H100-SXM",), dtype: str = "bf16", ax=None, intensity=(0.1, 1e4),
             points=None, label_points: str = "measured", ridge_label_offset=(6, -14)):
    """Log-log roofline (attainable FLOP/s against FLOP per byte) for one or more chips.

    ``points``: optional (intensity, flop_per_second) arrays drawn as measured markers.
    Ridge points are marked, each labelled ``ridge_label_offset`` points from its marker.
    Returns the axes.
    """
    if ax is None:
        _, ax = figure()
    chips = [hardware] if isinstance(hardware, str) or not np.iterable(hardware) else list(hardware)
    x = np.logspace(np.log10(intensity[0]), np.log10(intensity[1]), 200)
    for color, chip in zip(COLORS, chips):
        chip = get_hardware(chip)
        peak, bandwidth = chip.peak_flops(dtype), chip.memory_bandwidth
        ax.plot(x, np.minimum(peak, x * bandwidth) / 1e12, color=color,
                label=f"{chip.name}: {bandwidth / 1e12:.3g} TB/s, {peak / 1e12:.0f} TFLOP/s")
        ridge = peak / bandwidth
        ax.plot([ridge], [peak / 1e12], marker="D", color=color, markersize=6)
        ax.annotate(f"ridge {ridge:.0f}", (ridge, peak / 1e12), textcoords="offset points",
                    xytext=ridge_label_offset, fontsize=9, color=color)
    if points is not None:
        ax.plot(points[0], np.asarray(points[1]) / 1e12, color=PALETTE["black"],
                label=label_points, **MEASURED)
    ax.set(xscale="log", yscale="log", xlabel="arithmetic intensity (FLOP per byte)",
           ylabel=f"attainable {dtype} TFLOP/s")
    ax.legend(loc="lower right")
    return ax


use_style()
