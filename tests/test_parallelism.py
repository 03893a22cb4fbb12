"""Pipeline, tensor and expert parallelism: hand-computed cases, invariants, bad input."""
import math
import re

import numpy as np
import pytest

from inferlab import get_model, parallelism as par
from inferlab.kv import free_memory_bytes
from inferlab.roofline import chips_to_hold, decode_step


# --- links and collectives ----------------------------------------------------------------
def test_link_bandwidth_comes_from_the_memory_catalogue():
    assert par.link_bandwidth("NVLink 4") == pytest.approx(450e9)  # 900 GB/s both ways
    assert par.link_bandwidth("PCIe Gen5") == pytest.approx(63e9)
    assert par.link_bandwidth(100e9) == 100e9


def test_every_latency_row_names_a_catalogue_link_and_has_a_source():
    for entry in par.link_latencies():
        assert par.link_bandwidth(entry.link) > 0
        assert entry.low <= entry.seconds <= entry.high
        assert "http" in entry.source


def test_ring_all_reduce_volume():
    assert par.ring_all_reduce_bytes(800, 1) == 0
    assert par.ring_all_reduce_bytes(800, 2) == pytest.approx(800)       # 2 x 1/2
    assert par.ring_all_reduce_bytes(800, 8) == pytest.approx(1400)      # 2 x 7/8


def test_all_reduce_matches_a_hand_computed_case():
    # 32 tokens x 8192 values x 2 bytes = 524 288 bytes over 8 chips on NVLink 4:
    # 10 us + 2 x 7/8 x 524288 / 450e9 = 10 us + 2.039 us
    seconds = par.all_reduce_seconds(32 * 8192 * 2, 8, "NVLink 4")
    assert seconds == pytest.approx(10e-6 + 1.75 * 524288 / 450e9)
    assert par.all_reduce_seconds(1e6, 1, "NVLink 4") == 0.0
    assert par.all_reduce_seconds(1e6, 4, 100e9, latency=0) == pytest.approx(1.5e6 / 100e9)


def test_tensor_parallel_latency_matches_a_hand_computed_case():
    # llama-3.1-70b, batch 1, TP = 4 on H100 over NVLink 4 with 10 us per all-reduce:
    # compute = one-chip roofline step / 4; comm = 80 layers x 2 all-reduces x
    # (10 us + 2 x 3/4 x 8192 x 2 bytes / 450e9).
    model = get_model("llama-3.1-70b")
    one_chip = decode_step(model, "H100-SXM", 1, 1024).seconds
    comm = 80 * 2 * (10e-6 + 1.5 * 8192 * 2 / 450e9)
    step = par.parallel_decode(model, "H100-SXM", 1, 1024, tensor_parallel=4, link="NVLink 4")
    assert step.compute_seconds == pytest.approx(one_chip / 4)
    assert step.all_reduce_seconds == pytest.approx(comm)
    assert step.token_seconds == pytest.approx(one_chip / 4 + comm)
    assert step.chips == 4 and step.hop_seconds == 0


# --- pipeline -----------------------------------------------------------------------------
@pytest.mark.parametrize("model", ["llama-3.1-8b", "llama-3.1-70b", "llama-3.1-405b", "deepseek-v3"])
@pytest.mark.parametrize("link", ["NVLink 4", "PCIe Gen4"])
@pytest.mark.parametrize("micro_batch", [1, 16, 256])
@pytest.mark.parametrize("tensor_parallel", [1, 4])
def test_per_token_latency_never_falls_as_stages_are_added(model, link, micro_batch, tensor_parallel):
    stages = np.arange(1, get_model(model).layers + 1)
    step = par.parallel_decode(model, "H100-SXM", micro_batch, 2048, stages=stages,
                               tensor_parallel=tensor_parallel, link=link)
    latency = step.token_seconds
    assert np.all(np.diff(latency) >= 0)
    # and it never beats the same micro-batch on the tensor-parallel group alone
    alone = par.parallel_decode(model, "H100-SXM", micro_batch, 2048,
                                tensor_parallel=tensor_parallel, link=link).token_seconds
    assert np.all(latency >= alone * (1 - 1e-12))


def test_with_micro_batches_in_flight_latency_still_never_beats_one_stage():
    for micro_batches in (1, 2, 4, 8):
        stages = np.arange(micro_batches, 33)
        step = par.parallel_decode("llama-3.1-70b", "H100-SXM", 4, 1024, stages=stages,
                                   micro_batches=micro_batches)
        alone = par.parallel_decode("llama-3.1-70b", "H100-SXM", 4, 1024).token_seconds
        assert np.all(step.token_seconds >= alone)


def test_pipeline_latency_is_the_one_chip_step_plus_hops():
    # every layer still runs in turn, plus a hop per stage boundary
    step = par.parallel_decode("llama-3.1-8b", "H100-SXM", 1, 1024, stages=4, link="NVLink 4")
    one_chip = decode_step("llama-3.1-8b", "H100-SXM", 1, 1024).seconds
    hop = 10e-6 + 4096 * 2 / 450e9
    assert step.token_seconds == pytest.approx(one_chip + 3 * hop)


def test_micro_batches_fill_the_bubble():
    idle = par.parallel_decode("llama-3.1-70b", "H100-SXM", 8, 1024, stages=4, micro_batches=1)
    full = par.parallel_decode("llama-3.1-70b", "H100-SXM", 8, 1024, stages=4, micro_batches=4)
    assert idle.busy_fraction == pytest.approx(0.25, rel=0.01)   # one stage of four at a time
    assert full.busy_fraction == pytest.approx(1.0, rel=0.01)
    assert full.tokens_per_second == pytest.approx(4 * idle.tokens_per_second, rel=0.01)
    assert full.token_seconds == pytest.approx(idle.token_seconds, rel=0.01)


def test_timeline_agrees_with_the_formula():
    for stages, micro_batches in ((1, 1), (4, 1), (4, 4), (5, 3), (3, 6), (8, 8)):
        step = par.parallel_decode("llama-3.1-70b", "H100-SXM", 8, 1024, stages=stages,
                                   micro_batches=micro_batches, link="PCIe Gen5")
        timeline = step.timeline(rounds=4)
        assert timeline.token_seconds() == pytest.approx(step.token_seconds, rel=1e-9)
        assert timeline.start.shape == (4, micro_batches, stages)
        # a stage never works on two micro-batches at once
        for s in range(stages):
            order = np.argsort(timeline.start[:, :, s], axis=None)
            starts = timeline.start[:, :, s].ravel()[order]
            ends = timeline.end[:, :, s].ravel()[order]
            assert np.all(starts[1:] >= ends[:-1] - 1e-15)


def test_timeline_of_a_hand_made_pipeline():
    timeline = par.pipeline_timeline([1.0, 2.0], micro_batches=1, hop_seconds=0.5, rounds=2)
    assert timeline.start[0, 0].tolist() == [0.0, 1.5]
    assert timeline.end[1, 0].tolist() == [4.5, 7.0]
    assert timeline.token_seconds() == pytest.approx(3.5)


# --- capacity -----------------------------------------------------------------------------
def test_chips_to_serve_matches_chips_to_hold_without_kv():
    for model in ("llama-3.1-8b", "llama-3.1-70b", "llama-3.1-405b", "deepseek-v3"):
        for size in (2, 1, 0.5):
            assert par.chips_to_serve(model, "H100-SXM", weight_bytes=size) == \
                chips_to_hold(model, "H100-SXM", weight_bytes=size)


def test_405b_needs_10_h100s_in_bf16_and_5_in_fp8():
    params = get_model("llama-3.1-405b").total_params
    usable = 81_559 * 2**20  # nvidia-smi's total, not the vendor's 80 GB
    assert par.chips_to_serve("llama-3.1-405b", "H100-SXM") == math.ceil(params * 2 / usable) == 10
    assert par.chips_to_serve("llama-3.1-405b", "H100-SXM", weight_bytes=1) == 5  # 405.8e9 / 85.5e9


def test_chips_needed_grows_with_model_bytes():
    sizes = np.linspace(0, 5e12, 400)
    chips = par.chips_to_serve("llama-3.1-70b", "H100-SXM", kv_budget_bytes=sizes)
    assert np.all(np.diff(chips) >= 0) and chips[-1] > chips[0]
    by_model = [par.chips_to_serve(m, "H100-SXM") for m in
                sorted(["llama-3.1-8b", "llama-3.1-70b", "llama-3.1-405b", "deepseek-v3"],
                       key=lambda m: get_model(m).total_params)]
    assert by_model == sorted(by_model)
    by_precision = [par.chips_to_serve("deepseek-v3", "H100-SXM", weight_bytes=b) for b in (0.5, 1, 2)]
    assert by_precision == sorted(by_precision)


def test_chips_to_serve_is_the_fewest_that_leave_the_kv_budget():
    budget = 300e9
    n = par.chips_to_serve("llama-3.1-70b", "H100-SXM", kv_budget_bytes=budget, memory_fraction=0.9)
    assert free_memory_bytes("llama-3.1-70b", "H100-SXM", chips=n, memory_fraction=0.9) >= budget
    assert free_memory_bytes("llama-3.1-70b", "H100-SXM", chips=n - 1, memory_fraction=0.9) < budget


def test_fits_and_memory_per_chip():
    one = par.parallel_decode("llama-3.1-405b", "H100-SXM", 1, 1024)
    eight = par.parallel_decode("llama-3.1-405b", "H100-SXM", 1, 1024, stages=2, tensor_parallel=8)
    assert not one.fits and eight.fits
    assert eight.memory_per_chip == pytest.approx(one.memory_per_chip / 16)


# --- tensor parallelism's limit ----------------------------------------------------------
def test_tensor_parallel_cuts_latency_until_the_link_dominates():
    degrees = np.array([1, 2, 4, 8])
    nvlink = par.parallel_decode("llama-3.1-70b", "H100-SXM", 1, 1024, tensor_parallel=degrees)
    assert np.all(np.diff(nvlink.token_seconds) < 0)
    pcie = par.communication_dominates_at("llama-3.1-70b", "H100-SXM", link="PCIe Gen5")
    fast = par.communication_dominates_at("llama-3.1-70b", "H100-SXM", link="NVLink 4")
    assert pcie < fast
    at = par.parallel_decode("llama-3.1-70b", "H100-SXM", 1, 1024, tensor_parallel=[pcie - 1, pcie],
                             link="PCIe Gen5")
    assert at.all_reduce_seconds[0] < at.compute_seconds[0]
    assert at.all_reduce_seconds[1] >= at.compute_seconds[1]


def test_tp8_beats_pp8_for_405b():
    pp = par.parallel_decode("llama-3.1-405b", "H100-SXM", 1, 1024, stages=8, weight_bytes=1)
    tp = par.parallel_decode("llama-3.1-405b", "H100-SXM", 1, 1024, tensor_parallel=8, weight_bytes=1)
    assert pp.chips == tp.chips == 8
    assert pp.token_seconds > 5 * tp.token_seconds


# --- experts ------------------------------------------------------------------------------
def test_expert_counts():
    v3 = get_model("deepseek-v3")
    assert par.tokens_per_expert(v3, 8192) == pytest.approx(256)
    assert par.batch_for_tokens_per_expert(v3, 256) == pytest.approx(8192)
    assert par.experts_per_chip(v3, 32) == 8


# --- bad input ----------------------------------------------------------------------------
@pytest.mark.parametrize("call, argument", [
    (lambda: par.parallel_decode("llama-3.1-70b", "H100-SXM", 1, 1024, stages=0), 'stages'),
    (lambda: par.parallel_decode("llama-3.1-70b", "H100-SXM", 1, 1024, stages=81), 'stages'),
    (lambda: par.parallel_decode("llama-3.1-70b", "H100-SXM", 1, 1024, tensor_parallel=2.5), 'tensor_parallel'),
    (lambda: par.parallel_decode("llama-3.1-70b", "H100-SXM", 0, 1024), 'micro_batch'),
    (lambda: par.parallel_decode("llama-3.1-70b", "H100-SXM", 1, 1024, micro_batches=-1), 'micro_batches'),
    (lambda: par.parallel_decode("llama-3.1-70b", "H100-SXM", 1, 1024, link="HBM3"), 'link'),
    (lambda: par.parallel_decode("llama-3.1-70b", "H100-SXM", 1, 1024, link="NVLink 5", tensor_parallel=2), 'NVLink 5'),
    (lambda: par.all_reduce_seconds(-1, 2), 'message_bytes'),
    (lambda: par.all_reduce_seconds(1e6, 2, 100e9), 'latency'),          # a bare bandwidth has no latency
    (lambda: par.chips_to_serve("llama-3.1-70b", "H100-SXM", memory_fraction=1.5), 'memory_fraction'),
    (lambda: par.chips_to_serve("llama-3.1-70b", "H100-SXM", kv_budget_bytes=-1), 'kv_budget_bytes'),
    (lambda: par.pipeline_timeline([1.0, -2.0]), 'stage_seconds'),
    (lambda: par.tokens_per_expert("llama-3.1-70b", 64), 'dense'),
    (lambda: par.link_bandwidth("not a link"), 'not a link'),
])
def test_bad_input_raises_value_error(call, argument):
    with pytest.raises(ValueError, match=re.escape(argument)):
        call()
