"""Batching: cost per token against batch, the knee, MoE knees and fast tiers."""
import math
import re

import numpy as np
import pytest

from inferlab import kv

import inferlab as il
from inferlab import batching, reference
from inferlab.batching import (batch_share_for_tier, batch_shrink_for_tier, batch_sweep, decode_knee,
                               decode_parts, fast_tier_curve, fast_tier_from_steps, knee_batch,
                               moe_knee_batch, moe_layer_step,
                               price_multiple_for_speedup)

CHIPS_WITH_BF16 = [c for c in il.list_hardware() if "bf16" in il.get_hardware(c).dtypes]


def test_knee_of_an_h100_by_hand():
    # 989 TFLOP/s dense bf16, 3.35 TB/s, 2 bytes per weight: 989e12 * 2 / (2 * 3.35e12)
    assert knee_batch("H100-SXM") == pytest.approx(295.22388, rel=1e-6)
    # fp8 halves the bytes and doubles the FLOP/s: the knee barely moves (1979 vs 2 x 989.5)
    assert knee_batch("H100-SXM", weight_bytes=1, compute_dtype="fp8") == pytest.approx(
        1979e12 / (2 * 3.35e12))


def test_knee_scales_with_bytes_per_weight_and_broadcasts():
    knees = knee_batch("H200", weight_bytes=np.array([0.5, 1, 2]))
    assert knees.shape == (3,)
    assert knees[2] == pytest.approx(4 * knees[0])


@pytest.mark.parametrize("experts, top_k", [(64, 8), (256, 8), (8, 2), (128, 1), (16, 16)])
@pytest.mark.parametrize("chip", ["H100-SXM", "B200", "MI300X"])
def test_moe_layer_knee_is_dense_knee_times_experts_over_top_k(experts, top_k, chip):
    """Uniform (balanced) routing: the first token count at which the MoE layer is
    compute-bound is the dense knee x E/k, rounded up to a whole token."""
    tokens = np.arange(1, 200_000)
    layer = moe_layer_step(tokens, chip, experts=experts, top_k=top_k, d_model=4096, expert_ffn=1536)
    first = tokens[np.argmax(layer.compute_seconds >= layer.memory_seconds)]
    expected = knee_batch(chip) * experts / top_k
    assert moe_knee_batch(chip, experts, top_k) == pytest.approx(expected)
    assert first == math.ceil(expected)


def test_moe_layer_matches_the_shipped_measurements_counts_and_stays_below_them():
    sweep = reference.moe_sweep("h100")
    shape = dict(d_model=sweep["d_model"], expert_ffn=sweep["d_expert"])
    moe = moe_layer_step(sweep["tokens"], "H100-SXM", experts=sweep["experts"],
                         top_k=sweep["top_k"], **shape)
    dense = moe_layer_step(sweep["tokens"], "H100-SXM", experts=sweep["top_k"],
                           top_k=sweep["top_k"], **shape)
    # uniform random routing expects at most the experts balanced routing touches
    assert np.all(moe.bytes <= np.asarray(sweep["moe_weight_bytes"]) * (1 + 1e-12))
    np.testing.assert_allclose(dense.bytes, sweep["dense_weight_bytes"])
    np.testing.assert_allclose(moe.flops, sweep["flops_active"])
    assert np.all(moe.seconds <= sweep["moe_seconds"])  # a roofline is a lower bound
    assert np.all(dense.seconds <= sweep["dense_seconds"])


def test_measured_moe_meets_dense_where_the_rule_says_within_a_factor_of_two():
    sweep = reference.moe_sweep("h100")
    ratio = sweep["moe_seconds"] / sweep["dense_seconds"]
    # the first token count from which on the MoE layer costs no more than 5 % over dense
    stays_close = np.flip(np.logical_and.accumulate(np.flip(ratio <= 1.05)))
    meets = sweep["tokens"][np.argmax(stays_close)]
    assert meets == 4096
    rule = moe_knee_batch("H100-SXM", sweep["experts"], sweep["top_k"])
    assert rule / 2 <= meets <= rule * 2


@pytest.mark.parametrize("model", il.list_models())
@pytest.mark.parametrize("chip", CHIPS_WITH_BF16)
def test_cost_per_token_never_rises_with_batch_while_memory_bound(model, chip):
    batch = np.unique(np.geomspace(1, 16384, 120).round())
    for context in (1, 128, 4096, 32768):
        curves = batch_sweep(model, chip, batch, context)
        per_token = curves.seconds_per_token
        memory_bound = curves.bound == "memory"
        steps = np.diff(per_token)[memory_bound[1:]]
        assert np.all(steps <= 1e-12 * per_token[0]), (model, chip, context)
        # and it never rises at all (flat once compute-bound)
        assert np.all(np.diff(per_token) <= 1e-9 * per_token[0])


def test_batch_sweep_throughput_utilisation_and_price_by_hand():
    # llama-3.1-8b (config.json) on an H100 SXM (3.35 TB/s, 989 TFLOP/s), batch 64, context 1024:
    # bytes = (7,504,658,432 weights + 64 embedding rows x 4096) x 2 + 64 x 1025 x 131,072 KV
    #       = 23,608,164,352 -> 7.04721 ms; FLOPs = 64 x (2 x 7,504,658,432 + 1024 x 524,288)
    #       = 994,956,017,664 -> 1.00602 ms. Memory-bound: the step takes 7.04721 ms.
    step_seconds = 23_608_164_352 / 3.35e12
    curves = batch_sweep("llama-3.1-8b", "H100-SXM", np.array([1, 64]), 1024)
    assert curves.step_seconds[1] == pytest.approx(step_seconds)
    assert curves.tokens_per_second[1] == pytest.approx(64 / step_seconds)            # 9,082 tokens/s
    assert curves.utilisation[1] == pytest.approx(994_956_017_664 / 989e12 / step_seconds)  # 14.3 %
    # $2 per GPU-hour: $2 / 3600 s x 7.04721 ms / 64 tokens x 1e6 = $0.0612 per million tokens
    assert curves.usd_per_million_tokens(2.0)[1] == pytest.approx(0.061173, rel=1e-4)
    assert np.all(curves.utilisation <= 1)


def test_decode_parts_add_up_to_the_step_and_cost_at_least_as_much():
    batch = np.array([1, 64, 1024, 8192])
    for model in ("llama-3.1-8b", "deepseek-v3", "mixtral-8x7b"):
        whole = il.decode_step(model, "H100-SXM", batch, 2048)
        parts = decode_parts(model, "H100-SXM", batch, 2048)
        np.testing.assert_allclose(sum(p.bytes for p in parts.values()), whole.bytes)
        np.testing.assert_allclose(sum(p.flops for p in parts.values()), whole.flops)
        assert np.all(sum(p.seconds for p in parts.values()) >= whole.seconds * (1 - 1e-12))
    dense = decode_parts("llama-3.1-8b", "H100-SXM", batch, 2048)
    assert np.all(dense["experts"].seconds == 0)


def test_whole_step_knee_is_b_star_times_read_over_used_at_tiny_context():
    chip = "H100-SXM"
    for name in ("llama-3.1-70b", "deepseek-v3"):
        model = il.get_model(name)
        knee = decode_knee(model, chip, context=1)
        ratio = model.weight_params_read(knee) / model.matmul_params
        assert knee == pytest.approx(knee_batch(chip) * ratio, rel=0.01)
        step = il.decode_step(model, chip, np.array([knee - 1, knee]), 1)
        assert list(step.bound) == ["memory", "compute"]
    # the "total / active" version of the rule is within a few % for deepseek-v3
    v3 = il.get_model("deepseek-v3")
    assert decode_knee(v3, chip, context=1) == pytest.approx(knee_batch(chip) * v3.sparsity, rel=0.05)


def test_long_context_dense_decode_never_turns_compute_bound():
    # llama-3.1-8b at 32k context: each sequence's KV reads outweigh its FLOPs' worth
    assert decode_knee("llama-3.1-8b", "H100-SXM", context=32768) == math.inf


def test_max_batch_in_memory_by_hand():
    # (81,559 MiB - 8.03e9 x 2 bytes) / (1024 tokens x 131072 bytes) = 517.5
    model = il.get_model("llama-3.1-8b")
    expected = math.floor((81_559 * 2**20 - model.total_params * 2) / (1024 * 131072))
    assert kv.max_batch(model, "H100-SXM", 1024) == expected == 517
    assert kv.max_batch("llama-3.1-405b", "H100-SXM", 1024) == 0


def test_fast_tier_price_times_speedup_is_the_batch_shrink():
    tier = fast_tier_curve("llama-3.1-8b", "H100-SXM", 256, 1024)
    np.testing.assert_allclose(tier.price_multiple * tier.speedup, 256 / tier.batch)
    at_standard = tier.batch == 256
    assert tier.speedup[at_standard] == pytest.approx(1) and tier.price_multiple[at_standard] == pytest.approx(1)
    assert batch_shrink_for_tier(2.5, 6) == pytest.approx(15)


def test_two_part_formula_matches_the_roofline_while_memory_bound():
    model, chip, standard = "llama-3.1-8b", "H100-SXM", 256
    tier = fast_tier_curve(model, chip, standard, 1024)
    seconds = il.decode_step(model, chip, tier.batch, 1024).seconds
    assert np.all(il.decode_step(model, chip, tier.batch, 1024).bound == "memory")
    per_sequence = (seconds[-1] - seconds[0]) / (standard - 1)  # a straight line in batch
    share = per_sequence * standard / seconds[-1]
    np.testing.assert_allclose(price_multiple_for_speedup(tier.speedup, share), tier.price_multiple,
                               rtol=1e-9)


def test_tier_share_by_hand_and_round_trip():
    # 6x the price for 2.5x the speed: share = 6 x 1.5 / (15 - 1) = 9/14
    assert batch_share_for_tier(2.5, 6) == pytest.approx(9 / 14)
    assert price_multiple_for_speedup(2.5, 9 / 14) == pytest.approx(6)
    speedups = np.linspace(1.0, 2.7, 20)
    prices = price_multiple_for_speedup(speedups, 0.65)
    assert np.all(np.diff(prices) > 0) and prices[0] == pytest.approx(1)


def test_measured_steps_make_a_fast_tier_curve():
    data = reference.decode_steps("h100", "sdpa")
    pick = (data["context"] == 1024) & (data["run"] == 1)
    tier = fast_tier_from_steps(data["batch"][pick], data["seconds"][pick], 256)
    assert np.all(tier.speedup >= 1 - 1e-12)
    assert np.all(np.diff(tier.price_multiple[np.argsort(tier.batch)]) < 0)


@pytest.mark.parametrize("call, argument", [
    (lambda: knee_batch("H100-SXM", weight_bytes=0), 'weight_bytes'),
    (lambda: knee_batch(il.Hardware(name="no-flops", memory_bytes=1e9, memory_bandwidth=1e11)), 'no-flops'),
    (lambda: knee_batch("no-such-chip"), 'no-such-chip'),
    (lambda: moe_knee_batch("H100-SXM", 8, 16), 'top_k'),
    (lambda: moe_knee_batch("H100-SXM", 0, 1), 'experts'),
    (lambda: batch_sweep("llama-3.1-8b", "H100-SXM", 0, 128), 'batch'),
    (lambda: batch_sweep("llama-3.1-8b", "H100-SXM", 2.5, 128), 'batch'),
    (lambda: batch_sweep("llama-3.1-8b", "H100-SXM", 8, 128).usd_per_million_tokens(-1), 'usd_per_gpu_hour'),
    (lambda: decode_knee("llama-3.1-8b", "H100-SXM", context=-5), 'context'),
    (lambda: moe_layer_step(16, "H100-SXM", experts=4, top_k=8, d_model=8, expert_ffn=8), 'top_k'),
    (lambda: fast_tier_from_steps([1, 2], [0.1, 0.2], 4), 'standard_batch'),
    (lambda: fast_tier_from_steps([1, 2], [0.1], 2), 'step_seconds'),
    (lambda: price_multiple_for_speedup(3.0, 0.5), 'speedup'),
    (lambda: price_multiple_for_speedup(0.5, 0.5), 'speedup'),
    (lambda: price_multiple_for_speedup(2.0, 1.0), 'batch_share'),
    (lambda: batch_share_for_tier(1.0, 6), 'speedup'),
    (lambda: kv.max_batch("llama-3.1-8b", "H100-SXM", 0), 'context'),
])
def test_bad_input_is_a_value_error(call, argument):
    with pytest.raises(ValueError, match=re.escape(argument)):
        call()


def test_published_tiers_have_sources_and_the_anthropic_fast_mode_is_six_times():
    tiers = batching.published_fast_tiers()
    assert all(t.source.startswith("https://") for t in tiers)
    fast = [t for t in tiers if t.provider == "Anthropic"][0]
    assert fast.price_multiple == pytest.approx(6) and fast.speedup == pytest.approx(2.5)
    assert all(t.price_multiple > 1 for t in tiers)


def test_batch_explorer_redraws_fast_and_handles_every_control():
    from inferlab.explorers.batching import BatchExplorer
    explorer = BatchExplorer()
    explorer.widget()
    for value in (1, 4, 16, 64, 256, 1024, 4096, 16384, 2, 8, 32, 128):
        explorer._controls["batch"].value = value
    assert len(explorer.redraw_seconds) == 13  # one redraw per change (speed: `make bench`)
    for name, value in (("model", "deepseek-v3"), ("context", 32768), ("hardware", "H200"),
                        ("usd_per_gpu_hour", 4.0)):
        explorer._controls[name].value = value
        assert "Cannot draw" not in explorer._summary.value
    assert "deepseek-v3" in explorer._summary.value and "$4.00 per GPU-hour" in explorer._summary.value
