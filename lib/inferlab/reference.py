"""Measurements of real GPUs shipped with the course (see ``data/reference/METHOD.md``).

One H100 SXM and one H200 measured on 2026-11-27 with the same script: HBM bandwidth,
GEMM sweeps, MoE layers, energy, and decode/prefill steps of a Llama-3-8B-shaped model.
Use them to check a prediction against reality.
"""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

import numpy as np

from . import _lookup
from .hardware import Hardware, get_hardware

FILES = {"h100": "h100_sxm_2026-11-27.json", "h200": "h200_2026-11-27.json"}
CATALOGUE_NAME = {"h100": "H100-SXM", "h200": "H200"}
DECODE_KERNELS = {"sdpa": "decode_sdpa_cudagraph", "splitkv": "decode_splitkv_cudagraph",
                  "eager": "decode_eager_no_graph"}


def _device(device: str) -> str:
    key = _lookup.normalise(device).replace("sxm", "")
    if key not in FILES:
        raise ValueError(f"device must be one of {', '.join(FILES)}, got {device!r}")
    return key


@lru_cache(maxsize=None)
def load(device: str = "h100") -> dict:
    """The whole measurement file for ``device`` ('h100' or 'h200') as a dict."""
    name = FILES[_device(device)]
    return json.loads(resources.files("inferlab").joinpath("data/reference", name).read_text())


def method_notes() -> str:
    """The text of METHOD.md: how every figure was measured."""
    return resources.files("inferlab").joinpath("data/reference/METHOD.md").read_text()


def _runs(section) -> list:
    """Points of a section, whether it holds one run (a list) or several (run1, run2...)."""
    if isinstance(section, list):
        return [dict(p, run=1) for p in section]
    return [dict(p, run=int(key[3:])) for key, points in section.items() for p in points]


def _columns(points: list, keys) -> dict:
    return {key: np.array([p[key] for p in points]) for key in keys}


def decode_steps(device: str = "h100", kernel: str = "sdpa") -> dict:
    """Measured decode steps as arrays ``batch``, ``context``, ``seconds``, ``run``.

    ``kernel``: 'sdpa' (PyTorch attention, CUDA graph), 'splitkv' (attention split over
    the sequence, CUDA graph) or 'eager' (SDPA without a CUDA graph, launch overhead shown).
    """
    if kernel not in DECODE_KERNELS:
        raise ValueError(f"kernel must be one of {', '.join(DECODE_KERNELS)}, got {kernel!r}")
    points = _runs(load(device)[DECODE_KERNELS[kernel]])
    data = _columns(points, ("batch", "context", "seconds_per_step", "run"))
    data["seconds"] = data.pop("seconds_per_step")
    return data


def prefill_steps(device: str = "h100") -> dict:
    """Measured batch-1 prefill: arrays ``prompt`` (tokens) and ``seconds``."""
    return _columns(_runs(load(device)["prefill_batch1"]), ("batch", "prompt", "seconds"))


def gemm_sweep(device: str = "h100", dtype: str = "bf16") -> dict:
    """Measured X[M,K] @ W[K,N]: arrays ``M``, ``K``, ``N``, ``seconds``, ``flops`` (2 M K N),
    ``bytes`` (X, W and the output once each, at their stored widths) and ``run``."""
    key = {"bf16": "gemm_sweep_bf16", "fp8": "gemm_sweep_fp8_e4m3"}.get(dtype)
    if key is None:
        raise ValueError(f"dtype must be 'bf16' or 'fp8', got {dtype!r}")
    data = _columns(_runs(load(device)[key]), ("M", "K", "N", "seconds", "bytes", "run"))
    data["flops"] = 2.0 * data["M"] * data["K"] * data["N"]  # the fp8 file does not list it
    return data


def moe_sweep(device: str = "h100") -> dict:
    """The MoE layer against a dense layer of the same active size (see METHOD.md)."""
    section = load(device)["moe_ffn_sweep"]
    data = _columns(section["points"], tuple(section["points"][0]))
    data.update({k: v for k, v in section.items() if k != "points"})
    return data


def measured_bandwidth(device: str = "h100") -> float:
    """Median HBM read bandwidth measured on ``device``, bytes/s."""
    section = load(device)["hbm_bandwidth"]
    runs = [section] if "read_GBps" in section else list(section.values())
    return float(np.median([run["read_GBps"] for run in runs])) * 1e9


def measured_peak_flops(device: str = "h100", dtype: str = "bf16") -> float:
    """Fastest FLOP/s any GEMM of the sweep reached on ``device``."""
    sweep = gemm_sweep(device, dtype)
    return float(np.max(sweep["flops"] / sweep["seconds"]))


def measured_roofline(device: str = "h100", dtype: str = "bf16"):
    """The roofline measured by the ``dtype`` GEMM sweep (``roofline_fit.fit_sweep``): the
    fastest bytes/s and FLOP/s any product of the sweep reached. Its ``ridge`` is the
    course's **measured ridge** (H100 bf16: 786 TFLOP/s / 2.24 TB/s = 350 FLOP per byte),
    the roof the GEMMs actually run against; beside it stand the **spec ridge** (the spec
    sheet's peak / bandwidth, 295) and the **observed knee** (``observed_knee``)."""
    from .roofline_fit import fit_sweep
    return fit_sweep(gemm_sweep(device, dtype))


def observed_knee(device: str = "h100", dtype: str = "bf16") -> float:
    """Rows M where the measured time of X[M,8192] @ W[8192,8192] turns from flat to rising
    (``intensity.knee_from_sweep`` over every run): the course's **observed knee** (H100
    bf16: M = 386; the measured ridge predicts 383 once X and the output are counted)."""
    from .intensity import knee_from_sweep
    sweep = gemm_sweep(device, dtype)
    square = (sweep["K"] == 8192) & (sweep["N"] == 8192)
    return float(knee_from_sweep(sweep["M"][square], sweep["seconds"][square]))


def measured_hardware(device: str = "h100") -> Hardware:
    """The catalogue chip with its measured streaming-read bandwidth (a 4 GiB read) and
    best measured bf16 GEMM FLOP/s: the chip to use for whole decode steps.

    Not a bound: a roofline built from it can be beaten where a kernel does better than
    the sweep did. Its ridge (peak / streaming read, 259 on the H100) is none of the
    course's three named ridges: matrix products never stream that fast (see
    ``measured_roofline``).
    """
    spec = get_hardware(CATALOGUE_NAME[_device(device)])
    return spec.replace(name=f"{spec.name} (measured)", aliases=(),
                        memory_bandwidth=measured_bandwidth(device),
                        bf16_flops=measured_peak_flops(device, "bf16"))


def reference_model_config(device: str = "h100") -> dict:
    """The measured decoder's configuration, parameter bytes and KV bytes per token."""
    return dict(load(device)["decoder_model"])
