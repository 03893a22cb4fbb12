"""Lessons 08-11: what their explorers and prose promise (issues 12, 13)."""
import json
import math
import re
from pathlib import Path

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

import inferlab as il  # noqa: E402
from inferlab import authoring, kv, schedule  # noqa: E402
from inferlab.economics import api_prices, gpu_hour_price  # noqa: E402
from inferlab.explorers import kv_cache, train_schedule  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


# --- lesson 08 -------------------------------------------------------------------------------
def test_llama_8b_at_1k_context_is_memory_bound_at_any_batch():
    """Lesson 08 once said the 1k-token curve 'reaches the knee': each sequence's own cache
    keeps the intensity below the ridge however large the batch."""
    h100 = il.get_hardware("H100-SXM")
    ridge = h100.peak_flops("bf16") / h100.memory_bandwidth
    wall = int(kv.max_batch("llama-3.1-8b", h100, 1024))
    for batch in (wall, 10**4, 10**7):
        step = il.decode_step("llama-3.1-8b", h100, batch, 1024)
        assert step.bound == "memory"
        assert step.intensity < 0.5 * ridge


def test_kv_explorer_adds_two_all_reduces_per_layer():
    """70B on 8 H100s, batch 6: 2 x 80 layers x (10 us + 2 x 7/8 x 6 x 8192 x 2 bytes / 450 GB/s)."""
    with_links, ideal = kv_cache.tensor_parallel_step("llama-3.1-70b", "H100-SXM", 6, 200_000, 8)
    one = 10e-6 + 2 * 7 / 8 * (6 * 8192 * 2) / 450e9
    assert with_links - ideal == pytest.approx(2 * 80 * one, rel=1e-6)
    assert ideal == pytest.approx(float(il.decode_step("llama-3.1-70b", "H100-SXM", 6, 200_000, chips=8).seconds))
    alone, ideal_alone = kv_cache.tensor_parallel_step("llama-3.1-70b", "H100-SXM", 6, 200_000, 1)
    assert alone == ideal_alone


def test_fewest_chips_by_hand_where_the_heads_split_evenly():
    """llama-3.1-70b, one 400k-token sequence: (141 GB of weights + 131 GB of cache) over one
    H100's memory, rounded up, is 4 chips; 4 divides its 8 KV heads, so tensor parallelism
    splits the cache evenly and pooled memory is the right count."""
    model, chip = il.get_model("llama-3.1-70b"), il.get_hardware("H100-SXM")
    by_hand = math.ceil((model.total_params * 2 + 400_000 * model.kv_bytes_per_token(2)) / chip.memory_bytes)
    assert by_hand == 4 and model.kv_heads % by_hand == 0
    assert kv_cache._fewest_chips("llama-3.1-70b", "H100-SXM", 400_000) == by_hand


def test_kv_explorer_names_the_fewest_chips_and_the_slider_reaches_it():
    """'Fewest H100s for a 1M-token 405B' must not come out as a power of two by construction."""
    explorer = kv_cache.KVMapExplorer()
    explorer.widget()
    chips = explorer._controls["chips"]
    fewest = kv_cache._fewest_chips("llama-3.1-405b", "H100-SXM", 1_048_576)
    assert fewest is not None
    assert chips.min == 1 and chips.step == 1 and chips.max >= fewest
    settings = dict(model="llama-3.1-405b", hardware="H100-SXM", weights="bf16", kv_cache="bf16",
                    context=1_048_576, batch=1)
    for name, value in {**settings, "chips": fewest}.items():
        explorer._controls[name].value = value
    assert f"<b>{fewest:,}</b>" in explorer._summary.value
    assert "fits (up to" in explorer._summary.value
    explorer._controls["chips"].value = fewest - 1
    assert "not one sequence" in explorer._summary.value


def test_kv_explorer_says_why_many_chips_need_more_cache_bytes():
    """Llama 3.1 70B has 8 KV heads: on 64 chips each head is held by 64 / 8 = 8 chips, so the
    cache of 6 sequences of 200k tokens takes 8x its 6 x 200,000 x 327,680 bytes; on 8 chips
    nothing is copied and the summary says nothing about it."""
    explorer = kv_cache.KVMapExplorer()
    explorer.widget()
    explorer._controls["chips"].value = 64
    assert "the cache takes 8x its bytes, as 64 chips share 8 KV heads" in explorer._summary.value
    explorer._controls["chips"].value = 8
    assert "cache takes" not in explorer._summary.value


def test_kv_explorer_context_and_batch_controls_are_logarithmic():
    for stops in (kv_cache.CONTEXT_STOPS, kv_cache.BATCH_STOPS):
        ratios = np.diff(np.log2(stops))
        assert stops[-1] / stops[0] >= 1000
        assert ratios.min() > 0 and ratios.max() <= 1.0 + 1e-9  # at most a doubling per stop
    assert 200_000 in kv_cache.CONTEXT_STOPS and 400_000 in kv_cache.CONTEXT_STOPS


# --- lesson 09 -------------------------------------------------------------------------------
def _boarding(rate, interval, seats=64):
    requests = schedule.make_requests(rate, 20_000, seed=1)
    return schedule.simulate_fixed_interval(requests, interval, seats)


def test_a_shorter_interval_costs_more_per_token_at_the_same_load():
    """The key point of lesson 09, in the explorer's own cost: 2400 requests/s, 64 seats."""
    slow = train_schedule.steps_cost(_boarding(2400, 0.020), usd_per_gpu_hour=2.0)
    fast = train_schedule.steps_cost(_boarding(2400, 0.010), usd_per_gpu_hour=2.0)
    assert fast[1] == pytest.approx(slow[1] / 2, rel=0.05)  # half the sequences per step
    assert fast[0] > 1.3 * slow[0]


def test_steps_cost_is_the_roofline_step_over_the_sequences_it_carries():
    result = _boarding(2400, 0.020)
    cost, batch, step, full = train_schedule.steps_cost(result, usd_per_gpu_hour=2.0)
    assert batch == pytest.approx(result.utilisation * 64)
    whole = int(batch)
    low = float(il.decode_step("llama-3.1-8b", "H100-SXM", whole, 1024).seconds)
    high = float(il.decode_step("llama-3.1-8b", "H100-SXM", whole + 1, 1024).seconds)
    assert low <= step <= high
    assert cost == pytest.approx(2.0 / 3600 * step / batch * 1e6)
    assert full == pytest.approx(float(il.decode_step("llama-3.1-8b", "H100-SXM", 64, 1024).seconds))


def test_ttft_histogram_axis_fits_the_data():
    explorer = train_schedule.TrainScheduleExplorer()
    explorer.widget()
    explorer._controls["rate"].value = 2000.0  # build the live figure
    low, high = explorer._left.get_xlim()
    assert high / low <= 1000  # not 1 ms to 100 s for a 20-40 ms distribution
    p50 = float(re.search(r"p50 <b>([\d.]+) ms", explorer._summary.value).group(1))
    assert low <= p50 <= high


def test_boarding_only_summary_counts_tokens_not_seats():
    explorer = train_schedule.TrainScheduleExplorer()
    explorer.widget()
    explorer._controls["rate"].value = 2000.0
    summary = explorer._summary.value
    assert "per million tokens" in summary and "of them" not in summary
    assert "300 tokens on average" not in summary


# --- lesson 11 -------------------------------------------------------------------------------
def test_off_peak_discounts_are_not_one_round_number():
    """DeepSeek, Feb 2025: V3 at 50 % off-peak, R1 at 25 % (0.55 of 2.19 USD output)."""
    rows = {(p.model, p.tier): p for p in api_prices() if p.provider == "DeepSeek"}
    r1 = rows[("deepseek-reasoner (DeepSeek-R1)", "off-peak")]
    r1_standard = rows[("deepseek-reasoner (DeepSeek-R1)", "standard")]
    v3 = rows[("deepseek-chat (DeepSeek-V3)", "off-peak")]
    v3_standard = rows[("deepseek-chat (DeepSeek-V3)", "standard")]
    assert r1.output / r1_standard.output == pytest.approx(0.55 / 2.19)
    assert v3.output / v3_standard.output == pytest.approx(0.5)


# --- all four: exercises independent ---------------------------------------------------------
@pytest.mark.parametrize("name", ["08_kv_cache", "09_train_schedule", "10_pipeline_parallelism",
                                  "11_capstone_price_sheet"])
def test_no_later_cell_uses_a_name_an_exercise_defines(name):
    cells = json.loads((ROOT / "solutions" / f"{name}.ipynb").read_text())["cells"]
    for i, cell in enumerate(cells):
        source = "".join(cell["source"])
        if cell["cell_type"] != "code" or "check(" not in source:
            continue
        for later in cells[i + 1:]:
            if later["cell_type"] != "code":
                continue
            code = re.sub(r"#.*", "", "".join(later["source"]))
            for defined in authoring._assigned_names(source):
                assert not re.search(rf"(?<![\w.]){re.escape(defined)}\b", code), (name, defined)
