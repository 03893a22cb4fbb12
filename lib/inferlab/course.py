"""The course map: the lessons, and the claims from the seed lecture each one tests."""
from __future__ import annotations

from .display import Table

#: (number, notebook stem, title, the one idea)
LESSONS = [
    ("00", "00_start_here", "Start here", "how the course works; check that widgets and plots work"),
    ("01", "01_latency_floor", "The latency floor", "a decode step cannot beat weight bytes / memory bandwidth"),
    ("02", "02_roofline", "The roofline", "time = max(bytes / bandwidth, FLOPs / peak); the ridge point"),
    ("03", "03_measure_your_machine", "Measure your machine", "find the roofline of the computer in front of you"),
    ("04", "04_bandwidth_not_capacity", "Bandwidth, not capacity", "memory technologies; bandwidth predicts speed-ups"),
    ("05", "05_energy_of_data_movement", "The energy of moving data", "pJ per byte moved vs pJ per FLOP"),
    ("06", "06_batching", "Batching", "cost per token vs batch; the knee; MoE sparsity; fast tiers"),
    ("07", "07_prefill_vs_decode", "Prefill vs decode", "why output tokens cost more than input tokens"),
    ("08", "08_kv_cache", "The KV cache", "bytes per token; long context; the 200k price tier"),
    ("09", "09_train_schedule", "The train schedule", "batches leave on a fixed interval; queueing delay"),
    ("10", "10_pipeline_parallelism", "Pipeline parallelism", "more chips hold bigger models; latency does not fall"),
    ("11", "11_capstone_price_sheet", "Capstone: a price sheet", "derive a provider's prices from first principles"),
]

#: The words that carry each lesson's one idea (regular expressions, case ignored). Each must
#: appear in the lesson's core Markdown (outside its "Going deeper" sections), so that moving
#: the idea itself into optional material fails a test.
KEY_TERMS = {
    "00": (r"widget|explorer", r"exercise"),
    "01": (r"bandwidth", r"weight", r"floor"),
    "02": (r"arithmetic intensity", r"ridge", r"roofline", r"\\max|max\("),
    "03": (r"measure", r"roofline", r"(your|this) (machine|computer)"),
    "04": (r"bandwidth", r"capacity", r"HBM", r"DDR", r"speed-?ups?|generation"),
    "05": (r"energy|joule", r"\bbytes?\b", r"FLOP", r"batch"),
    "06": (r"knee", r"batch", r"sparsity", r"fast (tier|mode)"),
    "07": (r"prefill", r"decode", r"compute-bound", r"memory-bound", r"output tokens?"),
    "08": (r"KV cache", r"bytes per token", r"GQA|grouped", r"MLA|latent", r"200\s?k"),
    "09": (r"interval", r"queue|wait", r"train"),
    "10": (r"pipeline", r"latency", r"tensor parallel", r"capacity|bigger"),
    "11": (r"price sheet", r"margin", r"utili[sz]ation", r"GPU-hour"),
}

#: (claim as the seed lecture states it, lesson that tests it)
CLAIMS = [
    ("A decode step cannot beat the time to read the weights from memory (the latency floor).", "01"),
    ("Performance is limited by the slower of fetching parameters and doing the matrix products.", "02"),
    ("Memory bandwidth, not capacity, limits AI workloads; commodity DRAM is too slow.", "04"),
    ("Bandwidth predicts generation-to-generation speed-ups better than FLOPs.", "04"),
    ("Moving a parameter costs ~1000x the energy of multiplying with it; batching amortises it.", "05"),
    ("The best batch is about 300 x sparsity (total / active parameters).", "06"),
    ("Fast tiers cost more because they run smaller batches.", "06"),
    ("Input tokens are cheaper than output tokens: prefill is compute-bound, decode memory-bound.", "07"),
    ("Above ~200k tokens of context, KV-cache reads make serving memory-bound: hence the price tier.", "08"),
    ("Batches leave on a fixed interval (~20 ms) like a train; requests wait for the next one.", "09"),
    ("Pipeline parallelism adds capacity, not speed: a token's latency does not fall.", "10"),
]


def lesson_map(available=()) -> Table:
    """The lesson map; lessons not in ``available`` (notebook stems) are marked planned."""
    rows = [{"#": n, "lesson": title, "the one idea": idea,
             "status": "ready" if stem in available else "planned"}
            for n, stem, title, idea in LESSONS]
    return Table(rows)


def claims() -> Table:
    """The seed lecture's claims, each with the lesson that puts it to the test."""
    titles = {n: title for n, _, title, _ in LESSONS}
    return Table([{"claim": claim, "tested in": f"{n} {titles[n]}"} for claim, n in CLAIMS])
