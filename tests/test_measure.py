"""The lab's measuring code (inferlab.measure) and the roofline fit (inferlab.roofline_fit)."""
import math
import re

import numpy as np
import pytest

from inferlab import exercises, measure, reference
from inferlab.roofline_fit import RooflineFit, fit_roofline, fit_sweep, knee_rows

TINY = dict(progress=False)


# --- measurements on tiny sizes: positive, finite, right units ------------------------
def test_bandwidth_on_a_tiny_array_is_bytes_per_second():
    result = measure.measure_bandwidth(64 * 1024, repeats=2, threads=2, **TINY)
    assert result.array_bytes == 64 * 1024 and result.threads == 2
    for value in (result.read, result.copy, result.read_one_thread):
        assert math.isfinite(value) and value > 0
        # bytes/s, not GB/s (~10) or seconds (~1e-6); wide, as a busy machine's timer jitters
        assert 1e6 < value < 1e15


def test_sweep_returns_the_reference_layout_with_float32_bytes():
    sweep = measure.gemm_sweep([1, 3, 8], k=64, n=32, repeats=2, **TINY)
    assert set(sweep) >= set(reference.gemm_sweep("h100")) - {"run"}
    np.testing.assert_array_equal(sweep["M"], [1, 3, 8])
    np.testing.assert_allclose(sweep["flops"], 2 * np.array([1, 3, 8]) * 64 * 32)
    # X, W and the output once each, 4 bytes per float32: by hand for M = 1
    assert sweep["bytes"][0] == (1 * 64 + 64 * 32 + 1 * 32) * 4
    assert np.all(np.isfinite(sweep["seconds"])) and np.all(sweep["seconds"] > 0)
    assert np.all(sweep["seconds"] < 1.0)  # seconds, not ms


def test_decode_stack_counts_its_bytes_and_times_a_step():
    stack = measure.DecodeStack(layers=1, d_model=8, d_ff=16, vocab=10)
    # qkv 8x24 + out 8x8 + gate_up 8x32 + down 16x8 + head 8x10 numbers, 4 bytes each
    assert stack.weight_bytes == (8 * 24 + 8 * 8 + 8 * 32 + 16 * 8 + 8 * 10) * 4
    assert stack.step_bytes(1) > stack.weight_bytes
    assert stack.step_flops(1) == 2 * (8 * 24 + 8 * 8 + 8 * 32 + 16 * 8 + 8 * 10)
    seconds = measure.time_decode_step(stack, repeats=2, **TINY)
    assert 0 < seconds < 1.0


def test_default_stack_is_a_few_hundred_megabytes_and_quick_is_small():
    assert 1e8 < measure.default_stack(quick=False).weight_bytes < 5e8
    assert measure.default_stack(quick=True).weight_bytes < 2e7


def test_median_seconds_is_the_median_and_respects_its_budget():
    calls = []
    assert measure.median_seconds(lambda: calls.append(1), repeats=5, warmup=2) >= 0
    assert len(calls) == 7
    calls.clear()
    measure.median_seconds(lambda: (calls.append(1), __import__("time").sleep(0.02)), repeats=50,
                           warmup=0, max_seconds=0.05)
    assert 1 <= len(calls) < 10


def test_quick_mode_follows_the_argument_then_the_environment(monkeypatch):
    monkeypatch.setenv(measure.QUICK_ENV, "1")
    assert measure.quick_mode() is True and measure.quick_mode(False) is False
    monkeypatch.setenv(measure.QUICK_ENV, "0")
    assert measure.quick_mode() is False and measure.quick_mode(True) is True


def test_measure_machine_in_quick_mode_fits_its_own_sweep():
    result = measure.measure_machine(quick=True, **TINY)
    assert result.quick and result.seconds < 20
    assert result.fit == fit_sweep(result.sweep)
    assert result.fit.ridge == pytest.approx(result.fit.peak_flops / result.fit.bandwidth)
    assert result.gpu_message  # one line whether or not a GPU is there
    assert result.machine.cores >= 1 and result.machine.blas


def test_machine_description_names_cpu_and_blas():
    machine = measure.describe_machine()
    rows = {row["what"]: row["value"] for row in machine.rows()}
    assert rows["CPU"] and "numpy" in " ".join(rows) and machine.numpy_version == np.__version__


def test_gpu_status_is_a_flag_and_a_sentence():
    available, message = measure.gpu_status()
    assert isinstance(available, bool) and message.endswith(".")
    if not available:
        with pytest.raises(RuntimeError):
            measure.gpu_gemm_sweep(progress=False)


def test_text_progress_prints_one_line(capsys):
    bar = measure.Progress(3, "test", mode="text")
    bar.step("a")
    bar.step("b")
    bar.close("finished")
    out = capsys.readouterr().out
    assert out.endswith("\n") and out.count("\n") == 1 and "3/3 finished" in out


# --- the fit -------------------------------------------------------------------------
def _synthetic(peak, bandwidth, rows, k=4096, n=4096, b=4, slowdown=1.0):
    flops = 2.0 * rows * k * n
    moved = (rows * k + k * n + rows * n) * b
    seconds = np.maximum(moved / bandwidth, flops / peak) * slowdown
    return flops, moved, seconds


def test_fit_recovers_a_known_roofline():
    rows = np.array([1, 2, 4, 8, 16, 64, 256, 1024], dtype=float)
    fit = fit_roofline(*_synthetic(2e11, 2e10, rows))
    assert fit.peak_flops == pytest.approx(2e11) and fit.bandwidth == pytest.approx(2e10)
    assert fit.ridge == pytest.approx(10.0)


def test_fit_ignores_points_below_the_roof():
    rows = np.array([1, 2, 4, 8, 16, 64, 256, 1024], dtype=float)
    flops, moved, seconds = _synthetic(2e11, 2e10, rows)
    slower = seconds * np.array([1, 3, 2, 5, 4, 2, 1.5, 1])  # the first and last on the roof
    fit = fit_roofline(flops, moved, slower)
    assert fit.peak_flops == pytest.approx(2e11) and fit.bandwidth == pytest.approx(2e10)


def test_fit_of_the_h100_sweep_matches_its_measured_peak():
    fit = fit_sweep(reference.gemm_sweep("h100"))
    assert fit.peak_flops == pytest.approx(reference.measured_peak_flops("h100"))
    assert 1e12 < fit.bandwidth < 3.35e12  # a GEMV does not beat the spec sheet


def test_roof_time_and_bound():
    fit = RooflineFit(peak_flops=1e12, bandwidth=1e10)
    assert fit.ridge == 100
    assert fit.seconds(1e12, 1e9) == pytest.approx(1.0)     # compute: 1e12 / 1e12
    assert fit.seconds(1e9, 1e10) == pytest.approx(1.0)     # memory: 1e10 / 1e10
    assert fit.bound(10) == "memory" and fit.bound(1000) == "compute"
    assert fit.attainable_flops(10) == pytest.approx(1e11)


def test_knee_rows_solves_for_the_ridge():
    k = n = 8192
    m = knee_rows(100.0, k, n, 2)
    intensity = 2 * m * k * n / ((m * k + k * n + m * n) * 2)
    assert intensity == pytest.approx(100.0)
    assert m == pytest.approx(100.0, rel=0.03)  # about the ridge in bf16 for large K, N
    assert knee_rows(1e6, 64, 64, 2) == math.inf  # a ridge the shape can never reach


@pytest.mark.parametrize("call, argument", [
    (lambda: fit_roofline([1.0, 2.0], [1.0, 2.0], [1.0]), 'seconds'),
    (lambda: fit_roofline([1.0], [1.0], [1.0]), 'at least 2'),
    (lambda: fit_roofline([1.0, -2.0], [1.0, 2.0], [1.0, 1.0]), 'flops'),
    (lambda: fit_roofline([1.0, 2.0], [1.0, 2.0], [0.0, 1.0]), 'seconds'),
    (lambda: fit_sweep({"flops": [1, 2]}), 'bytes, seconds'),
    (lambda: RooflineFit(peak_flops=0, bandwidth=1e9), 'peak_flops'),
    (lambda: knee_rows(-1, 10, 10), 'ridge'),
    (lambda: measure.measure_bandwidth(0, **TINY), 'array_bytes'),
    (lambda: measure.measure_bandwidth(100, **TINY), 'array_bytes'),
    (lambda: measure.measure_bandwidth(1 << 16, repeats=0, **TINY), 'repeats'),
    (lambda: measure.measure_bandwidth(1 << 16, threads=1.5, **TINY), 'threads'),
    (lambda: measure.gemm_sweep([0, 4], k=8, n=8, **TINY), 'm_values'),
    (lambda: measure.gemm_sweep([1], k=-8, n=8, **TINY), 'k must'),
    (lambda: measure.gemm_sweep([1.5], k=8, n=8, **TINY), 'm_values'),
    (lambda: measure.median_seconds(lambda: None, repeats=0), 'repeats'),
    (lambda: measure.median_seconds("not a function"), 'function'),
    (lambda: measure.time_decode_step("big", **TINY), 'stack'),
    (lambda: measure.DecodeStack(layers=0), 'layers'),
    (lambda: measure.DecodeStack().step_bytes(0), 'batch'),
    (lambda: measure.DecodeStack().step_flops(1.5), 'batch'),
    (lambda: measure.quick_mode("yes"), 'quick'),
    (lambda: measure.Progress(0), 'total'),
    (lambda: measure.Progress(3, mode="fancy"), 'mode'),
])
def test_bad_input_is_a_value_error(call, argument):
    with pytest.raises(ValueError, match=re.escape(argument)):
        call()


# --- the lesson's relation exercises --------------------------------------------------
def test_relation_exercises_grade_the_learners_own_numbers():
    stack = measure.DecodeStack(layers=1, d_model=64, d_ff=128, vocab=100)
    # Worked by hand. Knee: 2 M K N = ridge x 4 bytes x (M K + K N + M N) solved for M.
    # Stack bytes at batch 1, float32: sum over the products (K, N) of (K + K N + N) x 4 bytes,
    # with (64, 192), (64, 64), (64, 256), (128, 64) for the layer and (64, 100) for the head:
    # (12,544 + 4,224 + 16,704 + 8,384 + 6,564) x 4 = 193,680 bytes. The H100's measured read
    # bandwidth is the median of its two runs in data/reference (3024.42 and 3043.69 GB/s).
    cases = {
        "03.ridge": (300.0, dict(peak=9e11, bandwidth=3e9)),
        "03.knee": (20 * 4 * 8192 * 8192 / (2 * 8192 * 8192 - 20 * 4 * (8192 + 8192)),   # 40.39
                    dict(ridge=20.0, k=8192, n=8192)),
        "03.predicted-step": (193_680 / 2e10, dict(stack=stack, bandwidth=2e10)),
        "03.fraction-explained": (0.5, dict(predicted=0.01, measured=0.02)),
        "03.h100-ratio": ((3024.4203037771063 + 3043.6930276036583) / 2 * 1e9 / 2e10, dict(bandwidth=2e10)),
    }
    assert set(cases) == {e.qid for e in exercises.exercises_for("03")}
    for qid, (answer, inputs) in cases.items():
        assert exercises.grade(qid, answer, **inputs).status == "correct", qid
        assert exercises.grade(qid, answer * 3.7, **inputs).status == "wrong", qid
        assert exercises.grade(qid, answer).status == "type", qid  # inputs forgotten: a message


def test_cache_warning_when_the_weight_matrix_fits_in_the_cache():
    from dataclasses import replace
    result = measure.measure_machine(quick=True, gpu=False, progress=False)
    assert result.cache_warning == ""  # quick mode already says it is not the roofline
    big_cache = replace(result.machine, last_level_cache_bytes=10**12)
    small_cache = replace(result.machine, last_level_cache_bytes=1)
    assert "cache" in replace(result, quick=False, machine=big_cache).cache_warning
    assert replace(result, quick=False, machine=small_cache).cache_warning == ""
