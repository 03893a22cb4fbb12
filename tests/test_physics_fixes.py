"""The model's physics, issue 12: each test here fails on the library before the fix.

Expected values are worked by hand in the comments (shapes from the models' config files).
"""
import math

import numpy as np
import pytest

import inferlab as il
from inferlab import kv, parallelism as par, serving
from inferlab.batching import decode_parts, moe_layer_step
from inferlab.hardware import Hardware
from inferlab.models import Model, expected_experts_touched
from inferlab.roofline import (chips_to_hold, decode_step, kv_share_per_chip, latency_floor,
                               prefill_step)

MIB = 2 ** 20
H100_USABLE = 81_559 * MIB     # nvidia-smi "Total", data/reference/h100_sxm_..._nvidia-smi.txt
H200_USABLE = 143_771 * MIB    # nvidia-smi "Total", data/reference/h200_..._nvidia-smi.txt

# llama-3.1-8b: 32 layers, d 4096, 32 heads and 8 KV heads of 128, SwiGLU 14336, vocab 128256.
# attention 4096*32*128*2 + 2*4096*8*128 = 41,943,040; MLP 3*4096*14336 = 176,160,768;
# 32 layers: 6,979,321,856; head 128256*4096 = 525,336,576; matmul params 7,504,658,432.
L8_BODY = 6_979_321_856
L8_HEAD = 525_336_576
L8_PAIR = 32 * 32 * 4 * 128    # prefill attention FLOPs per (query, key) pair, all layers

TOY = Model(name="toy", layers=1, d_model=4, heads=1, kv_heads=1, head_dim=4, ffn=8, vocab=16,
            mlp="plain", tied_embeddings=True)   # see tests/test_serving.py: 192 weights, head 64
TOY_CHIP = Hardware(name="toy-chip", memory_bytes=1e6, memory_bandwidth=1e3, flops={"bf16": 4e3})


# --- 1. capacity is usable bytes ---------------------------------------------------------
def test_capacity_is_what_the_driver_reports_and_the_vendor_figure_is_kept():
    h100, h200 = il.get_hardware("H100-SXM"), il.get_hardware("H200")
    assert h100.memory_bytes == H100_USABLE == 85_520_809_984
    assert h200.memory_bytes == H200_USABLE == 150_754_820_096
    assert (h100.vendor_memory_bytes, h200.vendor_memory_bytes) == (80e9, 141e9)
    assert "nvidia-smi" in h100.memory_source and "nvidia-smi" in h200.memory_source


def test_every_chip_says_where_its_usable_capacity_comes_from():
    for name in il.list_hardware():
        chip = il.get_hardware(name)
        assert chip.memory_source, name
        assert chip.vendor_memory_bytes > 0, name
        # vendors' GB are GiB or more: the usable figure is never below the marketing one here
        assert chip.memory_bytes >= chip.vendor_memory_bytes, name


def test_70b_in_bf16_fits_an_h200_with_about_nine_and_a_half_gb_to_spare():
    # 80 layers x (150,994,944 attention + 704,643,072 MLP) + 2 x 1,050,673,152 (embedding, head)
    weights = il.get_model("llama-3.1-70b").total_params * 2     # 141,104,775,168 bytes
    assert weights == 141_104_775_168
    assert chips_to_hold("llama-3.1-70b", "H200") == 1
    assert H200_USABLE - weights == pytest.approx(9.650e9, rel=1e-3)


def test_405b_in_bf16_needs_ten_h100s():
    # 811.7e9 bytes / 85.52e9 = 9.49 -> 10 (with the vendor's 80e9: 10.1 -> 11)
    assert chips_to_hold("llama-3.1-405b", "H100-SXM") == 10


def test_kv_room_uses_usable_bytes():
    # (85,520,809,984 - 2 x 8,029,995,008) / (1024 x 131,072) = 517.5
    assert kv.max_batch("llama-3.1-8b", "H100-SXM", 1024) == 517


# --- 2. the output head runs once per sequence in prefill ---------------------------------
def test_prefill_counts_the_head_once_per_sequence():
    step = prefill_step("llama-3.1-8b", "H100-SXM", 1000)
    expected = 2 * L8_BODY * 1000 + 2 * L8_HEAD + L8_PAIR * 1000 * 1001 / 2
    assert step.flops == pytest.approx(expected, rel=1e-12)
    three = prefill_step("llama-3.1-8b", "H100-SXM", 1000, 3)
    assert three.flops == pytest.approx(3 * expected, rel=1e-12)
    # the head is about 7 % of the matmul FLOPs per token: counted once, not 1000 times
    assert L8_HEAD / (L8_BODY + L8_HEAD) == pytest.approx(0.070, abs=0.001)


def test_decode_still_runs_the_head_for_every_sequence():
    step = decode_step("llama-3.1-8b", "H100-SXM", 4, 100)
    a = 32 * 32 * 4 * 128    # decode attention FLOPs per cached position (GQA: as prefill)
    assert step.flops == pytest.approx(4 * (2 * (L8_BODY + L8_HEAD) + a * 100), rel=1e-12)


# --- 3. prefill on top of a cached prefix ----------------------------------------------------
def test_prefill_on_a_cached_prefix_by_hand():
    # toy: 4 new tokens on 6 cached. Bytes: weights 192*2 = 384, KV read 6*16 and written
    # 4*16: 544 -> 0.544 s. FLOPs: 2*128*4 + 2*64 (head once) + 16 * (4*6 + 4*5/2) = 1696
    # -> 0.424 s. Memory-bound: 0.544 s.
    step = prefill_step(TOY, TOY_CHIP, 4, cached=6)
    assert step.bytes == pytest.approx(544) and step.kv_bytes == pytest.approx(160)
    assert step.flops == pytest.approx(1696)
    assert step.seconds == pytest.approx(0.544) and step.tokens == 4


def test_a_prompt_split_at_a_cached_prefix_does_the_same_attention():
    model = il.get_model("llama-3.1-8b")
    whole = prefill_step(model, "H100-SXM", 3000)
    head, tail = prefill_step(model, "H100-SXM", 1000), prefill_step(model, "H100-SXM", 2000, cached=1000)
    matmul = 2 * L8_BODY * np.array([3000, 1000, 2000]) + 2 * L8_HEAD
    attention = np.array([whole.flops, head.flops, tail.flops]) - matmul
    assert attention[0] == pytest.approx(attention[1] + attention[2], rel=1e-12)


def test_cache_hit_fraction_prices_attention_to_the_prefix():
    # toy, prompt 8 of which 4 cached: uncached token 0.688 s / 8 = 0.086 s. The 4 new tokens
    # on 4 cached read 384 + 8*16 = 512 B (0.512 s, memory-bound) instead of 448 B (0.448 s):
    # 0.016 s per cached token; the copy of 16 B at 100 B/s is 0.16 s. (0.16 + 0.016) / 0.086.
    fraction = serving.cache_hit_cost_fraction(TOY, TOY_CHIP, 8, 100.0, cached=4)
    assert fraction == pytest.approx(0.176 / 0.086)
    with pytest.raises(ValueError, match="cached"):
        serving.cache_hit_cost_fraction(TOY, TOY_CHIP, 8, 100.0, cached=8)


# --- 4. KV per chip under tensor parallelism ---------------------------------------------------
def test_deepseek_v3_with_tensor_parallel_attention_holds_the_whole_latent_on_every_chip():
    # 61 layers x (512 latent + 64 rope key) x 2 bytes = 70,272 bytes per token
    per_token = 61 * 576 * 2
    one = decode_step("deepseek-v3", "H200", 1, 1000, chips=8, attention="tensor")
    assert one.kv_bytes == pytest.approx(1001 * per_token)          # not 1/8 of it
    assert kv_share_per_chip("deepseek-v3", 8, "tensor") == 1


def test_eight_kv_heads_on_sixteen_chips_hold_twice_the_naive_split():
    # llama-3.1-70b: 80 layers x 2 x 8 KV heads x 128 x 2 bytes = 327,680 bytes per token
    total = 4 * 1001 * 327_680
    step = decode_step("llama-3.1-70b", "H100-SXM", 4, 1000, chips=16)
    assert step.kv_bytes == pytest.approx(total / 8)                 # naive: total / 16
    assert [kv_share_per_chip("llama-3.1-70b", n) for n in (1, 2, 8, 16, 6)] == \
        [1, 0.5, 0.125, 0.125, 0.25]


def test_max_batch_follows_the_replicated_cache():
    # 16 H100s: each holds 141,104,775,168 / 16 = 8,819,048,448 bytes of weights and 1/8 of
    # each sequence's cache, 8192 x 327,680 / 8 = 335,544,320 bytes:
    # floor((85,520,809,984 - 8,819,048,448) / 335,544,320) = 228 (the pooled count was 457)
    assert kv.max_batch("llama-3.1-70b", "H100-SXM", 8192, chips=16) == 228
    # on 8 chips nothing is replicated: the pooled count
    assert kv.max_batch("llama-3.1-70b", "H100-SXM", 8192, chips=8) == \
        math.floor((8 * H100_USABLE - 141_104_775_168) / (8192 * 327_680))


def test_data_parallel_attention_is_the_default_for_mla():
    # DeepSeek-V3 attention: per layer q 7168*1536 + 1536*128*192, kv 7168*576 + 512*128*256,
    # o 128*128*7168: 187,105,280; 61 layers: 11,413,422,080 weights on every chip
    attention = 11_413_422_080
    model = il.get_model("deepseek-v3")
    assert model.layers * model.attention_params_per_layer == attention
    step = decode_step(model, "H200", 8, 1000, chips=8, weight_bytes=1)
    expected_weights = attention + (model.weight_params_read(8) - attention) / 8
    assert step.weight_bytes == pytest.approx(expected_weights)
    assert step.kv_bytes == pytest.approx(1001 * 61 * 576 * 2)       # one sequence per chip
    # one chip: the two layouts agree
    a = decode_step(model, "H200", 8, 1000, attention="data")
    b = decode_step(model, "H200", 8, 1000, attention="tensor")
    assert a.seconds == pytest.approx(b.seconds) and a.bytes == pytest.approx(b.bytes)


def test_bad_attention_layout_is_a_value_error():
    with pytest.raises(ValueError, match="attention"):
        decode_step("llama-3.1-8b", "H100-SXM", 1, 10, attention="pipeline")


# --- 5. one routing assumption -----------------------------------------------------------------
def test_experts_touched_is_one_expectation_everywhere():
    # 64 experts, top-8, 4 tokens: 64 (1 - (7/8)^4) = 26.484375 (balanced routing would say 32)
    assert expected_experts_touched(64, 8, 4) == pytest.approx(26.484375)
    layer = moe_layer_step(4, "H100-SXM", experts=64, top_k=8, d_model=4096, expert_ffn=1536)
    assert layer.bytes == pytest.approx(26.484375 * 3 * 4096 * 1536 * 2)
    # DeepSeek-V3 at 4 tokens: 256 (1 - (31/32)^4) = 30.53
    v3 = il.get_model("deepseek-v3")
    assert v3.experts_touched(4) == pytest.approx(256 * (1 - (31 / 32) ** 4)) == pytest.approx(30.53, abs=0.01)
    # a whole model's step and one layer agree on the routed experts' bytes
    parts = decode_parts(v3, "H200", 16, 1024)
    one = moe_layer_step(16, "H200", experts=256, top_k=8, d_model=7168, expert_ffn=2048)
    assert parts["experts"].bytes == pytest.approx(v3.moe_layers * one.bytes)


# --- 6. several chips: the ideal and the one with communication ---------------------------
def test_parallel_decode_is_the_ideal_plus_all_reduces_and_follows_the_layout():
    ideal = decode_step("llama-3.1-70b", "H100-SXM", 1, 4096, chips=8)
    real = par.parallel_decode("llama-3.1-70b", "H100-SXM", 1, 4096, tensor_parallel=8)
    assert real.compute_seconds == pytest.approx(ideal.seconds)
    assert real.token_seconds > latency_floor("llama-3.1-70b", "H100-SXM", chips=8)
    assert real.token_seconds == pytest.approx(ideal.seconds + real.all_reduce_seconds)
    # DeepSeek-V3 with tensor-parallel attention on 8 chips: the whole latent cache on each chip
    v3 = par.parallel_decode("deepseek-v3", "H200", 4, 4096, tensor_parallel=8, weight_bytes=1,
                             attention="tensor")
    weights = il.get_model("deepseek-v3").total_params / 8
    assert v3.memory_per_chip == pytest.approx(weights + 4 * 4096 * 61 * 576 * 2)


# --- 7. a chip with no compute figure answers memory-bound questions ---------------------------
def test_a_chip_without_flops_still_bounds_a_decode_by_its_bytes():
    chip = Hardware(name="bytes-only", memory_bytes=64e9, memory_bandwidth=100e9)
    step = decode_step("llama-3.1-8b", chip, 1, 1000)
    assert math.isnan(step.compute_seconds) and step.bound == "memory"
    assert step.seconds == pytest.approx(step.bytes / 100e9)
    assert prefill_step("llama-3.1-8b", chip, 512).seconds > 0
    with pytest.raises(ValueError):
        decode_step("llama-3.1-8b", chip, 1, 1000, compute_dtype="fp7")


# --- 7. Apple silicon has a sourced compute figure ---------------------------------------------
@pytest.mark.parametrize("name, tflops", [("M2-Ultra", 27.2), ("M4-Max", 18.4)])
def test_apple_chips_have_a_sourced_half_precision_peak_and_model_a_mac(name, tflops):
    chip = il.get_hardware(name)
    assert chip.peak_flops("fp16") == pytest.approx(tflops * 1e12)
    assert "FP32" in chip.notes and chip.confidence in ("derived", "secondary")
    # batch-1 decode of llama-3.1-8b in bf16: memory-bound, bytes / bandwidth
    step = decode_step("llama-3.1-8b", chip, 1, 512)
    assert step.bound == "memory"
    assert step.seconds == pytest.approx(step.bytes / chip.memory_bandwidth)
    # a 512-token prefill: compute-bound at 2 x 7.5e9 x 512 FLOPs / peak, about 0.3-0.4 s
    prefill = prefill_step("llama-3.1-8b", chip, 512)
    assert prefill.bound == "compute" and 0.2 < prefill.seconds < 0.5


# --- METHOD.md states the speed-ups the shipped data hold ----------------------------------------
def test_method_states_the_compute_bound_speedups_in_the_data():
    from importlib import resources
    from inferlab import bandwidth
    data = bandwidth.measured_speedup("sdpa")
    large = data["speedup"][data["batch"] >= 384]
    text = resources.files("inferlab").joinpath("data/reference/METHOD.md").read_text(encoding="utf-8")
    assert f"{large.min():.3f}–{large.max():.3f}x" == "1.017–1.036x"
    assert "1.017–1.036x" in text
    assert "1.00–1.02x" not in text


def test_decode_parts_add_up_to_the_step_with_either_attention_layout():
    for attention in ("tensor", "data"):
        step = decode_step("deepseek-v3", "H200", 32, 4096, chips=8, weight_bytes=1, attention=attention)
        parts = decode_parts("deepseek-v3", "H200", 32, 4096, chips=8, weight_bytes=1, attention=attention)
        assert sum(p.bytes for p in parts.values()) == pytest.approx(step.bytes)
        assert sum(p.flops for p in parts.values()) == pytest.approx(step.flops)
        assert all(np.all(p.flops >= 0) and np.all(p.bytes >= 0) for p in parts.values())
