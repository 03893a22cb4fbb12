"""The capstone price sheet: a hand-computed case, invariants, monotonic business knobs,
the published ratios, and bad input."""
import math

import numpy as np
import pytest

import inferlab as il
from inferlab import price_sheet as ps

H100_BANDWIDTH, H100_BF16 = 3.35e12, 989e12  # the catalogue's spec-sheet figures

SIMPLE = dict(model="llama-3.1-8b", hardware="H100-SXM", chips=1, usd_per_gpu_hour=2.0, context=1024,
              batch=64, max_tpot=1.0, utilisation=1.0, margin=0.0, cache_link_bandwidth=50e9,
              long_context=8192, long_threshold=4096, overnight_batch=64, overnight_utilisation=1.0, memory_fraction=1.0)


def test_catalogue_figures_used_by_the_hand_computation():
    h100 = il.get_hardware("H100-SXM")
    assert h100.memory_bandwidth == H100_BANDWIDTH and h100.peak_flops("bf16") == H100_BF16


def test_hand_computed_sheet_for_a_simple_case():
    """llama-3.1-8b on one H100 at $2/h, full utilisation, no margin, written out by hand."""
    m = il.get_model("llama-3.1-8b")
    kv = m.kv_bytes_per_token(2)
    usd_per_second = 2.0 / 3600
    # decode: 64 sequences, context 1024: weights once, every cache once, 2 FLOPs per weight per token
    memory = (m.weight_params_read(64) * 2 + 64 * 1025 * kv) / H100_BANDWIDTH
    compute = 64 * (2 * m.matmul_params + m.decode_attention_flops_per_position * 1024) / H100_BF16
    step = max(memory, compute)
    output = step * usd_per_second / 64 * 1e6
    # prefill: one 1024-token prompt; causal attention has 1024 x 1025 / 2 pairs
    # (the output head runs once, for the last token)
    flops = (2 * (m.matmul_params - m.head_params) * 1024 + 2 * m.head_params
             + m.prefill_attention_flops_per_pair * 1024 * 1025 / 2)
    nbytes = m.weight_params_read(1024) * 2 + 1024 * kv
    prefill = max(flops / H100_BF16, nbytes / H100_BANDWIDTH)
    input_ = prefill * usd_per_second / 1024 * 1e6
    # a cached token: its copy over the link, plus what the one new token spends reading it
    # (a one-token prefill is memory-bound: kv / bandwidth per cached token)
    cached = input_ * (kv / 50e9 + kv / H100_BANDWIDTH) / (prefill / 1024)

    sheet = ps.price_sheet(ps.ProviderAssumptions(**SIMPLE))
    assert sheet.batch == 64 and memory > compute  # memory-bound at batch 64
    assert sheet.output == pytest.approx(output, rel=1e-9)
    assert sheet.input == pytest.approx(input_, rel=1e-9)
    assert sheet.cached_input == pytest.approx(cached, rel=1e-9)
    assert sheet.tpot == pytest.approx(step, rel=1e-9)
    assert sheet.batch_output == pytest.approx(output, rel=1e-9)  # same batch, same utilisation
    # a quarter of the time used and half the price kept as margin: 4 x 2 = 8 x the cost
    dear = ps.price_sheet(ps.ProviderAssumptions(**{**SIMPLE, "utilisation": 0.25, "margin": 0.5}))
    assert dear.output == pytest.approx(8 * output, rel=1e-9)
    assert dear.input == pytest.approx(8 * input_, rel=1e-9)


def test_scaling_the_gpu_price_scales_every_entry_and_keeps_every_ratio():
    base = ps.price_sheet(usd_per_gpu_hour=2.0)
    dear = ps.price_sheet(usd_per_gpu_hour=6.0)
    for field in ("input", "cached_input", "output", "long_input", "long_output", "fast_input",
                  "fast_output", "batch_input", "batch_output"):
        assert getattr(dear, field) == pytest.approx(3 * getattr(base, field), rel=1e-12), field
    for name in ps.RATIOS:
        assert dear.ratios[name] == pytest.approx(base.ratios[name], rel=1e-12), name
    assert (dear.batch, dear.fast_batch, dear.long_batch) == (base.batch, base.fast_batch, base.long_batch)


@pytest.mark.parametrize("knob, values, direction", [
    ("margin", (0.0, 0.2, 0.5, 0.8, 0.95), +1),
    ("utilisation", (0.1, 0.3, 0.5, 0.7, 0.9), -1),
])
def test_margin_raises_and_utilisation_lowers_every_price(knob, values, direction):
    sheets = [ps.price_sheet(**{knob: v}) for v in values]
    for field in ("input", "cached_input", "output", "long_input", "long_output", "fast_output"):
        prices = np.array([getattr(s, field) for s in sheets])
        assert np.all(direction * np.diff(prices) > 0), (knob, field, prices)
    for name in ("output / input", "cached / input", "long output / output", "fast output / output"):
        assert np.allclose([s.ratios[name] for s in sheets], sheets[0].ratios[name], rtol=1e-12)


def test_margin_and_utilisation_rule():
    assert ps.price_from_cost(1.0, 0.5, 0.5) == pytest.approx(4.0)
    assert ps.price_from_cost(3.0, 1.0, 0.0) == pytest.approx(3.0)
    assert np.allclose(ps.price_from_cost(np.array([1.0, 2.0]), 0.8, 0.2), [1.5625, 3.125])


def test_latency_target_caps_the_batch_at_the_largest_that_meets_it():
    a = ps.ProviderAssumptions(model="llama-3.1-8b", chips=1, batch=512, usd_per_gpu_hour=2.0)
    for target in (0.008, 0.012, 0.03):
        b = ps.latency_batch(a.model, a.hardware, a.context, target, a.batch, **a.step_options())
        assert il.decode_step(a.model, a.hardware, b, a.context).seconds <= target
        if b < a.batch:
            assert il.decode_step(a.model, a.hardware, b + 1, a.context).seconds > target
    floor = il.decode_step(a.model, a.hardware, 1, a.context).seconds
    assert ps.latency_batch(a.model, a.hardware, a.context, floor / 2, 512) == 1
    missed = ps.price_sheet(a, max_tpot=floor / 2)
    assert missed.batch == 1 and not missed.meets_target
    assert ps.price_sheet(a).meets_target


def test_fast_tier_trades_price_for_speed_by_the_batch_ratio():
    """Lesson 06: price multiple x speed-up = standard batch / fast batch."""
    sheet = ps.price_sheet(usd_per_gpu_hour=2.0)
    speedup = sheet.tpot / sheet.fast_tpot
    assert speedup >= sheet.assumptions.fast_speedup * (1 - 1e-9)
    assert 0 < sheet.fast_batch < sheet.batch
    multiple = sheet.fast_output / sheet.output
    assert multiple * speedup == pytest.approx(sheet.batch / sheet.fast_batch, rel=1e-9)
    assert sheet.fast_input == sheet.input  # a decode tier: prefill costs the same


def test_an_unreachable_fast_tier_is_nan_not_a_guess():
    sheet = ps.price_sheet(model="llama-3.1-8b", chips=1, usd_per_gpu_hour=2.0, fast_speedup=50)
    assert sheet.fast_batch == 0 and math.isnan(sheet.fast_output)


def test_batch_tier_and_long_context():
    sheet = ps.price_sheet(usd_per_gpu_hour=2.0)
    a = sheet.assumptions
    assert sheet.batch_input == pytest.approx(sheet.input * a.utilisation / a.overnight_utilisation)
    assert sheet.batch_output < sheet.output and sheet.overnight_batch >= sheet.batch
    assert sheet.long_output > sheet.output and sheet.long_input > sheet.input
    assert sheet.long_batch < sheet.batch  # memory caps the batch at long context
    longer = ps.price_sheet(usd_per_gpu_hour=2.0, long_context=800_000)
    assert longer.long_output > sheet.long_output
    # the long-context step is priced against the top of the standard tier (like-for-like)
    assert sheet.threshold_output > sheet.output
    assert sheet.ratios["long output / output"] == pytest.approx(sheet.long_output / sheet.threshold_output)
    assert 1 < sheet.ratios["long output / output"] < sheet.long_output / sheet.output


def test_published_ratios_match_the_price_table():
    rows = ps.published_ratios()
    opus = {r["ratio"]: r["value"] for r in rows if r["model"] == "Claude Opus 4.6"}
    assert opus["output / input"] == pytest.approx(25 / 5)
    assert opus["cached / input"] == pytest.approx(0.5 / 5)
    assert opus["fast output / output"] == pytest.approx(150 / 25)
    assert opus["batch output / output"] == pytest.approx(12.5 / 25)
    assert opus["long input / input"] == pytest.approx(10 / 5)
    assert opus["long output / output"] == pytest.approx(37.5 / 25)
    assert {r["ratio"] for r in rows} == set(ps.RATIOS)
    assert all(r["date"] for r in rows)
    sheet = ps.published_sheet("DeepSeek", "deepseek-chat (DeepSeek-V3)")
    assert sheet["output"] == 1.1 and sheet["batch output / output"] == pytest.approx(0.5)
    assert math.isnan(sheet["fast output / output"])


def test_comparison_has_every_ratio_with_a_published_range():
    rows = ps.compare_with_published(ps.price_sheet(usd_per_gpu_hour=2.0))
    assert [r["ratio"] for r in rows] == list(ps.RATIOS)
    for r in rows:
        assert r["sheets"] > 0 and r["published_low"] <= r["published_median"] <= r["published_high"]


def test_assumption_table_lists_every_business_choice():
    rows = ps.ProviderAssumptions().table()
    names = {r["assumption"] for r in rows}
    assert {"price per chip-hour", "utilisation", "margin", "batch policy", "latency target",
            "overnight utilisation", "typical context", "long context", "fast tier"} <= names
    assert all(r["value"] and r["source"] for r in rows)


def test_deepseek_report_is_self_consistent():
    report = ps.serving_report("DeepSeek")
    assert report["cost_per_day"] == pytest.approx(
        report["average_nodes"] * report["gpus_per_node"] * 24 * report["usd_per_gpu_hour"])
    assert report["theoretical_revenue_per_day"] / report["cost_per_day"] == pytest.approx(6.45, abs=0.01)


@pytest.mark.parametrize("changes, word", [
    (dict(utilisation=0), "utilisation"), (dict(utilisation=1.5), "utilisation"),
    (dict(margin=1.0), "margin"), (dict(margin=-0.1), "margin"),
    (dict(chips=0), "chips"), (dict(chips=2.5), "chips"), (dict(batch=0), "batch"),
    (dict(usd_per_gpu_hour=-1), "usd_per_gpu_hour"), (dict(max_tpot=0), "max_tpot"),
    (dict(long_context=1000), "long_context"), (dict(long_threshold=500_000), "long_threshold"), (dict(fast_speedup=0.5), "fast_speedup"),
    (dict(overnight_utilisation=0.2), "overnight_utilisation"),
    (dict(model="llama-3.1-405b", chips=1), "fits"), (dict(model="no-such-model"), "no-such-model"),
    (dict(hardware="A100-80GB", compute_dtype="fp8"), "fp8"),
])
def test_bad_input_raises_a_clear_value_error(changes, word):
    with pytest.raises(ValueError, match=word):
        ps.price_sheet(**changes)


def test_other_bad_input():
    with pytest.raises(ValueError, match="margin"):
        ps.price_from_cost(1.0, 0.5, 1.0)
    with pytest.raises(ValueError, match="utilisation"):
        ps.price_from_cost(1.0, 0.0, 0.5)
    with pytest.raises(ValueError, match="PriceSheet"):
        ps.compare_with_published({"output": 1})
    with pytest.raises(ValueError, match="no standard price"):
        ps.published_sheet("Nobody", "nothing")
    with pytest.raises(ValueError, match="serving report"):
        ps.serving_report("Nobody")


def test_assumptions_table_says_when_the_long_context_is_beyond_the_window():
    def long_row(assumptions):
        return next(r for r in assumptions.table() if r["assumption"] == "long context")["meaning"]
    assert "131,072-token window" in long_row(ps.ProviderAssumptions())  # 400k on llama-3.1-70b
    assert "window" not in long_row(ps.ProviderAssumptions(long_context=100_000, long_threshold=50_000))
