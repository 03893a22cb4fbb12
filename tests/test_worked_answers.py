"""Every exercise graded against a value worked by hand from the sources.

Each expected value below is arithmetic on published figures (spec sheets in
``data/hardware.csv``, model shapes from the models' config.json files, the shipped reference
measurements read straight from their JSON), written out here rather than computed by the
library, so a wrong formula in the library or in an exercise makes a test fail. Where a value
rests on a modelling choice (the roofline step, the energy split), the choice is written out
with it.
"""
import json
import math
from importlib import resources
from statistics import median

import pytest

from inferlab.exercises import exercises_for, grade

# --- spec sheets (data/hardware.csv, with its sources) -------------------------------------
H100_BANDWIDTH = 3.35e12        # bytes/s, H100 SXM datasheet
H100_BF16 = 989e12              # dense bf16 FLOP/s (1979 is with 2:4 sparsity)
H100_FP8 = 1979e12              # dense fp8 FLOP/s
H200_BANDWIDTH = 4.8e12
H200_BF16 = 989e12
# Usable memory capacity (issue 12 §2): what nvidia-smi reports in data/reference/*nvidia-smi.txt,
# 81,559 MiB on the H100 SXM and 143,771 MiB on the H200 (sold as "80 GB" and "141 GB").
H100_MEMORY = 81_559 * 2**20
H200_MEMORY = 143_771 * 2**20
DDR5_4800_CHANNEL = 38.4e9      # 4800 MT/s x 8 bytes (JEDEC DDR5-4800, one 64-bit channel)
NVLINK4_ONE_WAY = 450e9         # 900 GB/s both directions together


def llama(layers, d, heads, kv_heads, head_dim, ffn, vocab):
    """Parameter counts of a Llama-style decoder (gated MLP, untied embedding), from its config."""
    attention = d * heads * head_dim * 2 + 2 * d * kv_heads * head_dim   # q, o; k, v
    mlp = 3 * d * ffn                                                    # gate, up, down
    matmul = layers * (attention + mlp) + vocab * d                     # + output head
    return dict(matmul=matmul, total=matmul + vocab * d,                 # + embedding table
                head=vocab * d,
                read_at_batch_1=matmul + d,                              # + one embedding row
                kv_bytes_per_token=2 * layers * kv_heads * head_dim * 2,  # K and V, bf16
                attention_flops_per_position=4 * layers * heads * head_dim,
                layers=layers, d=d)


# config.json of meta-llama/Llama-3.1-{8B,70B,405B}
L8 = llama(32, 4096, 32, 8, 128, 14336, 128256)      # total 8,029,995,008 (card: 8.03B)
L70 = llama(80, 8192, 64, 8, 128, 28672, 128256)     # total 70,552,387,584 (card: 70.6B)
L405 = llama(126, 16384, 128, 8, 128, 53248, 128256)  # total 405,849,243,648 (card: 405.9B)
assert L8["total"] == 8_029_995_008  # the arithmetic above, checked once by hand


def decode_seconds(m, batch, context, bandwidth=H100_BANDWIDTH, peak=H100_BF16, chips=1):
    """Roofline decode step: weights read once (and one embedding row per sequence), each
    sequence's KV cache read (context) and written (+1); FLOPs 2 per weight per token plus
    attention over the context."""
    nbytes = (m["matmul"] + batch * m["d"]) * 2 + batch * (context + 1) * m["kv_bytes_per_token"]
    flops = batch * (2 * m["matmul"] + m["attention_flops_per_position"] * context)
    return max(nbytes / chips / bandwidth, flops / chips / peak)


def reference(device="h100_sxm", date="2026-11-27"):
    text = resources.files("inferlab").joinpath(f"data/reference/{device}_{date}.json").read_text()
    return json.loads(text)


H100_REF = reference()
H200_REF = reference("h200")
H100_MEASURED_BW = median(r["read_GBps"] for r in H100_REF["hbm_bandwidth"].values()) * 1e9  # 2 runs
H200_MEASURED_BW = H200_REF["hbm_bandwidth"]["read_GBps"] * 1e9                                # 1 run
H100_PCIE_H2D = H100_REF["host_and_pcie"]["h2d_pinned_GBps"] * 1e9


def measured_decode(kind, batch, context, ref=H100_REF):
    runs = ref[kind].values() if isinstance(ref[kind], dict) else [ref[kind]]
    return median(p["seconds_per_step"] for run in runs for p in run
                  if p["batch"] == batch and p["context"] == context)


def measured_prefill(prompt, ref=H100_REF):
    return median(p["seconds"] for p in ref["prefill_batch1"] if p["prompt"] == prompt)


def gemm_points(ref=H100_REF):
    return [p for run in ref["gemm_sweep_bf16"].values() for p in run]


GEMV = [p for p in gemm_points() if (p["M"], p["K"], p["N"]) == (1, 8192, 8192)]
ENERGY = H100_REF["energy"]
J_PER_BYTE = ENERGY["hbm_copy"]["pJ_per_byte_above_idle"] * 1e-12
J_PER_FLOP = ENERGY["bf16_gemm_8192"]["pJ_per_flop_above_idle"] * 1e-12


def decode_joules_per_token(m, batch, context):
    """Card-level energy (data/reference METHOD.md): bytes x J/byte + FLOPs x J/FLOP above
    idle, plus idle watts for the roofline step, shared by the batch."""
    weights = (m["matmul"] + batch * m["d"]) * 2   # one embedding row per token
    kv = batch * (context + 1) * m["kv_bytes_per_token"]
    flops = batch * (2 * m["matmul"] + m["attention_flops_per_position"] * context)
    step = decode_seconds(m, batch, context)
    return ((weights + kv) * J_PER_BYTE + flops * J_PER_FLOP + ENERGY["idle_watts"] * step) / batch


# (question id, worked answer, inputs): the arithmetic is the derivation
WORKED = [
    ("00.bf16-bytes", 16 / 8, {}),
    # lesson 01
    ("01.rule-of-thumb", L8["total"] * 2 / H100_BANDWIDTH, {}),                      # 4.79 ms
    ("01.tokens-per-second", H200_BANDWIDTH / (L70["read_at_batch_1"] * 1), {}),     # 69 tokens/s
    ("01.measured-floor", L8["read_at_batch_1"] * 2 / H100_MEASURED_BW, {}),         # 4.95 ms
    ("01.fraction-explained", L8["read_at_batch_1"] * 2 / H100_BANDWIDTH
     / measured_decode("decode_sdpa_cudagraph", 1, 128), {}),                         # 0.68
    ("01.chips-for-405b", math.ceil(L405["total"] * 2 / H100_MEMORY), {}),            # 10
    # lesson 02
    ("02.ridge-h200", H200_BF16 / H200_BANDWIDTH, {}),                                # 206
    ("02.gemv-bandwidth", median(p["bytes"] / p["seconds"] for p in GEMV), {}),
    ("02.w8a16-knee", H100_BF16 * 1 / (2 * H100_BANDWIDTH), {}),                      # 148
    ("02.decode-attention", 4 * 32 * 128 * 8192                                       # FLOPs per layer
     / ((2 * 8 * 128 * (8192 + 1) + 2 * 32 * 128) * 2), {}),                           # 4.0
    # lesson 03 (the learner's own numbers as inputs)
    ("03.ridge", 9e11 / 3e9, dict(peak=9e11, bandwidth=3e9)),
    ("03.knee", 20 * 4 * 8192 * 8192 / (2 * 8192 * 8192 - 20 * 4 * (8192 + 8192)),     # 40.4 rows
     dict(ridge=20.0, k=8192, n=8192)),
    ("03.fraction-explained", 0.01 / 0.02, dict(predicted=0.01, measured=0.02)),
    ("03.h100-ratio", H100_MEASURED_BW / 2e10, dict(bandwidth=2e10)),
    # lesson 04
    ("04.ddr5-floor", L70["read_at_batch_1"] * 2 / (8 * DDR5_4800_CHANNEL), {}),      # 0.45 s
    ("04.offload-step", 0.8 * L8["read_at_batch_1"] * 2 / H100_MEASURED_BW
     + 0.2 * L8["read_at_batch_1"] * 2 / H100_PCIE_H2D, {}),
    ("04.offload-budget", 1 / (H100_MEASURED_BW / H100_PCIE_H2D - 1), {}),            # 1.8 %
    ("04.predicted-speedup", H200_MEASURED_BW / H100_MEASURED_BW, {}),                # memory-bound
    # lesson 05 (Horowitz, ISSCC 2014: 640 pJ DRAM 32-bit read, 0.2 pJ int8 mult, 5 pJ 8 KB SRAM
    # 32-bit read, 3.7 pJ fp32 mult)
    ("05.dram-ratio", 640 / 0.2, {}),
    ("05.joules-per-token", decode_joules_per_token(L70, 1, 1024), {}),
    ("05.electricity", decode_joules_per_token(L8, 256, 1024) * 1e6 / 3.6e6 * 0.12,
     dict(usd_per_kwh=0.12)),
    # compute J/token = (2 x matmul + attention x context) x J/FLOP reaches movement J/token
    # = weights x J/byte / batch + (context + 1) x KV bytes x J/byte: solve for the batch
    ("05.crossover", L70["read_at_batch_1"] * 2 * J_PER_BYTE
     / ((2 * L70["matmul"] + L70["attention_flops_per_position"] * 1024) * J_PER_FLOP
        - 1025 * L70["kv_bytes_per_token"] * J_PER_BYTE), {}),
    # lesson 06
    ("06.cost-per-million", decode_seconds(L8, 256, 1024) * 2.0 / 3600 / 256 * 1e6, {}),
    ("06.knee-h100", H100_BF16 * 2 / (2 * H100_BANDWIDTH), {}),                       # 295
    ("06.deepseek-knee", H100_FP8 * 1 / (2 * H100_BANDWIDTH) * 256 / 8, {}),          # 9,452
    ("06.tier-batch-shrink", 2.5 * 6, {}),  # cost/token = step/batch: (6 x 2.5) smaller batch
    # lesson 07: intensity = FLOPs / bytes of a 2048-token prefill and of a batch-1 decode step
    ("07.intensities", ((2 * (L8["matmul"] - L8["head"]) * 2048 + 2 * L8["head"]
                         + L8["attention_flops_per_position"] * 2048 * 2049 / 2)
                        / (L8["read_at_batch_1"] * 2 + 2048 * L8["kv_bytes_per_token"]))
     / ((2 * L8["matmul"] + L8["attention_flops_per_position"] * 2048)
        / (L8["read_at_batch_1"] * 2 + 2049 * L8["kv_bytes_per_token"])), {}),
    # lesson 07
    ("07.measured-ratio", (measured_decode("decode_sdpa_cudagraph", 64, 1024) / 64)
     / (measured_prefill(1024) / 1024), {}),
    ("07.cache-hit", 131_072 / H100_PCIE_H2D / (measured_prefill(1024) / 1024), {}),
    # lesson 08
    ("08.kv-bytes", 2 * 80 * 8 * 128 * 2, {}),                                        # 327,680
    ("08.max-batch", math.floor((8 * H100_MEMORY - L70["total"] * 2)
                                / (131_072 * L70["kv_bytes_per_token"])), {}),          # 12
    ("08.bound-200k", "memory", {}),
    ("08.splitkv-speedup", measured_decode("decode_sdpa_cudagraph", 1, 65536)
     / measured_decode("decode_splitkv_cudagraph", 1, 65536), {}),
    # lesson 09
    ("09.mean-wait", H100_MEMORY / H100_BANDWIDTH / 2, {}),                           # 12.8 ms
    # one seat, load 0.9: T/2 + E[Q] / rate with E[Q] = 0.81 / (2 x 0.1), rate = 0.9 / T
    ("09.knee-one-seat", 0.5 + (0.9 ** 2 / (2 * (1 - 0.9))) / 0.9, {}),              # 5.0
    ("09.cost-ratio", (decode_seconds(L70, 16, 4096, chips=8) / 16)
     / (decode_seconds(L70, 256, 4096, chips=8) / 256), {}),
    ("09.overload-wait", (3500 * 0.020 / 64 - 1) * 60, {}),                           # 5.6 s
    # lesson 10
    ("10.chips-405b-bf16", math.ceil(L405["total"] * 2 / H100_MEMORY), {}),           # 10
    ("10.all-reduce", 10e-6 + 2 * (8 - 1) / 8 * (32 * 8192 * 2) / NVLINK4_ONE_WAY, {}),  # 12 µs
    ("10.bubble", 1 / 4, {}),   # one micro-batch: each of 4 stages works a quarter of the time
    # lesson 11: llama-3.1-8b, batch 64, context 1024, $2/GPU-hour, 50 % utilisation, 50 % margin
    ("11.hand-output", decode_seconds(L8, 64, 1024) / 64 * 2.0 / 3600 * 1e6 / 0.5 / (1 - 0.5), {}),
    # lesson 11
    ("11.deepseek-margin", 1 - 87_072 / 562_027, {}),                                 # 0.845
]
# Worked elsewhere or by a simulation the lesson runs, not a closed form (tested in their own
# modules): 07.request-cost (below), 08.cost-step, 10.pp-over-tp,
# 11.break-even-utilisation, 11.furthest-ratio, 03.predicted-step (test_measure.py).


@pytest.mark.parametrize("qid, answer, inputs", WORKED, ids=[w[0] for w in WORKED])
def test_the_worked_answer_is_correct(qid, answer, inputs):
    feedback = grade(qid, answer, **inputs)
    assert feedback.status == "correct", f"{qid}: worked {answer!r}, library {feedback.expected!r}"


def test_request_cost_by_hand():
    """07.request-cost at $3 per GPU-hour: the prefill's chip time for the 2000 input tokens,
    plus 499 decode steps at the middle context, each shared by 64 sequences."""
    prefill_flops = (2 * (L8["matmul"] - L8["head"]) * 2000 + 2 * L8["head"]   # the head once
                     + L8["attention_flops_per_position"] * 2000 * 2001 / 2)
    prefill_bytes = L8["read_at_batch_1"] * 2 + 2000 * L8["kv_bytes_per_token"]
    prefill = max(prefill_flops / H100_BF16, prefill_bytes / H100_BANDWIDTH)   # compute-bound
    middle = 2000 + (500 - 2) / 2                                               # context 2249
    decode = decode_seconds(L8, 64, middle)
    dollars = (prefill + 499 * decode / 64) * 3.0 / 3600
    assert grade("07.request-cost", dollars, usd_per_gpu_hour=3.0).status == "correct"


def test_every_exercise_is_worked_or_listed():
    worked = {w[0] for w in WORKED} | {"07.request-cost"}
    elsewhere = {"08.cost-step", "10.pp-over-tp", "11.break-even-utilisation",
                 "11.furthest-ratio", "03.predicted-step"}
    every = {e.qid for lesson in (f"{n:02d}" for n in range(12)) for e in exercises_for(lesson)}
    assert every - worked - elsewhere == set()
