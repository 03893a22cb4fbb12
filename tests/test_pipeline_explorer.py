"""The lesson 10 explorer: every control redraws, the summary follows the settings."""
import numpy as np

from inferlab.explorers.pipeline import PipelineExplorer


def test_every_control_redraws_and_the_summary_follows():
    explorer = PipelineExplorer()
    explorer.widget()
    changes = [("stages", 8), ("tensor_parallel", 2), ("micro_batches", 8), ("micro_batch", 32),
               ("precision", "fp8"), ("link", "PCIe Gen5"), ("model", "llama-3.1-405b"),
               ("hardware", "H200")]
    for name, value in changes:
        before = explorer._summary.value
        explorer._controls[name].value = value
        assert explorer._summary.value != before, name
        assert "Cannot draw" not in explorer._summary.value, name
    assert "<b>16 chips</b>" in explorer._summary.value           # 8 stages x TP 2
    assert len(explorer.redraw_seconds) == len(changes) + 1


def test_a_combination_the_model_refuses_is_reported_not_raised():
    explorer = PipelineExplorer()
    explorer.widget()
    explorer._controls["hardware"].value = "A100-80GB"           # no fp8 peak on an A100
    explorer._controls["precision"].value = "fp8"
    assert "Cannot draw" in explorer._summary.value


def test_timeline_bars_match_the_settings():
    explorer = PipelineExplorer(stages=3, micro_batches=2)
    explorer.widget()
    assert len(explorer._bars.get_paths()) == explorer.rounds * 2 * 3
    assert np.isfinite(explorer.redraw_seconds).all()


def test_summary_names_only_the_communication_there_is():
    """TP 1 has no all-reduce and one stage no hop: no "0 ns" in the summary."""
    explorer = PipelineExplorer()
    explorer.widget()
    summary = lambda: explorer._summary.value
    assert "hops" in summary() and "all-reduces" not in summary()      # 4 stages x TP 1
    explorer._controls["stages"].value = 1
    explorer._controls["tensor_parallel"].value = 8
    assert "all-reduces" in summary() and "hops" not in summary() and "0 ns" not in summary()
    explorer._controls["tensor_parallel"].value = 1
    assert "no communication" in summary() and "<b>1 chip</b>" in summary()
