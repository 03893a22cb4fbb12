"""The KV cache: bytes per token by attention type, capacity, crossovers, allocation."""
import math
import re

import numpy as np
import pytest

from inferlab import decode_step, get_hardware, get_model, kv
from inferlab.hardware import Hardware
from inferlab.models import Model


# --- bytes per token, by hand, for each attention type ------------------------------------
def test_mha_llama_2_7b_by_hand():
    # 32 layers x (K and V) x 32 heads x 128 dims x 2 bytes
    assert get_model("llama-2-7b").kv_bytes_per_token(2) == 32 * 2 * 32 * 128 * 2 == 524_288


def test_gqa_llama_3_1_70b_by_hand():
    # 80 layers x 2 x 8 KV heads x 128 x 2 bytes; 64 query heads share them
    model = get_model("llama-3.1-70b")
    assert model.kv_bytes_per_token(2) == 327_680
    assert model.kv_bytes_per_token(1) == 163_840  # fp8


def test_mqa_small_custom_model_by_hand():
    tiny = Model(name="tiny-mqa", layers=4, d_model=256, heads=8, kv_heads=1, head_dim=32,
                 ffn=1024, vocab=1000, attention="mqa")
    assert tiny.kv_values_per_token == 4 * 2 * 1 * 32 == 256
    assert tiny.kv_bytes_per_token(2) == 512
    as_mha = Model(name="tiny-mha", layers=4, d_model=256, heads=8, kv_heads=8, head_dim=32,
                   ffn=1024, vocab=1000, attention="mha")
    assert as_mha.kv_bytes_per_token(2) == 8 * tiny.kv_bytes_per_token(2)


def test_mla_deepseek_v3_by_hand():
    # 61 layers x (512 latent + 64 decoupled rope key) x 2 bytes
    assert get_model("deepseek-v3").kv_bytes_per_token(2) == 61 * (512 + 64) * 2 == 70_272


def test_published_deepseek_figures():
    """Zhao et al., "Insights into DeepSeek-V3" (ISCA 2025, arXiv:2505.09343), Table 1, BF16:
    DeepSeek-V3 70.272 KB, LLaMA-3.1 405B 516.096 KB per token, printed to the byte
    (KB = 1000 bytes). Their multiplier 7.28x for 405B is rounded from the ratio 7.34;
    Qwen-2.5 72B's 327.680 KB matches our llama-3.1-70b shape (80 layers, 8 KV heads)."""
    assert get_model("deepseek-v3").kv_bytes_per_token(2) / 1e3 == pytest.approx(70.272, abs=0.0005)
    assert get_model("llama-3.1-405b").kv_bytes_per_token(2) / 1e3 == pytest.approx(516.096, abs=0.0005)
    assert get_model("llama-3.1-70b").kv_bytes_per_token(2) / 1e3 == pytest.approx(327.680, abs=0.0005)


def test_cache_bytes_broadcast_and_scale():
    got = kv.kv_cache_bytes("llama-3.1-8b", np.array([1024, 2048]), np.array([[1], [4]]))
    assert got.shape == (2, 2)
    assert got[1, 1] == 4 * 2048 * 131_072
    assert kv.kv_cache_bytes("llama-3.1-8b", 1000, kv_bytes=1) * 2 == kv.kv_cache_bytes("llama-3.1-8b", 1000)


# --- capacity ----------------------------------------------------------------------------
def test_capacity_by_hand():
    # llama-3.1-8b on one H100 (81,559 MiB usable): 85,520,809,984 - 2 x 8,029,995,008 bytes
    # free, 131,072 bytes per token
    free = 81_559 * 2**20 - 2 * 8_029_995_008
    assert kv.free_memory_bytes("llama-3.1-8b", "H100-SXM") == pytest.approx(free)
    assert kv.kv_capacity_tokens("llama-3.1-8b", "H100-SXM") == math.floor(free / 131_072) == 529_944
    assert kv.max_batch("llama-3.1-8b", "H100-SXM", 131_072) == 4
    assert kv.max_batch("llama-3.1-8b", "H100-SXM", 4096) == 129


def test_capacity_pools_chips_and_reserves_memory():
    one = kv.free_memory_bytes("llama-3.1-70b", "H100-SXM", chips=8)
    usable = 81_559 * 2**20
    assert one == pytest.approx(8 * usable - get_model("llama-3.1-70b").total_params * 2)
    ninety = kv.free_memory_bytes("llama-3.1-70b", "H100-SXM", chips=8, memory_fraction=0.9)
    assert one - ninety == pytest.approx(0.1 * 8 * usable)


def test_max_batch_falls_as_context_grows_and_is_zero_when_weights_do_not_fit():
    contexts = np.array([1024, 8192, 65536, 1_000_000])
    batches = kv.max_batch("llama-3.1-70b", "H100-SXM", contexts, chips=8)
    assert np.all(np.diff(batches) <= 0) and batches[-1] == 1
    assert kv.max_batch("llama-3.1-405b", "H100-SXM", 1024) == 0
    assert kv.kv_capacity_tokens("llama-3.1-405b", "H100-SXM") == 0


def test_fp8_cache_doubles_capacity_exactly():
    bf16 = kv.kv_capacity_tokens("llama-3.1-70b", "H200", chips=4)
    fp8 = kv.kv_capacity_tokens("llama-3.1-70b", "H200", chips=4, kv_bytes=1)
    assert abs(fp8 - 2 * bf16) <= 1


# --- bandwidth crossovers -------------------------------------------------------------------
def test_kv_weight_crossover_by_hand_dense():
    model = get_model("llama-3.1-8b")
    weights = model.weight_params_read(16) * 2
    assert kv.kv_weight_crossover_context("llama-3.1-8b", 16) == pytest.approx(weights / (16 * 131_072))
    # at that context the step's KV traffic matches its weight traffic (up to the +1 new token)
    context = round(float(kv.kv_weight_crossover_context("llama-3.1-8b", 16)))
    step = decode_step("llama-3.1-8b", "H100-SXM", 16, context)
    assert step.kv_bytes == pytest.approx(step.weight_bytes, rel=1e-3)


def test_crossover_halves_with_twice_the_batch_for_a_dense_model():
    one = kv.kv_weight_crossover_context("llama-3.1-70b", 8)
    two = kv.kv_weight_crossover_context("llama-3.1-70b", 16)
    assert one / two == pytest.approx(2, rel=1e-3)


def test_balance_context_makes_memory_equal_compute():
    context = kv.balance_context("llama-3.1-8b", "H100-SXM", 1024)
    step = decode_step("llama-3.1-8b", "H100-SXM", 1024, round(context))
    assert step.memory_seconds == pytest.approx(step.compute_seconds, rel=2e-3)
    # below the knee the step is memory-bound at every context: no balance point
    assert math.isnan(kv.balance_context("llama-3.1-8b", "H100-SXM", 16))


def test_mla_attention_sits_near_the_ridge():
    # absorbed MLA decode: 61 x 128 heads x (2 x 576 + 2 x 512) FLOPs per cached token
    model = get_model("deepseek-v3")
    assert model.decode_attention_flops_per_position == 61 * 128 * (2 * 576 + 2 * 512)
    intensity_bf16 = model.decode_attention_flops_per_position / model.kv_bytes_per_token(2)
    assert intensity_bf16 == pytest.approx(241.8, abs=0.1)
    assert intensity_bf16 < get_hardware("H100-SXM").ridge_point() < 2 * intensity_bf16
    # with an fp8 cache attention's intensity passes the ridge: more context, more compute-bound
    context = kv.balance_context("deepseek-v3", "H100-SXM", 256, kv_bytes=1)
    longer = decode_step("deepseek-v3", "H100-SXM", 256, 2 * round(context), kv_bytes=1)
    assert longer.bound == "compute"


# --- cost when capacity caps the batch ---------------------------------------------------------
def test_capped_decode_by_hand():
    point = kv.capped_decode("llama-3.1-8b", "H100-SXM", 131_072, 64, usd_per_gpu_hour=3.6)
    assert point.batch == 4
    step = decode_step("llama-3.1-8b", "H100-SXM", 4, 131_072)
    assert point.seconds_per_token == pytest.approx(step.seconds / 4)
    assert point.usd_per_million == pytest.approx(step.seconds / 4 * 1e-3 * 1e6)  # $3.6/h = $0.001/s


def test_capped_cost_rises_with_context_and_is_nan_when_nothing_fits():
    contexts = np.array([1024, 16384, 131072, 400_000])
    point = kv.capped_decode("llama-3.1-8b", "H100-SXM", contexts, 256, usd_per_gpu_hour=2.0)
    assert np.all(np.diff(point.usd_per_million[:3]) > 0)
    assert point.batch[-1] == 1
    assert math.isnan(float(kv.capped_decode("llama-3.1-8b", "H100-SXM", 600_000, 8,
                                             usd_per_gpu_hour=2.0).usd_per_million))


# --- allocation -------------------------------------------------------------------------------
def test_paged_allocation_by_hand():
    assert kv.paged_tokens(1000) == 1008          # 63 blocks of 16
    assert kv.paged_tokens(1024) == 1024
    assert kv.paged_tokens(1, block_tokens=16) == 16
    assert kv.wasted_fraction(1000, 1008) == pytest.approx(8 / 1008)
    assert kv.wasted_fraction(2048, 131072) == pytest.approx(1 - 1 / 64)


def test_published_long_context_steps_are_found():
    steps = {(s.provider, s.model): s for s in kv.long_context_steps()}
    gemini = steps[("Google", "Gemini 2.5 Pro Preview")]
    assert gemini.threshold_tokens == 200_000
    assert gemini.input_step == pytest.approx(2.0) and gemini.output_step == pytest.approx(1.5)


# --- bad input ----------------------------------------------------------------------------
@pytest.mark.parametrize("call, argument", [
    (lambda: kv.kv_cache_bytes("llama-3.1-8b", 0), 'context'),
    (lambda: kv.kv_cache_bytes("llama-3.1-8b", 100, kv_bytes=-1), 'kv_bytes'),
    (lambda: kv.max_batch("llama-3.1-8b", "H100-SXM", -5), 'context'),
    (lambda: kv.max_batch("llama-3.1-8b", "H100-SXM", 100, chips=1.5), 'chips'),
    (lambda: kv.free_memory_bytes("llama-3.1-8b", "H100-SXM", memory_fraction=1.2), 'memory_fraction'),
    (lambda: kv.kv_weight_crossover_context("llama-3.1-8b", 0), 'batch'),
    (lambda: kv.balance_context("llama-3.1-8b", Hardware(name="no-flops", memory_bytes=1e9, memory_bandwidth=1e11), 64),
     'no-flops'),
    (lambda: kv.capped_decode("llama-3.1-8b", "H100-SXM", 1024, 8, usd_per_gpu_hour=0), 'usd_per_gpu_hour'),
    (lambda: kv.paged_tokens(100, block_tokens=0), 'block_tokens'),
    (lambda: kv.wasted_fraction(200, 100), 'reserved'),
    (lambda: kv.kv_cache_bytes("no-such-model", 100), 'no-such-model'),
    (lambda: kv.max_batch("llama-3.1-8b", "H100-SXM", "long"), 'context'),
])
def test_bad_input_raises_value_error(call, argument):
    with pytest.raises(ValueError, match=re.escape(argument)):
        call()
