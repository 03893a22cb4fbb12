"""Lesson 05 exercises: the energy of moving data."""
from ..energy import compute_overtakes_movement, decode_energy, fetch_to_operation_ratio
from . import Exercise, register


def _electricity(usd_per_kwh):
    energy = decode_energy("llama-3.1-8b", "H100-SXM", 256, 1024)
    return energy.electricity_cost_per_million_tokens(usd_per_kwh)


register(
    Exercise("05.dram-ratio",
             "Horowitz 45 nm: one 32-bit DRAM read costs how many 8-bit integer multiplies?",
             expected=lambda: fetch_to_operation_ratio("dram_32b", "int8_mult", per="access"),
             unit="(a ratio: pJ / pJ)",
             hint="640 pJ for the read, 0.2 pJ for the multiply.",
             explanation="that is the '1000x' path: off-chip DRAM feeding cheap 8-bit arithmetic "
                         "(800x if you count only the 8 bits the multiply needs)."),
    Exercise("05.joules-per-token",
             "Joules per generated token of llama-3.1-70b on one H100 at batch 1, context 1024 "
             "(weights + KV + compute + idle).",
             expected=lambda: decode_energy("llama-3.1-70b", "H100-SXM", 1, 1024).total,
             unit="joules", hint="inferlab.energy.decode_energy(...).total"),
    Exercise("05.electricity",
             "Electricity cost per million tokens of llama-3.1-8b on an H100 at batch 256, "
             "context 1024, at your price per kWh.",
             expected=_electricity, unit="dollars per million tokens",
             hint="joules per token x 1e6 tokens / 3.6e6 joules per kWh x dollars per kWh."),
    Exercise("05.crossover",
             "From which batch does compute energy per token reach movement energy per token "
             "(weights + KV) for llama-3.1-70b on an H100 at context 1024?",
             expected=lambda: compute_overtakes_movement("llama-3.1-70b", "H100-SXM", 1024),
             unit="sequences", rtol=0.03,
             hint="compare decode_energy(...).compute with .movement over a range of batches."),
)
