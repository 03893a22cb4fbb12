"""One request's time and cost (inferlab.serving), checked against hand-computed cases.

The toy model and chip below are small enough to work out on paper:
toy model: 1 layer, d_model 4, 1 head of dim 4 (1 KV head), plain MLP of width 8, vocab 16,
tied embeddings. Attention weights 4*4*2 + 2*4*4 = 64, MLP 2*4*8 = 64, head 16*4 = 64:
192 weights, all multiplied with (the tied embedding is the head). KV cache 2*4 = 8 values
per token = 16 bytes in bf16. Attention FLOPs per (query, key) pair 4*4 = 16.
toy chip: 1000 bytes/s, 4000 FLOP/s (bf16), 1 MB of memory.
"""
import numpy as np
import pytest

from inferlab import kv, serving
from inferlab.hardware import Hardware
from inferlab.models import Model

TOY = Model(name="toy", layers=1, d_model=4, heads=1, kv_heads=1, head_dim=4, ffn=8, vocab=16,
            mlp="plain", tied_embeddings=True)
CHIP = Hardware(name="toy-chip", memory_bytes=1e6, memory_bandwidth=1e3, flops={"bf16": 4e3})
DOLLAR_PER_SECOND = 3600.0  # dollars per chip-hour: one dollar per chip-second


def test_toy_shapes_are_what_the_docstring_says():
    assert TOY.matmul_params == 192 and TOY.weight_params_read(8) == 192
    assert TOY.kv_bytes_per_token(2) == 16 and TOY.prefill_attention_flops_per_pair == 16


def test_time_to_first_token_by_hand():
    # prompt 8: bytes 192*2 + 8*16 = 512 -> 0.512 s; FLOPs 2*128*8 + 2*64 (the head, once)
    # + 16 * 8*9/2 = 2752 -> 0.688 s
    assert serving.time_to_first_token(TOY, CHIP, 8) == pytest.approx(0.688)
    # prompt 4: bytes 448 -> 0.448 s; FLOPs 1024 + 128 + 160 = 1312 -> 0.328 s: memory-bound
    assert serving.time_to_first_token(TOY, CHIP, 4) == pytest.approx(0.448)


def test_time_per_output_token_is_the_mean_step_by_hand():
    # batch 2 at context c: bytes 384 + 2 (c + 1) 16 -> 0.416 + 0.032 c seconds (memory-bound).
    # prompt 8, output 5: decode steps at contexts 8, 9, 10, 11 -> mean 0.416 + 0.032 * 9.5
    assert serving.time_per_output_token(TOY, CHIP, 8, 5, 2) == pytest.approx(0.72)
    # output 4: steps at contexts 8, 9, 10 -> 0.416 + 0.032 * 9
    assert serving.time_per_output_token(TOY, CHIP, 8, 4, 2) == pytest.approx(0.704)


def test_request_seconds_and_cost_by_hand():
    assert serving.request_seconds(TOY, CHIP, 8, 5, 2) == pytest.approx(0.688 + 4 * 0.72)
    cost = serving.request_cost(TOY, CHIP, 8, 5, 2, usd_per_gpu_hour=DOLLAR_PER_SECOND)
    assert cost.ttft == pytest.approx(0.688) and cost.tpot == pytest.approx(0.72)
    assert cost.seconds == pytest.approx(3.568)
    assert cost.usd_per_input_token == pytest.approx(0.688 / 8)
    assert cost.usd_per_output_token == pytest.approx(0.72 / 2)
    assert cost.input_usd == pytest.approx(0.688)
    assert cost.output_usd == pytest.approx(4 * 0.36)  # the first token came with the prefill
    assert cost.total_usd == pytest.approx(0.688 + 1.44)
    assert cost.input_share == pytest.approx(0.688 / 2.128)
    assert cost.output_input_ratio == pytest.approx(0.36 / 0.086)


def test_one_output_token_is_the_prefill_alone():
    cost = serving.request_cost(TOY, CHIP, 8, 1, 2, usd_per_gpu_hour=DOLLAR_PER_SECOND)
    assert cost.seconds == pytest.approx(0.688) and cost.output_usd == 0


def test_cost_per_token_functions_by_hand():
    assert serving.prefill_cost_per_token(TOY, CHIP, 8, usd_per_gpu_hour=DOLLAR_PER_SECOND) == \
        pytest.approx(0.086)
    # decode batch 2 at context 10: 0.416 + 0.32 = 0.736 s for 2 tokens
    assert serving.decode_cost_per_token(TOY, CHIP, 2, 10, usd_per_gpu_hour=DOLLAR_PER_SECOND) == \
        pytest.approx(0.368)
    assert serving.output_input_cost_ratio(TOY, CHIP, 8, 2, 10) == pytest.approx(0.368 / 0.086)


def test_ratio_needs_no_price_and_matches_the_costs():
    ratio = serving.output_input_cost_ratio("llama-3.1-8b", "H100-SXM", 2048, 64, 2048)
    costs = [serving.prefill_cost_per_token("llama-3.1-8b", "H100-SXM", 2048, usd_per_gpu_hour=2.0),
             serving.decode_cost_per_token("llama-3.1-8b", "H100-SXM", 64, 2048, usd_per_gpu_hour=2.0)]
    assert ratio == pytest.approx(costs[1] / costs[0])


def test_attention_share_and_crossover_by_hand():
    # prompt 8: attention 16 * 36 = 576 of 2752 FLOPs (the head once: 2*128*8 + 2*64 + 576)
    assert serving.attention_flops_share(TOY, 8) == pytest.approx(576 / 2752)
    # 16 P (P + 1) / 2 = 2*128 P + 2*64  ->  P^2 - 31 P - 16 = 0  ->  P = (31 + sqrt(1025)) / 2
    assert serving.attention_crossover_prompt(TOY) == pytest.approx((31 + 1025 ** 0.5) / 2)
    assert serving.attention_flops_share(TOY, 31) < 0.5 < serving.attention_flops_share(TOY, 32)


def test_cache_helpers_by_hand():
    # recompute: 0.688 s / 8 tokens = 0.086 chip-s per token; reload 16 B at 100 B/s = 0.16 s;
    # the one new token on top of 7 cached reads 384 + 8*16 = 512 B (0.512 s) instead of
    # 384 + 16 = 400 B (0.4 s): 0.016 s per cached token
    assert serving.cache_hit_cost_fraction(TOY, CHIP, 8, 100.0) == pytest.approx(0.176 / 0.086)
    # HBM: 1e6 bytes rented with the chip; 16 bytes for 0.086 * 1e6 / 16 s cost one recompute
    assert serving.hbm_break_even_seconds(TOY, CHIP, 8) == pytest.approx(0.086 * 1e6 / 16)


def test_largest_batch_by_hand():
    # 1e6 bytes - 192 * 2 of weights = 999 616 bytes free; 16 bytes per token of context
    assert kv.max_batch(TOY, CHIP, 100) == 999_616 // 1600
    assert kv.max_batch(TOY, CHIP, 10**6) == 0
    # llama-3.1-8b on an H100: (85.52e9 - 16.06e9) / (1024 * 131072) = 517.5 sequences of 1024
    assert kv.max_batch("llama-3.1-8b", "H100-SXM", 1024) == 517
    assert list(kv.max_batch("llama-3.1-8b", "H100-SXM", np.array([1024, 4096]))) == [517, 129]


# --- properties on real models --------------------------------------------------------------
MODEL, H100 = "llama-3.1-8b", "H100-SXM"


def test_output_tokens_cost_more_and_batching_narrows_the_gap():
    batches = np.array([1, 4, 16, 64, 256, 1024])
    ratio = serving.output_input_cost_ratio(MODEL, H100, 2048, batches, 2048)
    assert np.all(np.diff(ratio) < 0)
    assert ratio[0] > 100 and np.all(ratio > 1)


def test_broadcasting_over_prompt_and_output():
    prompts = np.array([[128], [1024], [8192]])
    outputs = np.array([1, 16, 256, 2048])
    cost = serving.request_cost(MODEL, H100, prompts, outputs, 32, usd_per_gpu_hour=3.0)
    for name in ("ttft", "tpot", "seconds", "input_usd", "usd_per_input_token", "total_usd"):
        assert np.shape(getattr(cost, name)) == (3, 4), name
    assert np.all(np.diff(cost.seconds, axis=1) > 0)  # longer answers take longer
    assert np.all(np.diff(cost.ttft[:, 0]) > 0)  # longer prompts wait longer for the first token
    assert np.all(np.diff(cost.input_share, axis=1) < 0)  # more output, less of the cost is input


def test_ttft_does_not_depend_on_the_decode_batch():
    small = serving.request_cost(MODEL, H100, 2048, 100, 1, usd_per_gpu_hour=3.0)
    large = serving.request_cost(MODEL, H100, 2048, 100, 256, usd_per_gpu_hour=3.0)
    assert small.ttft == large.ttft and large.tpot > small.tpot
    assert large.usd_per_output_token < small.usd_per_output_token


def test_ideal_tensor_parallelism_halves_time_and_keeps_cost():
    one = serving.request_cost(MODEL, H100, 1024, 200, 64, usd_per_gpu_hour=3.0, chips=1)
    two = serving.request_cost(MODEL, H100, 1024, 200, 64, usd_per_gpu_hour=3.0, chips=2)
    assert two.seconds == pytest.approx(one.seconds / 2)
    assert two.total_usd == pytest.approx(one.total_usd)


def test_long_prompts_spend_more_on_attention():
    share = serving.attention_flops_share(MODEL, np.array([128, 1024, 16384]))
    assert np.all(np.diff(share) > 0) and share[0] < 0.01 and 0.15 < share[2] < 0.3


def test_predicted_ttft_is_below_every_measured_prefill():
    from inferlab import reference
    data = reference.prefill_steps("h100")
    assert np.all(serving.time_to_first_token(MODEL, H100, data["prompt"]) <= data["seconds"])


def test_published_ratios_are_parsed():
    rows = serving.published_price_ratios()
    assert len(rows) >= 10
    assert all(r["output_over_input"] >= 1 for r in rows)
    opus = [r for r in rows if r["model"] == "Claude Opus 4.6" and r["tier"] == "standard"]
    assert opus and opus[0]["output_over_input"] == pytest.approx(5.0)
    assert opus[0]["cached_over_input"] == pytest.approx(0.1)


# --- bad input ----------------------------------------------------------------------------
@pytest.mark.parametrize("call, word", [
    (lambda: serving.time_to_first_token(MODEL, H100, 0), "prompt"),
    (lambda: serving.time_per_output_token(MODEL, H100, 100, -1), "output"),
    (lambda: serving.request_seconds(MODEL, H100, 100, 10, 1.5), "batch"),
    (lambda: serving.request_cost(MODEL, H100, 100, 10, usd_per_gpu_hour=0), "usd_per_gpu_hour"),
    (lambda: serving.request_cost(MODEL, H100, 100, 10, 4, usd_per_gpu_hour=2.0, prefill_batch=0),
     "prefill_batch"),
    (lambda: serving.cache_hit_cost_fraction(MODEL, H100, 100, "fast"), "link_bandwidth"),
    (lambda: serving.decode_cost_per_token(MODEL, "H900", 8, 100, usd_per_gpu_hour=2.0), "H900"),
    (lambda: serving.output_input_cost_ratio(MODEL, H100, 100, 8, context=np.nan), "context"),
    (lambda: serving.attention_flops_share(MODEL, 10.5), "prompt"),
])
def test_bad_input_raises_value_error_naming_it(call, word):
    with pytest.raises(ValueError, match=word):
        call()


def test_missing_price_says_what_to_pass():
    # no published GPU-hour price for a TPU in the table: the error says what to pass
    with pytest.raises(ValueError, match="usd_per_gpu_hour"):
        serving.request_cost(MODEL, "TPU-v5e", 100, 10)
    assert serving.request_cost(MODEL, "TPU-v5e", 100, 10, usd_per_gpu_hour=1.2).total_usd > 0
