"""inferlab.energy: the published table, the measured card figures, joules per token."""
import math

import numpy as np
import pytest

from inferlab import energy, get_model, reference
from inferlab.energy import (chip_energy, compute_overtakes_movement, decode_energy,
                             fetch_to_operation_ratio, published_energy, weight_fetch_in_flops)

H100_ENERGY = reference.load("h100")["energy"]
PJ_PER_BYTE = H100_ENERGY["hbm_copy"]["pJ_per_byte_above_idle"]
PJ_PER_FLOP = H100_ENERGY["bf16_gemm_8192"]["pJ_per_flop_above_idle"]
IDLE_WATTS = H100_ENERGY["idle_watts"]


# --- the published table -------------------------------------------------------------------
def test_every_row_has_a_source_and_a_positive_energy():
    for row in energy.published_energies():
        assert row.source and row.original_publication and row.confidence
        assert row.joules > 0 and row.kind in ("compute", "memory")


def test_horowitz_figures_as_published():
    # Horowitz ISSCC 2014, 45 nm, as reproduced by Han et al. 2015 and Kim et al. 2023.
    assert published_energy("int8_mult").picojoules == pytest.approx(0.2)
    assert published_energy("fp32_mult").picojoules == pytest.approx(3.7)
    assert published_energy("sram_8kb_32b").picojoules == pytest.approx(5.0)
    assert published_energy("dram_32b").picojoules == pytest.approx(640)


def test_ratios_by_hand():
    # one 32-bit DRAM read against one 8-bit multiply: 640 / 0.2
    assert fetch_to_operation_ratio("dram_32b", "int8_mult", per="access") == pytest.approx(3200)
    # only the 8 bits of the operand: 640 / 32 * 8 / 0.2
    assert fetch_to_operation_ratio("dram_32b", "int8_mult") == pytest.approx(800)
    # the on-chip path: 5 / 3.7 and 5 / 0.2
    assert fetch_to_operation_ratio("sram_8kb_32b", "fp32_mult") == pytest.approx(5 / 3.7)
    assert fetch_to_operation_ratio("sram_8kb_32b", "int8_mult", per="access") == pytest.approx(25)


@pytest.mark.parametrize("args, argument", [(("int8_mult", "dram_32b"), "memory must be a memory row"),
                                            (("dram_32b", "nope"), "nope"),
                                            (("dram_32b", "int8_mult", "per-byte"), "per must")])
def test_bad_ratio_requests(args, argument):
    memory, operation, *per = args
    with pytest.raises(ValueError, match=argument):
        fetch_to_operation_ratio(memory, operation, **({"per": per[0]} if per else {}))


# --- card level ------------------------------------------------------------------------------
def test_measured_h100_figures_come_from_the_reference_file():
    h100 = chip_energy("H100 SXM")
    assert h100.measured
    assert h100.joules_per_byte == pytest.approx(PJ_PER_BYTE * 1e-12)
    assert h100.joules_per_flop == pytest.approx(PJ_PER_FLOP * 1e-12)
    assert h100.idle_watts == pytest.approx(IDLE_WATTS)
    # the round numbers: ~85 pJ/B, ~0.83 pJ/FLOP, ~122 W idle
    assert 80 < PJ_PER_BYTE < 90 and 0.8 < PJ_PER_FLOP < 0.87 and 115 < IDLE_WATTS < 130


def test_above_idle_is_total_minus_idle_power():
    copy = H100_ENERGY["hbm_copy"]
    above = (copy["joules"] - IDLE_WATTS * copy["seconds"]) / copy["bytes_moved"] * 1e12
    assert above == pytest.approx(PJ_PER_BYTE, rel=1e-3)


def test_one_bf16_weight_costs_about_200_flops():
    assert weight_fetch_in_flops("H100-SXM") == pytest.approx(2 * PJ_PER_BYTE / PJ_PER_FLOP)
    assert 190 < weight_fetch_in_flops("H100-SXM") < 215


def test_unmeasured_chips_are_marked_as_assumed():
    b200 = chip_energy("B200")
    assert not b200.measured and "ASSUMED" in b200.notes
    assert chip_energy("H200").measured


def test_bad_chip_energy_inputs():
    with pytest.raises(ValueError, match="H900"):
        chip_energy("H900")
    with pytest.raises(ValueError, match="joules_per_byte"):
        chip_energy("H100-SXM").replace(joules_per_byte=-1.0)
    with pytest.raises(ValueError, match="compute_dtype"):
        chip_energy("H100-SXM").flop_joules("fp64")


# --- joules per token ------------------------------------------------------------------------
def test_energy_per_token_by_hand():
    """llama-3.1-8b on an H100 SXM, batch 4, context 1000, bf16 everything."""
    layers, d, heads, kv_heads, head_dim, ffn, vocab = 32, 4096, 32, 8, 128, 14336, 128256
    attention = d * heads * head_dim * 2 + 2 * d * kv_heads * head_dim  # q, o + k, v
    mlp = 3 * d * ffn
    dense = layers * (attention + mlp) + vocab * d  # + the output head
    batch, context = 4, 1000
    weight_bytes = (dense + batch * d) * 2  # + one embedding row per token
    kv_bytes = batch * (context + 1) * layers * 2 * kv_heads * head_dim * 2
    flops = batch * (2 * dense + layers * heads * 4 * head_dim * context)
    seconds = max((weight_bytes + kv_bytes) / 3.35e12, flops / 989e12)
    expected = {
        "weights": weight_bytes * PJ_PER_BYTE * 1e-12 / batch,
        "kv": kv_bytes * PJ_PER_BYTE * 1e-12 / batch,
        "compute": flops * PJ_PER_FLOP * 1e-12 / batch,
        "idle": IDLE_WATTS * seconds / batch,
    }
    got = decode_energy("llama-3.1-8b", "H100-SXM", batch, context)
    for part, value in expected.items():
        assert getattr(got, part) == pytest.approx(value, rel=1e-9), part
    assert got.total == pytest.approx(sum(expected.values()), rel=1e-9)
    assert got.step_seconds == pytest.approx(seconds)
    # and in money: J/token x 1e6 / 3.6e6 J per kWh x $/kWh
    assert got.electricity_cost_per_million_tokens(0.10) == pytest.approx(
        sum(expected.values()) * 1e6 / 3.6e6 * 0.10)


BATCHES = np.array([1, 2, 4, 16, 64, 256, 1024, 4096])


@pytest.mark.parametrize("model", ["llama-3.1-8b", "llama-3.1-70b", "gpt-j-6b"])
def test_weight_energy_per_token_falls_as_one_over_batch(model):
    e = decode_energy(model, "H100-SXM", BATCHES, 512)
    assert np.all(np.diff(e.weights) < 0)
    # weights x batch is the weight energy of the step: shared, so constant in batch, once the
    # one embedding row (d_model bf16 numbers) each token looks up is taken out
    rows = BATCHES * get_model(model).d_model * 2 * PJ_PER_BYTE * 1e-12
    shared = e.weights * BATCHES - rows
    assert np.allclose(shared, shared[0], rtol=1e-12)
    assert np.allclose(e.weights * BATCHES, shared[0], rtol=3e-3)  # the rows are small


@pytest.mark.parametrize("model", ["llama-3.1-8b", "llama-3.1-70b", "qwen3-30b-a3b"])
def test_compute_and_kv_energy_per_token_do_not_depend_on_batch(model):
    e = decode_energy(model, "H100-SXM", BATCHES, 2048)
    assert np.allclose(e.compute, e.compute[0], rtol=1e-12)
    assert np.allclose(e.kv, e.kv[0], rtol=1e-12)


def test_total_energy_per_token_never_rises_with_batch_while_memory_bound():
    e = decode_energy("llama-3.1-70b", "H100-SXM", np.arange(1, 200), 1024)
    assert np.all(np.diff(e.total) <= 0)


def test_ideal_tensor_parallelism_leaves_joules_per_token_unchanged():
    one = decode_energy("llama-3.1-70b", "H100-SXM", 16, 4096, chips=1)
    four = decode_energy("llama-3.1-70b", "H100-SXM", 16, 4096, chips=4)
    assert four.total == pytest.approx(one.total)
    assert four.step_seconds == pytest.approx(one.step_seconds / 4)


def test_broadcasts_over_batch_and_context():
    e = decode_energy("llama-3.1-8b", "H100-SXM", np.array([[1], [64]]), np.array([128, 8192]))
    assert np.shape(e.total) == (2, 2)
    assert e.kv[0, 1] > e.kv[0, 0]  # longer context, more KV bytes per token


def test_power_limit_flag():
    e = decode_energy("llama-3.1-70b", "H100-SXM", np.array([1, 4096]), 1024)
    assert list(e.exceeds_power_limit) == [False, True]


@pytest.mark.parametrize("kwargs, argument", [(dict(batch=0), "batch"), (dict(batch=2.5), "batch"),
                                              (dict(context=-1), "context"), (dict(batch="many"), "batch"),
                                              (dict(model="gpt-7"), "gpt-7")])
def test_bad_input_raises_value_error(kwargs, argument):
    args = dict(model="llama-3.1-8b", hardware="H100-SXM", batch=8, context=128)
    args.update(kwargs)
    with pytest.raises(ValueError, match=argument):
        decode_energy(args.pop("model"), args.pop("hardware"), args.pop("batch"), args.pop("context"))


def test_bad_electricity_price():
    with pytest.raises(ValueError, match="usd_per_kwh"):
        decode_energy("llama-3.1-8b", "H100-SXM", 8, 128).electricity_cost_per_million_tokens(-0.1)


# --- where compute overtakes movement ---------------------------------------------------------
def test_weights_only_crossover_by_hand():
    # with almost no KV: 2 bytes x pJ/B = 2 x batch x pJ/FLOP  ->  batch = pJ/B / pJ/FLOP ~ 101
    batch = compute_overtakes_movement("llama-3.1-8b", "H100-SXM", 1)
    assert batch == math.ceil(PJ_PER_BYTE / PJ_PER_FLOP) or batch == math.ceil(PJ_PER_BYTE / PJ_PER_FLOP) + 1
    e_at = decode_energy("llama-3.1-8b", "H100-SXM", int(batch), 1)
    e_before = decode_energy("llama-3.1-8b", "H100-SXM", int(batch) - 1, 1)
    assert e_at.compute >= e_at.movement and e_before.compute < e_before.movement


def test_crossover_grows_with_context_and_vanishes_at_long_context():
    contexts = np.array([128, 512, 1024, 32768])
    batches = compute_overtakes_movement("llama-3.1-8b", "H100-SXM", contexts)
    assert np.all(np.diff(batches[:3]) > 0)
    assert np.isinf(batches[-1])
    # by hand: KV energy per token alone exceeds the FLOP energy per token at 32k context
    e = decode_energy("llama-3.1-8b", "H100-SXM", 10 ** 6, 32768)
    assert e.kv > e.compute


def test_fp8_flops_assumed_to_cost_half_on_the_h100():
    # assumption stated in ChipEnergy.flop_joules: same power at peak, and the H100's dense
    # fp8 peak (1979 TFLOP/s) is twice its bf16 peak (989)
    h100 = chip_energy("H100-SXM")
    assert h100.flop_joules("fp8") == pytest.approx(h100.joules_per_flop * 989 / 1979)
    bf16 = decode_energy("llama-3.1-8b", "H100-SXM", 64, 1024)
    fp8 = decode_energy("llama-3.1-8b", "H100-SXM", 64, 1024, weight_bytes=1, kv_bytes=1,
                        compute_dtype="fp8")
    assert fp8.weights == pytest.approx(bf16.weights / 2, rel=1e-3)
    assert fp8.compute == pytest.approx(bf16.compute * 989 / 1979)
