"""Lesson 02 exercises: the roofline, arithmetic intensity and the ridge point."""

import numpy as np

from .. import reference
from ..hardware import get_hardware
from ..intensity import decode_attention_intensity, knee_batch
from ..models import get_model
from . import Exercise, register


def _gemv_bandwidth():
    sweep = reference.gemm_sweep("h100", "bf16")
    pick = (sweep["M"] == 1) & (sweep["K"] == 8192) & (sweep["N"] == 8192)
    return float(np.median(sweep["bytes"][pick] / sweep["seconds"][pick]))


def _decode_attention():
    model = get_model("llama-3.1-8b")
    return float(decode_attention_intensity(8192, model.heads, model.kv_heads))


register(
    Exercise("02.ridge-h200",
             "The ridge point of an H200 in dense bf16.",
             expected=lambda: get_hardware("H200").ridge_point("bf16"), unit="FLOP per byte",
             hint="peak FLOP/s divided by memory bandwidth in bytes/s."),
    Exercise("02.gemv-bandwidth",
             "The bandwidth the measured bf16 GEMV (M = 1, K = N = 8192) achieved on the H100: "
             "median over the runs.",
             expected=_gemv_bandwidth, unit="bytes per second",
             hint="bytes / seconds for each run of that point, then the median."),
    Exercise("02.w8a16-knee",
             "The knee batch on an H100 SXM for 8-bit weights multiplied in bf16 (spec sheet).",
             expected=lambda: knee_batch("H100-SXM", weight_bytes=1, compute_dtype="bf16"),
             unit="rows (tokens)",
             hint="peak x bytes per weight / (2 x bandwidth), with the bf16 peak and 1 byte per weight."),
    Exercise("02.decode-attention",
             "Arithmetic intensity of one decode step's attention in llama-3.1-8b (32 query heads, "
             "8 KV heads) with 8192 cached tokens, bf16.",
             expected=_decode_attention, unit="FLOP per byte",
             hint="4 x heads x head_dim FLOPs per cached position; 2 x kv_heads x head_dim x 2 bytes "
                  "per cached position (plus the new key and value, the query and the output)."),
)
