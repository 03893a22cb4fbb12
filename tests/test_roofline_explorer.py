"""Lesson 02's explorer and figures: the operation it places, its speed, bad input."""

import matplotlib
import pytest

matplotlib.use("Agg")

from inferlab.explorers.roofline import (RooflineExplorer, attention_intensity, catalogue_roofline,
                                        operation_cost, sweep_on_roofline, sweep_time)


def test_matmul_cost_by_hand():
    cost = operation_cost("H100-SXM", "matmul", "bf16", rows=64, k=8192, n=8192)
    moved = (64 * 8192 + 8192 * 8192 + 64 * 8192) * 2
    assert cost["bytes"] == pytest.approx(moved)
    assert cost["seconds"] == pytest.approx(moved / 3.35e12)
    assert cost["bound"] == "memory"
    fp8 = operation_cost("H100-SXM", "matmul", "fp8", rows=4096, k=8192, n=8192)
    assert fp8["bytes"] == pytest.approx(4096 * 8192 + 8192 * 8192 + 2 * 4096 * 8192)
    assert fp8["seconds"] == pytest.approx(2 * 4096 * 8192 * 8192 / 1979e12)
    assert fp8["bound"] == "compute"


def test_attention_costs_bound_as_the_lesson_says():
    decode = operation_cost("TPU-v6e", "decode attention", rows=65536, length=131072)
    assert decode["bound"] == "memory" and decode["intensity"] == pytest.approx(4.0, rel=1e-3)
    prefill = operation_cost("H100-SXM", "prefill attention", rows=1, length=8192)
    assert prefill["bound"] == "compute"


@pytest.mark.parametrize("kwargs, word", [
    (dict(operation="convolution"), "operation"),
    (dict(operation="matmul", precision="fp4"), "precision"),
    (dict(operation="matmul", rows=0), "m"),
    (dict(operation="prefill attention", model="deepseek-v3"), "MLA"),  # decode is modelled
    (dict(operation="matmul", hardware="TPU-v5e", precision="fp8"), "fp8"),
])
def test_bad_input_is_a_value_error(kwargs, word):
    kwargs = {"hardware": "H100-SXM", **kwargs}
    with pytest.raises(ValueError, match=word):
        operation_cost(**kwargs)


def test_explorer_redraws_fast_and_survives_every_operation():
    explorer = RooflineExplorer()
    explorer.widget()
    controls = explorer._controls
    for value in (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 8):
        controls["rows"].value = value
    for operation in ("prefill attention", "decode attention", "matmul"):
        controls["operation"].value = operation
    for chip in ("B200", "A100-80GB", "TPU-v6e", "H100-SXM"):
        controls["hardware"].value = chip
    for length in (128, 131072, 4096):
        controls["length"].value = length
    assert "Cannot draw" not in explorer._summary.value
    controls["precision"].value = "fp8"
    controls["hardware"].value = "TPU-v5e"  # no fp8 peak: a message, not a traceback
    assert "Cannot draw" in explorer._summary.value
    assert len(explorer.redraw_seconds) > 10  # every change redrew (its speed: `make bench`)


def test_figures_draw():
    for draw in (catalogue_roofline, sweep_on_roofline, sweep_time, attention_intensity):
        ax = draw()
        assert ax.get_xscale() == "log"
        matplotlib.pyplot.close(ax.figure)
