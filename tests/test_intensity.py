"""Arithmetic intensity of matrix products and attention, and the knee of a GEMM sweep."""
import numpy as np
import pytest

import inferlab as il
from inferlab import intensity as ai
from inferlab import reference
from inferlab.roofline import matmul_bytes


# --- matrix products ------------------------------------------------------------------
def test_operand_bytes_by_hand():
    # X 2x3 at 1 byte, W 3x4 at 2 bytes, Y 2x4 at 4 bytes: 6 + 24 + 32
    assert matmul_bytes(2, 3, 4, input_bytes=1, weight_bytes=2, output_bytes=4) == 62


def test_operand_bytes_equal_widths_is_matmul_bytes():
    m = np.array([1, 7, 300])
    assert np.allclose(matmul_bytes(m, 64, 96, input_bytes=2, weight_bytes=2, output_bytes=2),
                       matmul_bytes(m, 64, 96, 2))


def test_operand_bytes_count_the_fp8_sweep_as_measured():
    # the measuring script wrote its own byte counts: fp8 X and W, bf16 output
    sweep = reference.gemm_sweep("h100", "fp8")
    counted = matmul_bytes(sweep["M"], sweep["K"], sweep["N"], input_bytes=1,
                                      weight_bytes=1, output_bytes=2)
    assert np.array_equal(counted, sweep["bytes"])
    assert sweep["bytes"][sweep["M"] == 16][0] == 16 * 8192 + 8192 * 8192 + 2 * 16 * 8192


def test_matmul_intensity_by_hand():
    # 4x4x4 in bf16: 128 FLOPs over 3 x 16 x 2 = 96 bytes
    assert ai.matmul_intensity(4, 4, 4) == pytest.approx(128 / 96)
    # a GEMV of a square bf16 matrix: 2 k^2 / (2 (k + k^2 + k)) ~ 1 FLOP per byte
    assert ai.matmul_intensity(1, 8192, 8192) == pytest.approx(8192 / 8194)


def test_intensity_is_about_rows_per_weight_byte_while_rows_are_few():
    m = np.array([1, 8, 32])
    assert np.allclose(ai.matmul_intensity(m, 65536, 65536), m, rtol=1e-3)  # bf16
    assert np.allclose(ai.matmul_intensity(m, 65536, 65536, input_bytes=1, output_bytes=2,
                                           weight_bytes=1), 2 * m, rtol=3e-3)
    assert np.all(np.diff(ai.matmul_intensity(np.arange(1, 5000), 4096, 4096)) > 0)


def test_knee_batch_by_hand():
    assert ai.knee_batch("H100-SXM") == pytest.approx(989e12 * 2 / (2 * 3.35e12))  # 295.2
    assert ai.knee_batch("H100-SXM") == pytest.approx(il.get_hardware("H100-SXM").ridge_point())


def test_fp8_math_keeps_the_knee_and_8bit_weights_with_16bit_math_halve_it():
    bf16 = ai.knee_batch("H100-SXM", weight_bytes=2, compute_dtype="bf16")
    fp8 = ai.knee_batch("H100-SXM", weight_bytes=1, compute_dtype="fp8")
    w8a16 = ai.knee_batch("H100-SXM", weight_bytes=1, compute_dtype="bf16")
    assert fp8 == pytest.approx(1979e12 / (2 * 3.35e12))  # 295.4: the same knee
    assert fp8 == pytest.approx(bf16, rel=0.01)
    assert w8a16 == pytest.approx(bf16 / 2)


def test_knee_from_a_synthetic_sweep():
    rows = 2.0 ** np.arange(0, 14)
    seconds = np.maximum(1e-4, rows * 1e-6)  # flat 100 us, then 1 us per row: knee at 100
    assert ai.knee_from_sweep(rows, seconds) == pytest.approx(100)


def test_measured_bf16_knee_is_near_320_to_384_in_each_run():
    sweep = reference.gemm_sweep("h100", "bf16")
    for run in (1, 2):
        pick = (sweep["K"] == 8192) & (sweep["run"] == run)
        knee = ai.knee_from_sweep(sweep["M"][pick], sweep["seconds"][pick])
        assert 320 <= knee <= 390, (run, knee)
        assert knee > ai.knee_batch("H100-SXM")  # later than the spec sheet's 295


# --- attention ------------------------------------------------------------------------
def test_prefill_attention_by_hand():
    # 32 query heads, 8 KV heads, bf16, 1024-token causal prompt: 32 x 1025 / (40 x 2)
    assert ai.prefill_attention_intensity(1024, 32, 8) == pytest.approx(410.0)
    assert ai.prefill_attention_intensity(1024, 32, 8, causal=False) == pytest.approx(819.2)
    # multi-head, 3 tokens, causal: 6 pairs x 4 x 128 x 2 heads FLOPs; 3 x 128 x 8 x 2 bytes
    assert ai.prefill_attention_flops(3, 2, 128) == 6 * 4 * 128 * 2
    assert ai.prefill_attention_bytes(3, 2, 2, 128) == 3 * 128 * 8 * 2
    assert ai.prefill_attention_intensity(3, 2, 2) == pytest.approx(1.0)


def test_prefill_attention_intensity_grows_with_the_prompt():
    prompt = 2 ** np.arange(4, 18)
    assert np.all(np.diff(ai.prefill_attention_intensity(prompt, 32, 8)) > 0)


def test_decode_attention_by_hand():
    # llama-3.1-8b shape at 8192 cached tokens: 4 x 32 x 8192 / (2 (2 x 8 x 8193 + 64))
    assert ai.decode_attention_intensity(8192, 32, 8) == pytest.approx(1048576 / 262304)
    assert ai.decode_attention_flops(10, 4, 64, batch=3) == 3 * 10 * 4 * 4 * 64
    assert ai.decode_attention_bytes(10, 4, 2, 64, batch=3) == 3 * 64 * (2 * 2 * 11 + 2 * 4) * 2


def test_decode_attention_tends_to_the_group_size_in_bf16():
    long = 10 ** 7
    assert ai.decode_attention_intensity(long, 32, 8) == pytest.approx(4.0, rel=1e-4)
    assert ai.decode_attention_intensity(long, 32, 32) == pytest.approx(1.0, rel=1e-4)
    assert ai.decode_attention_intensity(long, 32, 1, bytes_per_value=1) == pytest.approx(64.0, rel=1e-4)


def test_decode_attention_intensity_does_not_depend_on_the_batch():
    batch = np.array([1, 16, 1024])
    flops = ai.decode_attention_flops(4096, 32, 128, batch=batch)
    moved = ai.decode_attention_bytes(4096, 32, 8, 128, batch=batch)
    assert np.allclose(flops / moved, ai.decode_attention_intensity(4096, 32, 8))


def test_decode_attention_is_memory_bound_on_every_chip():
    lowest_ridge = min(il.get_hardware(c).ridge_point() for c in il.list_hardware()
                       if "bf16" in il.get_hardware(c).dtypes)
    context = 2 ** np.arange(0, 21)
    assert np.all(ai.decode_attention_intensity(context, 128, 8) < lowest_ridge)


def test_attention_counts_agree_with_the_model_catalogue():
    model = il.get_model("llama-3.1-8b")
    context, prompt = 5000, 777
    assert model.layers * ai.decode_attention_flops(context, model.heads, model.head_dim) == pytest.approx(
        model.decode_attention_flops_per_position * context)
    assert model.layers * ai.prefill_attention_flops(prompt, model.heads, model.head_dim) == pytest.approx(
        model.prefill_attention_flops_per_pair * prompt * (prompt + 1) / 2)
    # the cache a decode step reads is the model's KV bytes per token
    read = ai.decode_attention_bytes(context, model.heads, model.kv_heads, model.head_dim)
    extra = model.head_dim * 2 * model.heads * 2  # the query read and the output written
    assert model.layers * (read - extra) == pytest.approx((context + 1) * model.kv_bytes_per_token(2))


def test_arrays_broadcast():
    out = ai.decode_attention_intensity(np.array([128, 4096])[:, None], 32, np.array([1, 8, 32])[None, :])
    assert out.shape == (2, 3)
    assert ai.matmul_intensity(np.array([1, 2]), np.array([[64], [128]]), 64).shape == (2, 2)


# --- bad input ------------------------------------------------------------------------
@pytest.mark.parametrize("call, word", [
    (lambda: ai.matmul_intensity(0, 8, 8), "m"),
    (lambda: matmul_bytes(1, 8, 8, weight_bytes=-1), "weight_bytes"),
    (lambda: ai.matmul_intensity(1, "8", 8), "k"),
    (lambda: ai.knee_batch("H100-SXM", weight_bytes=0), "weight_bytes"),
    (lambda: ai.knee_batch("no-such-chip"), "no-such-chip"),
    (lambda: ai.knee_batch("TPU-v5e", compute_dtype="fp8"), "fp8"),
    (lambda: ai.knee_from_sweep([64, 128], [1e-4]), "same shape"),
    (lambda: ai.knee_from_sweep([128, 256], [1e-4, 2e-4]), "flat_up_to"),
    (lambda: ai.knee_from_sweep([1, 2], [0, 1e-4]), "seconds"),
    (lambda: ai.prefill_attention_intensity(1.5, 32, 8), "prompt"),
    (lambda: ai.prefill_attention_intensity(128, 8, 32), "kv_heads"),
    (lambda: ai.prefill_attention_flops(128, 32, 0), "head_dim"),
    (lambda: ai.decode_attention_intensity(-5, 32, 8), "context"),
    (lambda: ai.decode_attention_intensity(128, 32, 8, bytes_per_value=0), "bytes_per_value"),
    (lambda: ai.decode_attention_bytes(128, 32, 8, 128, batch=0), "batch"),
    (lambda: ai.decode_attention_flops(128, None, 128), "heads"),
])
def test_bad_input_names_the_argument(call, word):
    with pytest.raises(ValueError, match=word):
        call()
