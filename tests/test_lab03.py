"""Lessons 01-03: the lab's measuring on small machines, the course's three ridge numbers,
and the lesson 01/02 explorers (issues 12 and 13)."""
import math
import resource
import subprocess
import sys

import numpy as np
import pytest

from inferlab import get_hardware, get_model, measure, reference
from inferlab.explorers.latency_floor import FloorExplorer
from inferlab.explorers.roofline import RooflineExplorer, operation_cost, sweep_hardware
from inferlab.roofline_fit import knee_rows

MiB = 2 ** 20


# --- cores, BLAS threads, sizes --------------------------------------------------------
@pytest.mark.parametrize("files, cpus", [
    ({"cpu.max": "150000 100000\n"}, 1.5),                      # cgroup v2: 1.5 CPUs
    ({"cpu.max": "max 100000\n"}, math.inf),                    # v2, no quota
    ({"cpu/cpu.cfs_quota_us": "200000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 2.0),  # v1
    ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, math.inf),
    ({"cpu.max": "20000 100000\n"}, 1.0),                       # a fifth of a CPU: still one
    ({}, math.inf),
])
def test_cgroup_quota_is_read(tmp_path, files, cpus):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert measure._cgroup_cpu_limit(str(tmp_path)) == cpus


def test_usable_cores_is_capped_by_the_quota(monkeypatch):
    monkeypatch.setattr(measure.os, "sched_getaffinity", lambda pid: set(range(16)), raising=False)
    monkeypatch.setattr(measure, "_cgroup_cpu_limit", lambda: 1.5)
    assert measure.usable_cores() == 2           # 16 visible, 1.5 CPUs allowed: 2 threads
    monkeypatch.setattr(measure, "_cgroup_cpu_limit", lambda: math.inf)
    assert measure.usable_cores() == 16


def test_single_threaded_blas_restores_the_thread_count():
    setters = measure._blas_thread_setters()
    before = [get() for _, get in setters]
    with measure.single_threaded_blas():
        assert all(get() == 1 for _, get in setters)
    assert [get() for _, get in setters] == before


def test_fastest_seconds_is_the_fastest_call():
    import time
    delays = iter([0.0, 0.03, 0.005, 0.03])  # warm-up, then three timed calls
    fastest = measure.fastest_seconds(lambda: time.sleep(next(delays)), repeats=3, warmup=1)
    assert 0.004 < fastest < 0.02


def test_full_mode_sizes_fit_a_small_notebook_server():
    assert measure.FULL["k"] * measure.FULL["n"] * 4 == 128 * MiB      # W of the sweep
    assert measure.default_array_bytes() <= 256 * MiB
    # (1024 x 3072 + 1024 x 1024 + 1024 x 4096 + 2048 x 1024) x 4 layers + 1024 x 16384, 4 bytes
    assert measure.default_stack(quick=False).weight_bytes == 58_720_256 * 4


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss is in kB on Linux")
def test_full_measurement_peaks_well_under_500_megabytes():
    code = ("import resource; from inferlab import measure; "
            "measure.measure_machine(quick=False, gpu=False, progress=False); "
            "measure.time_decode_step(quick=False, progress=False); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.split()[-1]) * 1024 < 450e6  # the issue saw 614 MB


def test_sweep_is_the_product_of_the_stored_layout():
    sweep = measure.gemm_sweep([1, 2, 5], k=96, n=40, repeats=2, progress=False)
    np.testing.assert_array_equal(sweep["M"], [1, 2, 5])
    assert sweep["bytes"][1] == (2 * 96 + 96 * 40 + 2 * 40) * 4
    assert np.all(sweep["seconds"] > 0)


def test_split_product_equals_the_plain_product():
    rng = np.random.default_rng(0)
    weights = rng.standard_normal((37, 16)).astype(np.float32)
    columns = rng.standard_normal((16, 3)).astype(np.float32)
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(3) as pool:
        out = measure._SplitProduct(weights, columns, parts=3)(pool)
    np.testing.assert_allclose(out, weights @ columns, rtol=1e-5)


def _measurement(cache_bytes):
    machine = measure.describe_machine()
    machine = measure.Machine(**{**machine.__dict__, "last_level_cache_bytes": cache_bytes})
    sweep = measure._sweep_result([1, 2], 8192, 4096, [0.01, 0.02], 4)
    from inferlab.roofline_fit import fit_sweep
    bandwidth = measure.Bandwidth(read=1e10, copy=1e10, read_one_thread=1e10, array_bytes=1, threads=1, repeats=1)
    return measure.Measurement(machine=machine, bandwidth=bandwidth, sweep=sweep, fit=fit_sweep(sweep),
                               quick=False, seconds=1.0)


def test_cache_warning_promises_nothing_false():
    assert _measurement(32 * MiB).cache_warning == ""        # W (128 MiB) is past the cache
    note = _measurement(256 * MiB).cache_warning
    assert "can beat" in note and "much slower" in note and "not by memory bandwidth" in note
    assert "expect the timed step to beat" not in note       # the false promise


# --- one story of ridges (issue 12) ------------------------------------------------------
def test_the_three_named_numbers_of_the_h100():
    spec = get_hardware("H100-SXM").ridge_point("bf16")
    assert spec == pytest.approx(989e12 / 3.35e12)             # the spec ridge, 295
    measured = reference.measured_roofline("h100")
    # best sweep rates: 786 TFLOP/s (M = 2048) over 2.244 TB/s (an M <= 64 product)
    assert measured.peak_flops == pytest.approx(786e12, rel=0.005)
    assert measured.bandwidth == pytest.approx(2.244e12, rel=0.005)
    assert measured.ridge == pytest.approx(350, abs=1.5) and measured.ridge > spec
    knee = reference.observed_knee("h100")
    assert knee == pytest.approx(386, abs=2)
    assert knee_rows(measured.ridge, 8192, 8192, 2) == pytest.approx(knee, rel=0.02)


def test_dashed_roof_ridge_lies_right_of_the_spec():
    chip = sweep_hardware("h100", "bf16")
    assert chip.ridge_point("bf16") == pytest.approx(reference.measured_roofline("h100").ridge)
    assert chip.ridge_point("bf16") > get_hardware("H100-SXM").ridge_point("bf16")
    # the GEMV's achieved bandwidth, not the 3.03 TB/s streaming read (which gave 259)
    assert chip.memory_bandwidth < reference.measured_bandwidth("h100")


def test_latent_attention_decode_intensity_by_hand():
    model = get_model("deepseek-v3")
    # absorbed MLA, per head and cached position: 2 x (512 + 64) for scores, 2 x 512 for values;
    # 128 heads share one (512 + 64)-number latent, 2 bytes each in bf16
    per_layer = 128 * (2 * (512 + 64) + 2 * 512) / ((512 + 64) * 2)
    intensity = model.decode_attention_flops_per_position / model.kv_bytes_per_token(2)
    assert intensity == pytest.approx(per_layer) and intensity == pytest.approx(241.8, abs=0.1)
    for chip in ("A100-80GB", "H200", "TPU-v5e"):
        assert intensity > get_hardware(chip).ridge_point("bf16")   # compute-bound there
    assert intensity < get_hardware("H100-SXM").ridge_point("bf16")


# --- explorers -------------------------------------------------------------------------
def test_roofline_explorer_warns_when_the_bytes_exceed_the_chip():
    explorer = RooflineExplorer()
    explorer.widget()
    assert "Warning" not in explorer._summary.value
    for name, value in {"hardware": "A100-40GB", "operation": "decode attention", "rows": 256,
                        "length": 131072}.items():
        explorer._controls[name].value = value
    cost = operation_cost("A100-40GB", "decode attention", "bf16", 256, length=131072)
    assert cost["bytes"] > get_hardware("A100-40GB").memory_bytes
    assert "Warning" in explorer._summary.value


def test_roofline_explorer_greys_out_what_does_not_apply_and_reads_plainly():
    explorer = RooflineExplorer()
    explorer.widget()
    assert explorer._controls["model"].disabled and not explorer._controls["k"].disabled
    explorer._controls["operation"].value = "prefill attention"
    assert explorer._controls["k"].disabled and not explorer._controls["length"].disabled
    explorer._controls["operation"].value = "matmul"
    explorer._controls["hardware"].value = "B200"
    explorer._controls["rows"].value = 16384
    import re
    assert not re.search(r"\de[+-]\d", explorer._summary.value), explorer._summary.value


@pytest.mark.parametrize("cls", [FloorExplorer, RooflineExplorer])
def test_things_to_try_are_reachable(cls):
    assert cls.things_to_try
    for _, settings in cls.things_to_try:
        explorer = cls()
        explorer.widget()
        for name, value in settings.items():
            explorer._controls[name].value = value
            assert explorer._controls[name].value == value, (name, value)
        assert "Cannot draw" not in explorer._summary.value


@pytest.mark.parametrize("cls", [FloorExplorer, RooflineExplorer])
def test_things_to_try_work_in_order_on_one_explorer(cls):
    # A learner works down the list in one explorer: what an earlier line set (fp8, a short
    # context) must not break a later one or change its verdict.
    import re
    explorer = cls()
    explorer.widget()
    for text, settings in cls.things_to_try:
        for name, value in settings.items():
            explorer._controls[name].value = value
        assert "Cannot draw" not in explorer._summary.value, (text, explorer._summary.value)
        fresh = cls()
        fresh.widget()
        for name, value in settings.items():
            fresh._controls[name].value = value
        verdict = re.compile(r"(?:memory|compute)-bound|Fits on one chip|Needs \d+ chips|Warning")
        assert verdict.findall(fresh._summary.value) == verdict.findall(explorer._summary.value), text


def test_latent_attention_thing_to_try_binds_on_compute_at_4096_and_memory_at_128():
    # 4,096 cached tokens: 278,528 FLOP per token over 1,152 bytes, plus 128 x (576 + 512) x 2
    # bytes of query and output: about 228 FLOP/byte > 206 (H200). At 128 tokens the query and
    # output bytes dominate: 128 x 278,528 / (129 x 1,152 + 278,528), about 83 FLOP/byte.
    assert operation_cost("H200", "decode attention", "bf16", 1, model="deepseek-v3",
                          length=4096)["bound"] == "compute"
    short = operation_cost("H200", "decode attention", "bf16", 1, model="deepseek-v3", length=128)
    assert short["intensity"] == pytest.approx(128 * 278_528 / (129 * 1152 + 278_528))
    assert short["bound"] == "memory"


def test_roofline_explorer_models_latent_attention_in_decode():
    # per layer and cached token: 278,528 FLOP over 1,152 bytes; plus the new latent and the
    # latent-space query (128 x 576) and output (128 x 512), 2 bytes each, per sequence
    rows, length = 64, 4096
    cost = operation_cost("H200", "decode attention", "bf16", rows, model="deepseek-v3", length=length)
    assert cost["flops"] == pytest.approx(rows * length * 278_528)
    assert cost["bytes"] == pytest.approx(rows * ((length + 1) * 1152 + 128 * (576 + 512) * 2))
    assert cost["bound"] == "compute"                        # about 228 FLOP/byte > the H200's 206
    assert operation_cost("H100-SXM", "decode attention", "bf16", rows, model="deepseek-v3",
                          length=length)["bound"] == "memory"
    with pytest.raises(ValueError, match="latent"):
        operation_cost("H200", "prefill attention", model="deepseek-v3")


# --- the prediction uses what the machine can stream (review of lesson 03) --------------------
def test_best_read_is_the_faster_of_the_two_reads():
    # A busy 2-core VM measured 31.1 GB/s with one thread and 15.2 GB/s with two.
    busy = measure.Bandwidth(read=15.2e9, copy=1e10, read_one_thread=31.1e9, array_bytes=1, threads=2, repeats=1)
    assert busy.best_read == 31.1e9
    idle = measure.Bandwidth(read=40e9, copy=1e10, read_one_thread=12e9, array_bytes=1, threads=8, repeats=1)
    assert idle.best_read == 40e9


def test_roofline_table_reads_in_tera_for_the_h100():
    from inferlab.measure_figures import roofline_table
    from inferlab.roofline_fit import RooflineFit
    mine = RooflineFit(peak_flops=100e9, bandwidth=20e9)
    rows = roofline_table(mine).rows
    # the H100's best sweep rates: 786 TFLOP/s over 2.244 TB/s (see the test above)
    assert rows[1]["peak"] == "786 TFLOP/s" and rows[1]["bandwidth"] == "2.24 TB/s"
    assert rows[0]["peak"] == "100 GFLOP/s" and rows[0]["bandwidth"] == "20 GB/s"
    assert rows[0]["ridge (FLOP/byte)"] == "5"                   # 100e9 / 20e9
