"""The hardware and model catalogues: sourced, complete, forgiving to look up."""
import csv
import json
from importlib import resources

import pytest

import inferlab as il
from inferlab.models import Model

REQUIRED_HARDWARE = ["A100-40GB", "A100-80GB", "H100-SXM", "H100-PCIe", "H200", "B200", "GB200",
                     "MI300X", "MI325X", "TPU-v5e", "TPU-v5p", "TPU-v6e", "Gaudi-3", "M2-Ultra",
                     "M4-Max"]
REQUIRED_MODELS = ["llama-2-7b", "llama-2-13b", "llama-2-70b", "llama-3.1-8b", "llama-3.1-70b",
                   "llama-3.1-405b", "gpt-j-6b", "mixtral-8x7b", "qwen3-30b-a3b",
                   "qwen3-235b-a22b", "deepseek-v3"]


def test_every_required_chip_is_there():
    assert set(REQUIRED_HARDWARE) <= set(il.list_hardware())


def test_every_required_model_is_there():
    assert set(REQUIRED_MODELS) <= set(il.list_models())


def test_every_hardware_row_names_its_source_and_confidence():
    text = resources.files("inferlab").joinpath("data/hardware.csv").read_text()
    for row in csv.DictReader(text.splitlines()):
        assert row["source"].strip(), row["name"]
        assert row["confidence"] in {"primary", "secondary", "derived", "low"}, row["name"]


def test_every_model_names_its_config_and_param_sources():
    for entry in json.loads(resources.files("inferlab").joinpath("data/models.json").read_text()):
        assert entry["config_source"].startswith("http"), entry["name"]
        assert entry["params_source"].strip(), entry["name"]


@pytest.mark.parametrize("name", REQUIRED_MODELS)
def test_computed_parameter_counts_match_published_within_2_percent(name):
    model = il.get_model(name)
    assert model.total_params == pytest.approx(model.published_total_params, rel=0.02)
    assert model.active_params == pytest.approx(model.published_active_params, rel=0.02)


def test_llama_3_1_8b_matches_the_measured_decoder_bytes():
    # The H100 reference file reports the parameter bytes of its Llama-3-8B-shaped decoder.
    from inferlab import reference
    config = reference.reference_model_config("h100")
    model = il.get_model("llama-3.1-8b")
    assert model.total_params * 2 == pytest.approx(config["param_bytes"], rel=1e-3)
    assert model.kv_bytes_per_token(2) == config["kv_bytes_per_token"]


def test_h100_spec_figures():
    h100 = il.get_hardware("H100-SXM")
    assert h100.memory_bandwidth == pytest.approx(3.35e12)
    assert h100.peak_flops("bf16") == pytest.approx(989e12, rel=0.001)
    assert h100.peak_flops("fp8") == pytest.approx(2 * h100.peak_flops("bf16"), rel=0.001)
    assert h100.memory_bytes == 81_559 * 2**20  # usable, as nvidia-smi reports it
    assert h100.vendor_memory_bytes == pytest.approx(80e9)
    assert "3.072" in h100.notes  # the disagreeing sources are named


def test_h200_has_h100_flops_and_more_bandwidth():
    h100, h200 = il.get_hardware("H100-SXM"), il.get_hardware("H200")
    assert h200.peak_flops("bf16") == h100.peak_flops("bf16")
    assert h200.memory_bandwidth / h100.memory_bandwidth == pytest.approx(4.8 / 3.35)


@pytest.mark.parametrize("spelling", ["H100 SXM", "h100-sxm", "H100_SXM", "h100sxm", "H100-SXM"])
def test_hardware_lookup_forgives_case_spaces_dashes(spelling):
    assert il.get_hardware(spelling).name == "H100-SXM"


@pytest.mark.parametrize("spelling", ["Llama 3.1 8B", "LLAMA_3.1_8B", "llama-3.1-8b"])
def test_model_lookup_forgives(spelling):
    assert il.get_model(spelling).name == "llama-3.1-8b"


def test_unknown_hardware_suggests_close_matches():
    with pytest.raises(KeyError) as info:
        il.get_hardware("H100 SMX")
    assert "H100-SXM" in str(info.value)
    with pytest.raises(ValueError):  # the same error is a ValueError too
        il.get_hardware("H10")


def test_unknown_model_suggests_close_matches():
    with pytest.raises(KeyError) as info:
        il.get_model("llama-3.1-7b")
    assert "llama-3.1-8b" in str(info.value)


def test_unknown_dtype_is_a_clear_error():
    with pytest.raises(ValueError, match="fp4"):
        il.get_hardware("H100-SXM").peak_flops("fp4")
    with pytest.raises(ValueError, match="compute_dtype"):
        il.get_hardware("H100-SXM").peak_flops("fp3")


def test_zero_bandwidth_is_rejected():
    h100 = il.get_hardware("H100-SXM")
    with pytest.raises(ValueError, match="memory_bandwidth"):
        h100.replace(memory_bandwidth=0)
    with pytest.raises(ValueError, match="memory_bandwidth"):
        h100.replace(memory_bandwidth=-3e12)


def test_replace_changes_one_dtype_peak():
    slow = il.get_hardware("H100-SXM").replace(bf16_flops=500e12, memory_bandwidth=3.0e12)
    assert slow.peak_flops("bf16") == 500e12 and slow.memory_bandwidth == 3.0e12


def test_kv_bytes_per_token_by_attention_type():
    # MHA: 2 (K and V) x layers x heads x head_dim x bytes
    assert il.get_model("llama-2-7b").kv_bytes_per_token(2) == 2 * 32 * 32 * 128 * 2
    # GQA: only the 8 KV heads are cached
    assert il.get_model("llama-3.1-70b").kv_bytes_per_token(2) == 2 * 80 * 8 * 128 * 2
    # MLA: one 512-wide latent plus a 64-wide rope key per layer, 61 layers
    assert il.get_model("deepseek-v3").kv_bytes_per_token(2) == 61 * (512 + 64) * 2
    # fp8 halves it
    assert il.get_model("llama-3.1-8b").kv_bytes_per_token(1) == 2 * 32 * 8 * 128


def test_moe_experts_touched_grows_to_all_experts():
    mixtral = il.get_model("mixtral-8x7b")
    assert mixtral.experts_touched(1) == pytest.approx(2)
    assert mixtral.experts_touched(1000) == pytest.approx(8)
    dense = il.get_model("llama-3.1-8b")
    assert dense.experts_touched(64) == 0


def test_bad_model_shapes_are_rejected():
    with pytest.raises(ValueError, match="layers"):
        Model(name="x", layers=0, d_model=8, heads=1, kv_heads=1, head_dim=8, ffn=8, vocab=8)


def test_custom_chip_flops_accept_dtype_aliases():
    chip = il.Hardware(name="toy", memory_bytes=1e9, memory_bandwidth=1e11, flops={"bfloat16": 2e13})
    assert chip.peak_flops("bf16") == 2e13
    assert chip.ridge_point("bf16") == pytest.approx(200.0)
    with pytest.raises(ValueError, match="twice"):
        il.Hardware(name="toy", memory_bytes=1e9, memory_bandwidth=1e11, flops={"bf16": 1e13, "fp16": 2e13})
