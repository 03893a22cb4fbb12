"""The roofline model of decode and prefill steps."""
import numpy as np
import pytest

import inferlab as il
from inferlab.roofline import matmul_bytes, matmul_flops

MODEL, CHIP = "llama-3.1-8b", "H100-SXM"


# Worked by hand from llama-3.1-8b's config.json (32 layers, d 4096, 32 heads, 8 KV heads,
# head_dim 128, ffn 14336, vocab 128256) and the H100 SXM datasheet (3.35 TB/s, 989 TFLOP/s):
# weights multiplied per token = 32 x (4096 x 4096 x 2 + 2 x 4096 x 8 x 128 + 3 x 4096 x 14336)
#                              + 128256 x 4096 (output head) = 7,504,658,432
# a batch-1 step also reads one 4096-wide embedding row: 7,504,662,528 weights, 15,009,325,056 bytes
# KV bytes per token = 2 (K, V) x 32 layers x 8 heads x 128 x 2 bytes = 131,072
# attention FLOPs per cached position = 4 x 32 layers x 32 heads x 128 = 524,288
def test_batch_one_decode_is_memory_bound_and_reads_the_weights():
    step = il.decode_step(MODEL, CHIP, 1, 128)
    assert step.bound == "memory"
    assert step.weight_bytes == 15_009_325_056
    assert step.kv_bytes == 129 * 131_072                       # 128 read + 1 written
    assert step.seconds == pytest.approx((15_009_325_056 + 16_908_288) / 3.35e12)   # 4.4854 ms


def test_latency_floor_is_weight_bytes_over_bandwidth():
    floor = il.latency_floor(MODEL, CHIP)
    assert floor == pytest.approx(15_009_325_056 / 3.35e12)    # 4.4804 ms
    # the rule of thumb (all 8.03e9 parameters x 2 bytes, the embedding table too) is 7 % more
    assert floor == pytest.approx(8.03e9 * 2 / 3.35e12, rel=0.07)


def test_floor_scales_with_precision_and_chips():
    bf16 = il.latency_floor(MODEL, CHIP, weight_bytes=2)
    assert il.latency_floor(MODEL, CHIP, weight_bytes=1) == pytest.approx(bf16 / 2)
    assert il.latency_floor(MODEL, CHIP, chips=4) == pytest.approx(bf16 / 4)


def test_batching_cannot_beat_the_floor():
    batch = np.arange(1, 2049)
    steps = il.decode_step(MODEL, CHIP, batch, 1)
    assert np.all(steps.seconds >= il.latency_floor(MODEL, CHIP))


def test_decode_is_compute_bound_at_large_batch_and_time_grows():
    steps = il.decode_step(MODEL, CHIP, np.array([1, 64, 4096]), 128)
    assert list(steps.bound) == ["memory", "memory", "compute"]
    assert np.all(np.diff(steps.seconds) > 0)


def test_decode_flops_count_multiply_and_add():
    # batch 4, context 1000: 4 x (2 x 7,504,658,432 + 1000 x 524,288) = 62,134,419,456
    assert il.decode_step(MODEL, CHIP, 4, 1000).flops == 62_134_419_456


def test_arrays_broadcast():
    batch = np.array([1, 8, 64])[:, None]
    context = np.array([128, 4096])[None, :]
    steps = il.decode_step(MODEL, CHIP, batch, context)
    assert steps.seconds.shape == (3, 2)
    single = il.decode_step(MODEL, CHIP, 8, 4096)
    assert steps.seconds[1, 1] == pytest.approx(single.seconds)


def test_chips_split_bytes_and_flops():
    one = il.decode_step(MODEL, CHIP, 16, 1024)
    four = il.decode_step(MODEL, CHIP, 16, 1024, chips=4)
    assert four.bytes == pytest.approx(one.bytes / 4)
    assert four.flops == pytest.approx(one.flops / 4)


def test_fp8_compute_halves_compute_time():
    bf16 = il.decode_step(MODEL, CHIP, 4096, 1, compute_dtype="bf16")
    fp8 = il.decode_step(MODEL, CHIP, 4096, 1, compute_dtype="fp8", weight_bytes=1)
    assert fp8.compute_seconds == pytest.approx(bf16.compute_seconds / 2, rel=1e-3)


def test_moe_decode_reads_only_touched_experts():
    # mixtral-8x7b (config.json: 32 layers, d 4096, 32 heads, 8 KV heads, 8 experts of ffn 14336,
    # top-2, vocab 32000). At batch 512 every expert is touched: per layer attention
    # 4096 x 4096 x 2 + 2 x 4096 x 1024, router 4096 x 8, experts 8 x 3 x 4096 x 14336;
    # plus the head 32000 x 4096 and 512 embedding rows, 2 bytes each:
    per_layer = 4096 * 4096 * 2 + 2 * 4096 * 1024 + 4096 * 8 + 8 * 3 * 4096 * 14336
    all_experts = (32 * per_layer + 32000 * 4096 + 512 * 4096) * 2          # 93,147,103,232
    assert il.decode_step("mixtral-8x7b", CHIP, 512, 1).weight_bytes == pytest.approx(all_experts, rel=1e-4)
    # at batch 1 only 2 of 8 experts: attention, router, head and 2 experts per layer
    two_experts = (32 * (per_layer - 6 * 3 * 4096 * 14336) + 32000 * 4096 + 4096) * 2
    assert il.decode_step("mixtral-8x7b", CHIP, 1, 1).weight_bytes == pytest.approx(two_experts, rel=1e-6)


def test_prefill_flops_by_hand():
    # 1000 tokens: the matrix products without the output head, 2 x (7,504,658,432 - 128256 x 4096)
    # x 1000; the head once for the sequence's last token, 2 x 525,336,576; and 524,288 x
    # 1000 x 1001 / 2 causal query-key pairs: 14,222,100,529,152 FLOPs
    assert il.prefill_step(MODEL, CHIP, 1000).flops == pytest.approx(14_222_100_529_152)
    assert il.prefill_step(MODEL, CHIP, 1024).bound == "compute"


def test_matmul_helpers():
    assert matmul_flops(2, 3, 4) == 48
    assert matmul_bytes(2, 3, 4, 2) == (6 + 12 + 8) * 2


@pytest.mark.parametrize("kwargs, word", [
    (dict(batch=0, context=10), "batch"),
    (dict(batch=-2, context=10), "batch"),
    (dict(batch=1, context=0), "context"),
    (dict(batch="8", context=10), "batch"),
    (dict(batch=1, context=float("nan")), "context"),
    (dict(batch=1.5, context=10), "batch"),
    (dict(batch=1, context=10, chips=0), "chips"),
    (dict(batch=1, context=10, compute_dtype="fp3"), "compute_dtype"),
    (dict(batch=np.array([1, -1]), context=10), "batch"),
])
def test_bad_decode_input_is_a_value_error_naming_the_argument(kwargs, word):
    with pytest.raises(ValueError, match=word):
        il.decode_step(MODEL, CHIP, **kwargs)


def test_bad_prefill_input():
    with pytest.raises(ValueError, match="prompt"):
        il.prefill_step(MODEL, CHIP, 0)
    with pytest.raises(ValueError, match="batch"):
        il.prefill_step(MODEL, CHIP, 10, batch=-1)


def test_inputs_are_never_modified():
    batch = np.array([1.0, 8.0, 64.0])
    context = np.array([128.0, 4096.0, 65536.0])
    before = batch.copy(), context.copy()
    for chips in (1, 4):
        il.decode_step(MODEL, CHIP, batch, context, chips=chips)
        il.prefill_step(MODEL, CHIP, context, batch, chips=chips)
    assert np.array_equal(batch, before[0]) and np.array_equal(context, before[1])


def test_chips_split_work_with_array_chips():
    chips = np.array([1, 2, 8])
    steps = il.decode_step(MODEL, CHIP, 16, 1024, chips=chips)
    assert steps.flops[0] == pytest.approx(8 * steps.flops[2])
