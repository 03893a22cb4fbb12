"""The roofline model of decode and prefill steps."""
import numpy as np
import pytest

import inferlab as il
from inferlab.roofline import matmul_bytes, matmul_flops

MODEL, CHIP = "llama-3.1-8b", "H100-SXM"


def test_batch_one_decode_is_memory_bound_and_reads_the_weights():
    model, chip = il.get_model(MODEL), il.get_hardware(CHIP)
    step = il.decode_step(model, chip, 1, 128)
    assert step.bound == "memory"
    # weights minus the embedding table (looked up, not read whole), plus one row
    weights = (model.total_params - model.embedding_params + model.d_model) * 2
    assert step.weight_bytes == pytest.approx(weights)
    assert step.kv_bytes == pytest.approx(129 * model.kv_bytes_per_token(2))
    assert step.seconds == pytest.approx((weights + step.kv_bytes) / 3.35e12)


def test_latency_floor_is_weight_bytes_over_bandwidth():
    model = il.get_model(MODEL)
    floor = il.latency_floor(MODEL, CHIP)
    assert floor == pytest.approx(il.weight_bytes_needed(model) / 3.35e12)
    # the well-known rule of thumb (all 16.06 GB) is within 7 % of it
    assert floor == pytest.approx(model.total_params * 2 / 3.35e12, rel=0.07)


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
    model = il.get_model(MODEL)
    step = il.decode_step(model, CHIP, 4, 1000)
    expected = 4 * (2 * model.matmul_params + 1000 * 4 * model.layers * model.heads * model.head_dim)
    assert step.flops == pytest.approx(expected)


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
    model = il.get_model("mixtral-8x7b")
    one = il.decode_step(model, CHIP, 1, 1)
    many = il.decode_step(model, CHIP, 512, 1)
    assert one.weight_bytes < 0.35 * model.total_params * 2
    assert many.weight_bytes == pytest.approx((model.total_params - model.embedding_params
                                               + 512 * model.d_model) * 2, rel=1e-6)


def test_prefill_attention_is_causal_and_quadratic():
    model = il.get_model(MODEL)
    step = il.prefill_step(model, CHIP, 1000)
    attention = step.flops - 2 * (model.matmul_params - model.head_params) * 1000 - 2 * model.head_params
    assert attention == pytest.approx(model.prefill_attention_flops_per_pair * 1000 * 1001 / 2)
    assert il.prefill_step(model, CHIP, 1024).bound == "compute"


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
