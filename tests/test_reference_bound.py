"""The roofline against the real H100 (and H200): a bound, and a tight one."""
import numpy as np
import pytest

import inferlab as il
from inferlab import reference

MODEL = "llama-3.1-8b"


@pytest.mark.parametrize("kernel", ["sdpa", "splitkv", "eager"])
def test_no_measured_h100_decode_step_beats_the_prediction(kernel):
    data = reference.decode_steps("h100", kernel)
    predicted = il.decode_step(MODEL, "H100-SXM", data["batch"], data["context"]).seconds
    assert len(data["seconds"]) > 0
    worst = np.argmax(predicted / data["seconds"])
    assert np.all(predicted <= data["seconds"]), (
        f"prediction {predicted[worst]:.4g} s exceeds measured {data['seconds'][worst]:.4g} s "
        f"at batch {data['batch'][worst]}, context {data['context'][worst]}")


def test_the_bound_is_tight_where_the_kernels_are_good():
    data = reference.decode_steps("h100", "sdpa")
    predicted = il.decode_step(MODEL, "H100-SXM", data["batch"], data["context"]).seconds
    near = (data["batch"] <= 64) & (data["context"] <= 4096)
    assert near.sum() >= 10
    assert np.median(predicted[near] / data["seconds"][near]) >= 0.6


@pytest.mark.parametrize("kernel", ["sdpa", "splitkv"])
def test_no_measured_h200_decode_step_beats_the_prediction(kernel):
    data = reference.decode_steps("h200", kernel)
    predicted = il.decode_step(MODEL, "H200", data["batch"], data["context"]).seconds
    assert np.all(predicted <= data["seconds"])


def test_no_measured_prefill_beats_the_prediction():
    for device, chip in (("h100", "H100-SXM"), ("h200", "H200")):
        data = reference.prefill_steps(device)
        predicted = il.prefill_step(MODEL, chip, data["prompt"]).seconds
        assert np.all(predicted <= data["seconds"])
        assert np.median(predicted / data["seconds"]) >= 0.4


def test_no_measured_gemm_beats_the_spec_roofline():
    for dtype, size in (("bf16", 2), ("fp8", 1)):
        sweep = reference.gemm_sweep("h100", dtype)
        bound = il.roofline_seconds(sweep["flops"], sweep["bytes"], "H100-SXM", dtype)
        assert np.all(bound <= sweep["seconds"])


def test_measured_bandwidth_is_below_spec():
    assert 2.8e12 < reference.measured_bandwidth("h100") < 3.35e12
    assert reference.measured_bandwidth("h200") / reference.measured_bandwidth("h100") == \
        pytest.approx(1.4, abs=0.05)


def test_measured_hardware_uses_measured_figures():
    measured = reference.measured_hardware("h100")
    assert measured.memory_bandwidth == reference.measured_bandwidth("h100")
    assert measured.peak_flops("bf16") < il.get_hardware("H100-SXM").peak_flops("bf16")


def test_unknown_reference_device_is_a_clear_error():
    with pytest.raises(ValueError, match="device"):
        reference.load("a100")
