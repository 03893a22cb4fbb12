"""A roofline fitted to measurements: the tightest roof no measured point breaks.

A roofline says time >= bytes / bandwidth and time >= FLOPs / peak. So every measured
matrix product proves the machine can do *at least* bytes / time bytes per second and
FLOPs / time FLOP/s. The fitted bandwidth and peak are the largest such rates any point
reached (the "envelope"): a memory-bound point on the roof gives the bandwidth, a
compute-bound point on the roof the peak. Points below the roof (small, inefficient
kernels; the rounded knee) cannot pull the roof down. The fit needs at least one point
on each side of the ridge: with only memory-bound points the peak comes out too low.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validate import positive


@dataclass(frozen=True)
class RooflineFit:
    """A measured roofline: ``peak_flops`` in FLOP/s, ``bandwidth`` in bytes/s."""

    peak_flops: float
    bandwidth: float

    def __post_init__(self):
        positive(self.peak_flops, "peak_flops")
        positive(self.bandwidth, "bandwidth")

    @property
    def ridge(self) -> float:
        """Arithmetic intensity (FLOP per byte) where the two roofs meet: peak / bandwidth."""
        return self.peak_flops / self.bandwidth

    def attainable_flops(self, intensity):
        """FLOP/s the roof allows at ``intensity`` FLOP per byte: min(peak, intensity x bandwidth)."""
        return np.minimum(self.peak_flops, positive(intensity, "intensity") * self.bandwidth)

    def seconds(self, flops, bytes_moved):
        """max(bytes / bandwidth, flops / peak): the roof's time for the work, seconds."""
        flops = positive(flops, "flops", allow_zero=True)
        bytes_moved = positive(bytes_moved, "bytes_moved", allow_zero=True)
        return np.maximum(bytes_moved / self.bandwidth, flops / self.peak_flops)

    def bound(self, intensity):
        """'memory' below the ridge, 'compute' at or above it (an array for array input)."""
        verdict = np.where(positive(intensity, "intensity") < self.ridge, "memory", "compute")
        return str(verdict) if verdict.ndim == 0 else verdict


def fit_roofline(flops, bytes_moved, seconds) -> RooflineFit:
    """The tightest roofline under which every measured point lies.

    ``flops``, ``bytes_moved`` and ``seconds`` are arrays of the same length (at least two
    points), one entry per measured operation. Bandwidth = max(bytes / seconds) and peak =
    max(flops / seconds) over the points.
    """
    flops = np.atleast_1d(positive(flops, "flops"))
    bytes_moved = np.atleast_1d(positive(bytes_moved, "bytes_moved"))
    seconds = np.atleast_1d(positive(seconds, "seconds"))
    if not flops.shape == bytes_moved.shape == seconds.shape or flops.ndim != 1:
        raise ValueError("flops, bytes_moved and seconds must be 1-d arrays of the same length, got "
                         f"shapes {flops.shape}, {bytes_moved.shape} and {seconds.shape}")
    if flops.size < 2:
        raise ValueError(f"a roofline needs at least 2 measured points, got {flops.size}")
    return RooflineFit(peak_flops=float(np.max(flops / seconds)),
                       bandwidth=float(np.max(bytes_moved / seconds)))


def fit_sweep(sweep: dict) -> RooflineFit:
    """``fit_roofline`` of a sweep dict (``measure.gemm_sweep`` or ``reference.gemm_sweep``)."""
    missing = [key for key in ("flops", "bytes", "seconds") if key not in sweep]
    if missing:
        raise ValueError(f"sweep lacks {', '.join(missing)}; pass measure.gemm_sweep() or reference.gemm_sweep()")
    return fit_roofline(sweep["flops"], sweep["bytes"], sweep["seconds"])


def knee_rows(ridge, k, n, bytes_per_value=2):
    """Rows M at which X[M,K] @ W[K,N] reaches intensity ``ridge`` (FLOP per byte).

    Solves 2 M K N = ridge x b (M K + K N + M N) for M:
    M = ridge b K N / (2 K N - ridge b (K + N)). Where no M reaches the ridge (the
    intensity never gets there, it tends to 2 K N / (b (K + N))), returns ``inf``.
    """
    ridge = positive(ridge, "ridge")
    k, n = positive(k, "k"), positive(n, "n")
    b = positive(bytes_per_value, "bytes_per_value")
    denominator = 2.0 * k * n - ridge * b * (k + n)
    with np.errstate(divide="ignore"):
        rows = np.where(denominator > 0, ridge * b * k * n / np.where(denominator > 0, denominator, 1.0), np.inf)
    return float(rows) if np.ndim(rows) == 0 else rows
