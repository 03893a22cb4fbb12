"""The course on one page: its formulas and rules of thumb, with their numbers for a few chips.

``python -m inferlab.summary > docs/summary.md`` writes the page (Markdown). Every number is
computed here from the catalogue and the shipped measurements, so the page cannot drift from
the library; a test holds the committed file equal to what this module prints. A figure the
catalogue lacks (a Mac's FLOP/s, a TPU's rental price) is printed as "—".
"""
from __future__ import annotations

import sys

from . import economics, energy, reference
from .course import LESSONS
from .hardware import get_hardware
from .intensity import knee_batch, matmul_intensity
from .batching import moe_knee_batch
from .models import get_model
from .roofline import decode_step, latency_floor, prefill_step, weight_bytes_needed
from .parallelism import parallel_decode
from .schedule import hbm_drain_seconds

__all__ = ["CHIPS", "render", "main"]

#: The chips on the page: two Hoppers, a Blackwell, a TPU and a Mac.
CHIPS = ("H100-SXM", "H200", "B200", "TPU-v6e", "M4-Max")
MISSING = "—"
#: The worked examples' settings, named once.
SMALL, LARGE, HUGE, MOE = "llama-3.1-8b", "llama-3.1-70b", "llama-3.1-405b", "deepseek-v3"
PRICE_BATCH, PRICE_CONTEXT = 256, 1024
PROMPT = 2048

_MEASURED = {name: device for device, name in reference.CATALOGUE_NAME.items()}


def _lesson(number: str) -> str:
    """A Markdown link to lesson ``number`` ('01'), by its title."""
    for n, stem, title, _ in LESSONS:
        if n == number:
            return f"[{n}](../lessons/{stem}.ipynb \"{title}\")"
    raise ValueError(f"number must be a lesson number such as '01', got {number!r}")


def _try(compute):
    """``compute()``, or None when the catalogue lacks a figure it needs."""
    try:
        value = compute()
    except (ValueError, KeyError):
        return None
    return None if value is None else float(value)


def _fmt(value, spec: str, scale: float = 1.0) -> str:
    return MISSING if value is None else format(value / scale, spec)


def _kib(nbytes: float) -> str:
    return f"{nbytes / 1024:.0f} KiB"


def _rules() -> list:
    """(lesson, rule with its formula, worked example) rows; the examples use the H100 SXM."""
    h100, h200 = get_hardware("H100-SXM"), get_hardware("H200")
    small, large, moe = get_model(SMALL), get_model(LARGE), get_model(MOE)
    floor = latency_floor(small, h100)
    measured = reference.measured_bandwidth("h100")
    measured_h200 = reference.measured_bandwidth("h200")
    chip = energy.measured_chip_energy("h100")
    fetch = energy.weight_fetch_in_flops("H100-SXM")
    prefill = prefill_step(small, h100, PROMPT).intensity
    decode = decode_step(small, h100, 1, PROMPT).intensity
    price = economics.gpu_hour_price("H100-SXM")
    step = decode_step(small, h100, PRICE_BATCH, PRICE_CONTEXT).seconds
    cost = economics.cost_per_million_tokens(step, PRICE_BATCH, price)
    fp8 = dict(weight_bytes=1, compute_dtype="fp8", link="NVLink 4")
    one = parallel_decode(HUGE, h100, 1, 4096, **fp8).token_seconds
    pipeline = parallel_decode(HUGE, h100, 1, 4096, stages=8, **fp8).token_seconds
    tensor = parallel_decode(HUGE, h100, 1, 4096, tensor_parallel=8, **fp8).token_seconds
    drain = hbm_drain_seconds(h100)
    return [
        ("01", "**Latency floor**: a decode step ≥ weight bytes / bandwidth",
         f"{SMALL}, bf16: {weight_bytes_needed(small) / 1e9:.1f} GB / {h100.memory_bandwidth / 1e12:.2f} TB/s "
         f"= {floor * 1e3:.2f} ms: ≤ {1 / floor:.0f} tokens/s for one sequence"),
        ("02", "**Roofline**: time = max(bytes / BW, FLOPs / peak); X[m,k]·W[k,n] in bf16 does ≈ m FLOP/byte",
         f"X[1,8192]·W[8192,8192]: {matmul_intensity(1, 8192, 8192):.2f} FLOP/byte"),
        ("02", "**Ridge point** = peak / BW: below it memory-bound, above it compute-bound",
         f"H100 {h100.ridge_point():.0f} FLOP/byte; H200 {h200.ridge_point():.0f} (same FLOP/s, more bandwidth)"),
        ("03", "**Measure**: a chip reaches most, not all, of its spec sheet",
         f"H100 reads {measured / 1e12:.2f} TB/s of its {h100.memory_bandwidth / 1e12:.2f} "
         f"({measured / h100.memory_bandwidth:.0%})"),
        ("04", "**Bandwidth, not capacity**, sets decode speed: speed-up ≈ bandwidth ratio",
         f"H200 / H100: {h200.memory_bandwidth / h100.memory_bandwidth:.2f}× on the sheets, "
         f"{measured_h200 / measured:.2f}× measured"),
        ("05", "**Energy**: J = bytes × J/byte + FLOPs × J/FLOP; batching shares a byte's cost",
         f"H100, measured: {chip.joules_per_byte * 1e12:.0f} pJ per HBM byte, {chip.joules_per_flop * 1e12:.2f} "
         f"pJ per FLOP: a bf16 weight's fetch ≈ {fetch:.0f} FLOPs"),
        ("06", "**Knee** = peak × bytes per weight / (2 BW): = ridge for bf16; MoE: × experts / top-k",
         f"H100 {knee_batch(h100):.0f}; {MOE} ({moe.moe.experts} experts, top {moe.moe.top_k}): "
         f"× {moe.moe.experts / moe.moe.top_k:.0f}"),
        ("07", "**Prefill** compute-bound, **decode** memory-bound: intensity ≈ tokens per weight read",
         f"{SMALL}, H100: prefill of {PROMPT} tokens {prefill:.0f} FLOP/byte; decode, batch 1: {decode:.1f}"),
        ("08", "**KV cache** per token = 2 · layers · kv_heads · head_dim · bytes (MLA: layers · latent · "
               "bytes)",
         f"bf16: {SMALL} {_kib(small.kv_bytes_per_token(2))}, {LARGE} {_kib(large.kv_bytes_per_token(2))}, "
         f"{MOE} {_kib(moe.kv_bytes_per_token(2))}"),
        ("09", "**Train schedule**: batches leave every T; mean wait ≈ T / 2 at light load, more near full",
         f"H100: reading its {h100.memory_bytes / 1e9:.0f} usable GB takes {drain * 1e3:.0f} ms: ≈ "
         f"{drain / 2 * 1e3:.0f} ms wait"),
        ("10", "**Pipeline parallelism** adds capacity, not speed: a token passes every stage",
         f"{HUGE}, fp8, 8 H100s: 8 stages {pipeline * 1e3:.0f} ms a token (one chip: {one * 1e3:.0f}); "
         f"tensor parallel {tensor * 1e3:.0f} ms"),
        ("11", "**Price**: \\$ per M tokens = chip \\$/h ÷ (3600 × tokens/s) × 10⁶, ÷ utilisation",
         f"{SMALL}, H100 at \\${price:.2f}/h, batch {PRICE_BATCH}: \\${cost:.3f} at full use"),
    ]


def _chip_rows(chips) -> list:
    """(quantity, lesson, [value per chip]) rows of the numbers table."""
    chips = [get_hardware(c) for c in chips]
    small, moe = get_model(SMALL), get_model(MOE)

    def each(compute, spec, scale=1.0):
        return [_fmt(_try(lambda c=c: compute(c)), spec, scale) for c in chips]

    def measured(compute, spec, scale=1.0):
        return [_fmt(_try(lambda c=c: compute(_MEASURED[c.name])) if c.name in _MEASURED else None, spec, scale)
                for c in chips]

    def price(c):
        return economics.gpu_hour_price(c)

    def cost(c):
        step = decode_step(small, c, PRICE_BATCH, PRICE_CONTEXT).seconds
        return economics.cost_per_million_tokens(step, PRICE_BATCH, price(c))

    return [
        ("usable memory, GB", "04", each(lambda c: c.memory_bytes, ".0f", 1e9)),
        ("bandwidth, TB/s (spec)", "01", each(lambda c: c.memory_bandwidth, ".2f", 1e12)),
        ("bandwidth, TB/s (measured)", "03", measured(reference.measured_bandwidth, ".2f", 1e12)),
        ("bf16 peak, TFLOP/s (dense)", "02", each(lambda c: c.peak_flops("bf16"), ".0f", 1e12)),
        ("ridge = knee for bf16, FLOP/byte", "02", each(lambda c: c.ridge_point("bf16"), ".0f")),
        (f"{MOE} expert knee (fp8), tokens", "06",
         each(lambda c: moe_knee_batch(c, moe.moe.experts, moe.moe.top_k, weight_bytes=1,
                                       compute_dtype="fp8"), ",.0f")),
        (f"floor, {SMALL} bf16, ms", "01", each(lambda c: latency_floor(small, c), ".2f", 1e-3)),
        ("reading all memory once, ms", "09", each(hbm_drain_seconds, ".0f", 1e-3)),
        ("energy per HBM byte, pJ (measured)", "05",
         measured(lambda d: energy.measured_chip_energy(d).joules_per_byte, ".0f", 1e-12)),
        ("energy per bf16 FLOP, pJ (measured)", "05",
         measured(lambda d: energy.measured_chip_energy(d).joules_per_flop, ".2f", 1e-12)),
        ("rental, \\$ per GPU-hour (median)", "11", [("\\$" + v if v != MISSING else v)
                                                     for v in each(price, ".2f")]),
        (f"\\$ per M tokens, {SMALL}, batch {PRICE_BATCH}", "11",
         [("\\$" + v if v != MISSING else v) for v in each(cost, ".3f")]),
    ]


def render(chips=CHIPS) -> str:
    """The one-page summary as Markdown (money dollars escaped as ``\\$``)."""
    if not chips:
        raise ValueError("chips must name at least one chip")
    names = [get_hardware(c).name for c in chips]
    lines = [
        "<!-- Generated by `python -m inferlab.summary > docs/summary.md` from the catalogue: do not edit "
        "by hand (a test compares). -->",
        "# The Latency Floor on one page",
        "",
        "Rules of thumb with their numbers, each linked to the lesson that derives it. Spec-sheet "
        "figures (`lib/inferlab/data/`, sourced) unless measured; bf16 unless said; \"—\": not in the "
        "catalogue.",
        "",
        "| | rule | for example |",
        "|---|---|---|",
    ]
    lines += [f"| {_lesson(n)} | {rule} | {example} |" for n, rule, example in _rules()]
    lines += ["", "| | " + " | ".join(names) + " | lesson |", "|---|" + "---:|" * len(names) + "---|"]
    lines += [f"| {quantity} | " + " | ".join(values) + f" | {_lesson(n)} |"
              for quantity, n, values in _chip_rows(chips)]
    lines += ["", f"Rental: median published on-demand price. \\$ per M tokens: roofline step, batch "
              f"{PRICE_BATCH}, context {PRICE_CONTEXT}, full use, no margin. Measured: one H100 SXM, one H200.", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv:
        print("usage: python -m inferlab.summary > docs/summary.md", file=sys.stderr)
        return 2
    sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
