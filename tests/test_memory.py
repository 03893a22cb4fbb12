"""The memory catalogue (data/memory.csv) and the lesson-04 functions built on it."""
import dataclasses
import re

import numpy as np
import pytest

import inferlab as il
from inferlab import bandwidth as bw
from inferlab import memory as mem
from inferlab import reference


def test_every_row_has_a_source_and_a_confidence():
    for name in mem.list_memory():
        tech = mem.get_memory(name)
        assert tech.source and tech.confidence in ("primary", "secondary", "derived", "low")


def test_loader_is_si():
    ddr5 = mem.get_memory("ddr5")  # alias
    assert ddr5.name == "DDR5-4800 channel"
    assert ddr5.bandwidth == pytest.approx(38.4e9)          # 4800 MT/s x 8 bytes
    assert ddr5.capacity_bytes == pytest.approx(128e9)
    assert ddr5.usd_per_byte == pytest.approx(2.4e-9)
    gddr6 = mem.get_memory("GDDR6")
    assert gddr6.energy_per_bit == pytest.approx(7.5e-12)
    assert gddr6.joules_per_byte == pytest.approx(60e-12)
    assert mem.get_memory("PCIe Gen5 x16").capacity_bytes is None


def test_bandwidth_is_pin_rate_times_width_where_both_are_given():
    for name in mem.list_memory():
        tech = mem.get_memory(name)
        if tech.data_rate_per_pin and tech.width_bits and tech.kind == "memory":
            peak = tech.data_rate_per_pin * tech.width_bits / 8
            assert tech.bandwidth == pytest.approx(peak, rel=0.03), name  # HBM3e: ">1.2 TB/s"


def test_catalogue_is_frozen_and_filters_by_kind():
    tech = mem.get_memory("HBM3")
    with pytest.raises(dataclasses.FrozenInstanceError):
        tech.bandwidth = 1.0
    assert set(mem.list_memory("link")) == {"PCIe Gen4 x16", "PCIe Gen5 x16",
                                             "NVLink 4 (per GPU)", "NVLink 5 (per GPU)"}
    assert "HBM3e stack" in mem.list_memory("memory")


def test_memory_system_adds_units_up():
    system = mem.memory_system("DDR5-4800 channel", 8)
    assert system.memory_bandwidth == pytest.approx(8 * 38.4e9)
    assert system.memory_bytes == pytest.approx(8 * 128e9)
    bigger = mem.memory_system("DDR5-4800 channel", 8, capacity_bytes=2e12)
    assert bigger.memory_bandwidth == system.memory_bandwidth and bigger.memory_bytes == 2e12
    borrowed = mem.memory_system("HBM3", 5, compute_like="H100-SXM")
    assert borrowed.peak_flops("bf16") == il.get_hardware("H100-SXM").peak_flops("bf16")


def test_what_if_ddr5_against_hand_computation():
    model = il.get_model("llama-3.1-70b")
    by_hand = model.weight_params_read(1) * 2 / (8 * 38.4e9)
    floor = il.latency_floor(model, mem.memory_system("DDR5-4800 channel", 8))
    assert floor == pytest.approx(by_hand)
    assert 0.44 < floor < 0.46  # ~141 GB / 307 GB/s
    hbm = il.latency_floor(model, "H200")
    assert floor / hbm == pytest.approx(4.8e12 / 307.2e9)  # the bandwidth ratio, 15.6x


def test_offload_step_by_hand_and_limits():
    w, hbm, link = 16e9, 3.0e12, 52e9
    assert bw.offload_step_seconds(w, 0.0, hbm, link) == pytest.approx(w / hbm)
    assert bw.offload_step_seconds(w, 1.0, hbm, link) == pytest.approx(w / link)
    # 10% over the link: 14.4e9/3e12 + 1.6e9/52e9 = 4.8 ms + 30.77 ms
    assert bw.offload_step_seconds(w, 0.1, hbm, link) == pytest.approx(4.8e-3 + 1.6e9 / 52e9)
    fractions = np.linspace(0, 1, 11)
    times = bw.offload_step_seconds(w, fractions, hbm, link)
    assert times.shape == (11,) and np.all(np.diff(times) > 0)
    # broadcasting: fractions x links
    grid = bw.offload_step_seconds(w, fractions[:, None], hbm, np.array([32e9, 52e9, 450e9]))
    assert grid.shape == (11, 3) and np.all(grid[:, 0] >= grid[:, 2])


def test_offload_budget_gives_the_asked_slowdown():
    hbm, link = 3.0e12, 52e9
    for slowdown in (1.0, 1.5, 2.0, 5.0):
        f = bw.offload_fraction_for_slowdown(slowdown, hbm, link)
        assert bw.offload_step_seconds(1e9, f, hbm, link) == pytest.approx(slowdown * 1e9 / hbm)
    assert bw.offload_fraction_for_slowdown(2.0, hbm, link) == pytest.approx(52 / (3000 - 52))
    assert bw.offload_fraction_for_slowdown(2.0, hbm, hbm) == 1.0  # a link as fast as memory
    assert bw.offload_fraction_for_slowdown(1e6, hbm, link) == 1.0


def test_batch_that_fits_by_hand():
    model = il.get_model("llama-3.1-70b")
    capacity = 141e9
    room = capacity - model.total_params * 1
    by_hand = int(room // (8192 * model.kv_bytes_per_token(2)))
    assert bw.batch_that_fits(model, capacity, 8192, weight_bytes=1) == by_hand
    assert bw.batch_that_fits(model, 80e9, 8192, weight_bytes=2) == 0  # weights do not fit
    many = bw.batch_that_fits(model, capacity, np.array([1024, 8192, 65536]), weight_bytes=1)
    assert list(many) == sorted(many, reverse=True)


def test_largest_model_that_fits():
    assert bw.largest_model_that_fits(1e12) == "llama-3.1-405b"  # 812 GB in bf16
    assert bw.largest_model_that_fits(1e12, weight_bytes=1) == "deepseek-v3"  # 671 GB in fp8
    assert bw.largest_model_that_fits(1e9) is None
    small = bw.largest_model_that_fits(80e9)
    assert il.get_model(small).total_params * 2 <= 80e9


def test_full_memory_throughput_matches_its_closed_form():
    chip = mem.memory_system("DDR5-4800 channel", 8, capacity_bytes=1024e9, compute_like="H100-SXM")
    model = il.get_model("llama-3.1-70b")
    rate = bw.tokens_per_second_at_full_memory(model, chip, 8192, weight_bytes=1)
    batch = bw.batch_that_fits(model, chip.memory_bytes, 8192, weight_bytes=1)
    step = il.decode_step(model, chip, batch, 8192, weight_bytes=1)
    assert rate == pytest.approx(batch / step.seconds)
    approx = (1 - model.total_params / chip.memory_bytes) * chip.memory_bandwidth / (
        8192 * model.kv_bytes_per_token(2))
    assert rate == pytest.approx(approx, rel=0.02)
    # 70.6e9 fp8 weights leave 15.0e9 of the H100's 85.5e9 usable bytes: less than one
    # 65,536-token sequence (21.5e9 bytes of bf16 KV)
    assert bw.tokens_per_second_at_full_memory(model, "H100-SXM", 65536, weight_bytes=1) == 0.0


def test_measured_speedup_tells_bandwidth_from_flops():
    data = bw.measured_speedup()
    small = (data["batch"] <= 64) & (data["context"] <= 1024)
    large = data["batch"] >= 384
    assert np.all((data["speedup"][small] > 1.2) & (data["speedup"][small] < 1.45))
    assert np.all(np.abs(data["speedup"][large] - 1.0) < 0.06)
    ratio = reference.measured_bandwidth("h200") / reference.measured_bandwidth("h100")
    assert bw.predicted_speedup(1, 128) == pytest.approx(ratio, rel=0.01)
    assert bw.predicted_speedup(1024, 128) == pytest.approx(1.0, abs=0.02)
    assert bw.predicted_speedup(1, 128, measured=False) == pytest.approx(4.8 / 3.35, rel=0.01)


def test_generation_table_rows():
    table = bw.generation_table()
    assert [r["chip"] for r in table.rows] == ["A100-80GB", "H100-SXM", "H200", "B200"]
    assert table.rows[2]["bf16 TFLOP/s (x)"] == table.rows[1]["bf16 TFLOP/s (x)"] == "989 (3.17)"  # 989 / 312
    assert table.rows[2]["TB/s (x)"] == "4.8 (2.35)"                                  # 4.8 / 2.039


@pytest.mark.parametrize("call, argument", [
    (lambda: mem.get_memory("DDR9"), 'DDR9'),
    (lambda: mem.get_memory(3), 'name must be a string'),
    (lambda: mem.list_memory("disk"), 'kind'),
    (lambda: mem.memory_system("PCIe Gen5 x16", 1), 'link, not a memory'),
    (lambda: mem.memory_system("DDR5", 0), 'count'),
    (lambda: mem.memory_system("DDR5", 2.5), 'count'),
    (lambda: mem.memory_system("DDR5", 8, capacity_bytes=-1), 'capacity_bytes'),
    (lambda: mem.MemoryTech("x", "cache", "x", "x", 1.0), 'kind'),
    (lambda: mem.MemoryTech("x", "memory", "x", "x", -1.0), 'bandwidth'),
    (lambda: bw.offload_step_seconds(16e9, 1.5, 3e12, 52e9), 'offload_fraction'),
    (lambda: bw.offload_step_seconds(16e9, -0.1, 3e12, 52e9), 'offload_fraction'),
    (lambda: bw.offload_step_seconds(16e9, 0.5, 0, 52e9), 'device_bandwidth'),
    (lambda: bw.offload_step_seconds("16 GB", 0.5, 3e12, 52e9), 'weight_bytes'),
    (lambda: bw.offload_fraction_for_slowdown(0.5, 3e12, 52e9), 'slowdown'),
    (lambda: bw.batch_that_fits("llama-3.1-8b", 80e9, 0), 'context'),
    (lambda: bw.batch_that_fits("llama-3.1-8b", -1, 1024), 'capacity_bytes'),
    (lambda: bw.largest_model_that_fits(np.array([1e9, 2e9])), 'capacity_bytes'),
    (lambda: bw.largest_model_that_fits(0), 'capacity_bytes'),
])
def test_bad_input_raises_value_error(call, argument):
    with pytest.raises(ValueError, match=re.escape(argument)):
        call()
