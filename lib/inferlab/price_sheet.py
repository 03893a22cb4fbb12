"""The capstone: a provider's price sheet derived from the course's physics, and the
published sheets to hold it against.

A provider chooses a model, chips, a rental price per chip-hour, a batching policy and a
latency target; the course's functions give the chip time of a token in each phase, and
three business numbers turn chip time into a price:

- **utilisation**: the share of the paid chip time that serves tokens (queues that are not
  full, quiet hours, spare capacity; lesson 09). Cost per token is divided by it.
- **margin**: gross margin on the price, price = cost / (1 - margin).
- for the batch (overnight) tier: a larger batch with no latency target, at a higher
  utilisation (the queue can wait to fill the quiet hours).

Each entry of the sheet comes from one existing function:

=====================  ===============================================================
input                  ``serving.prefill_cost_per_token`` at the typical context
cached input           input x ``serving.cache_hit_cost_fraction`` (bringing the KV cache
                       back over the host link instead of prefilling again)
output                 ``kv.capped_decode`` at the typical context, batch capped by the
                       latency target (``latency_batch``) and by memory
long-context tier      the same two at ``long_context`` tokens
fast tier              ``batching.fast_tier_curve``: the largest batch that gives each
                       user ``fast_speedup`` x the tokens/s, priced at its cost
batch tier             ``kv.capped_decode`` at ``overnight_batch`` or the standard batch,
                       whichever is larger (memory-capped, no latency target), at
                       ``overnight_utilisation``
=====================  ===============================================================

Prices are US dollars per million tokens; times in seconds; bandwidths in bytes/s.
Everything is a roofline, so costs are lower bounds: a real server is slower.
"""
from __future__ import annotations

import dataclasses
import math
import statistics
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from . import batching, economics, kv, reference, serving
from . import _lookup
from ._validate import BYTES_PER_VALUE_MOST, positive
from .hardware import get_hardware
from .models import get_model
from .roofline import chips_to_hold, decode_step

#: The ratios a sheet and a published sheet are compared by, in display order.
RATIOS = ("output / input", "cached / input", "long input / input", "long output / output",
          "fast output / output", "batch output / output")


# --- assumptions --------------------------------------------------------------------------
@dataclass(frozen=True)
class ProviderAssumptions:
    """Every choice behind a price sheet (validated on creation; SI units, money in US$).

    Hardware and model: ``model``, ``hardware`` (a name or a :class:`~inferlab.Hardware`),
    ``chips`` serving one copy of the model (ideal tensor parallelism), ``weight_bytes`` and
    ``kv_bytes`` per value, ``compute_dtype``, ``memory_fraction`` of memory usable.

    Money: ``usd_per_gpu_hour`` (None: the median published on-demand price of the chip,
    ``economics.gpu_hour_price``), ``utilisation`` (0 to 1] of paid time that serves tokens,
    ``margin`` [0 to 1) of the price that is not cost.

    Traffic and policy: ``context`` tokens per typical request (its prompt is prefilled in
    passes of ``prefill_batch`` prompts, its decode reads a cache of that length), ``batch``
    the most sequences per decode step, ``max_tpot`` the latency target in seconds per output
    token (the standard batch is the largest that meets it).

    Tiers: ``cache_link_bandwidth`` bytes/s to bring a cached prefix back (None: the
    measured H100 host-to-device PCIe copy), ``long_context`` tokens of a typical long
    request, ``fast_speedup`` x the standard tokens/s per user for the fast tier,
    ``overnight_batch`` (at least the standard batch) and ``overnight_utilisation`` for the
    batch tier.
    """

    model: str = "llama-3.1-70b"
    hardware: object = "H100-SXM"
    chips: int = 8
    usd_per_gpu_hour: float | None = None
    weight_bytes: float = 2
    kv_bytes: float = 2
    compute_dtype: str = "bf16"
    memory_fraction: float = 0.9
    context: int = 4096
    prefill_batch: int = 1
    batch: int = 256
    max_tpot: float = 0.05
    utilisation: float = 0.5
    margin: float = 0.5
    cache_link_bandwidth: float | None = None
    long_context: int = 400_000
    long_threshold: int = 200_000
    fast_speedup: float = 2.5
    overnight_batch: int = 1024
    overnight_utilisation: float = 0.9

    def __post_init__(self):
        model, chip = get_model(self.model), get_hardware(self.hardware)
        chip.peak_flops(self.compute_dtype)  # a ValueError if the chip lacks that precision
        for name in ("chips", "context", "prefill_batch", "batch", "long_context", "long_threshold",
                     "overnight_batch"):
            positive(getattr(self, name), name, integer=True, scalar=True)
        for name in ("weight_bytes", "kv_bytes"):
            positive(getattr(self, name), name, scalar=True, most=BYTES_PER_VALUE_MOST)
        for name in ("max_tpot", "fast_speedup"):
            positive(getattr(self, name), name, scalar=True)
        _fraction(self.memory_fraction, "memory_fraction")
        _fraction(self.utilisation, "utilisation")
        _fraction(self.overnight_utilisation, "overnight_utilisation")
        _margin(positive(self.margin, "margin", allow_zero=True, scalar=True))
        if self.usd_per_gpu_hour is not None:
            positive(self.usd_per_gpu_hour, "usd_per_gpu_hour", scalar=True, most=1e6)
        if self.cache_link_bandwidth is not None:
            positive(self.cache_link_bandwidth, "cache_link_bandwidth", scalar=True)
        if self.fast_speedup < 1:
            raise ValueError(f"fast_speedup must be at least 1 (a faster tier), got {self.fast_speedup!r}")
        if self.long_context <= self.context:
            raise ValueError(f"long_context ({self.long_context:,}) must be longer than context "
                             f"({self.context:,})")
        if not self.context <= self.long_threshold < self.long_context:
            raise ValueError(f"long_threshold ({self.long_threshold:,}) must lie between context "
                             f"({self.context:,}) and long_context ({self.long_context:,})")
        if self.overnight_utilisation < self.utilisation:
            raise ValueError("overnight_utilisation must be at least utilisation: the batch tier "
                             "fills quiet hours, it does not add idle time")
        fits = kv.max_batch(model, chip, self.long_context, weight_bytes=self.weight_bytes,
                            kv_bytes=self.kv_bytes, chips=self.chips, memory_fraction=self.memory_fraction)
        if fits < 1:
            need = int(chips_to_hold(model, chip, weight_bytes=self.weight_bytes,
                                     reserve_fraction=1 - self.memory_fraction))
            raise ValueError(f"not one sequence of long_context={self.long_context:,} tokens fits beside "
                             f"{model.name}'s weights on {self.chips} x {chip.name} (the weights alone "
                             f"need {need} chips): add chips, use fewer bytes, or shorten long_context")

    @property
    def gpu_hour_price(self) -> float:
        """Dollars per chip-hour: the given price or the median published on-demand one."""
        return economics.chip_hour_price(self.hardware, self.usd_per_gpu_hour)

    @property
    def link_bandwidth(self) -> float:
        """Bytes/s for bringing a cached prefix back to the chip."""
        if self.cache_link_bandwidth is not None:
            return self.cache_link_bandwidth
        return reference.load("h100")["host_and_pcie"]["h2d_pinned_GBps"] * 1e9

    def replace(self, **changes) -> "ProviderAssumptions":
        """A copy with some assumptions changed (validated)."""
        return dataclasses.replace(self, **changes)

    def step_options(self) -> dict:
        """The keyword arguments every roofline function takes."""
        return dict(weight_bytes=self.weight_bytes, kv_bytes=self.kv_bytes,
                    compute_dtype=self.compute_dtype, chips=self.chips)

    def table(self) -> list:
        """Every assumption as rows (assumption, value, what it means, where it comes from)."""
        chip, model = get_hardware(self.hardware), get_model(self.model)
        price_source = ("your choice" if self.usd_per_gpu_hour is not None else
                        "median published on-demand price, economics.gpu_prices()")
        link_source = ("your choice" if self.cache_link_bandwidth is not None else
                       "measured H100 pinned host-to-device copy (reference data)")
        rows = [
            ("model", self.model, "the model served", "models.json (lesson 01)"),
            ("chips", f"{self.chips} x {chip.name}", "chips holding one copy, ideal tensor parallelism, "
             "no communication time", "lessons 01, 10"),
            ("precision", f"weights {self.weight_bytes:g} B, KV {self.kv_bytes:g} B, compute {self.compute_dtype}",
             "bytes per weight / per cached value", "lessons 01, 08"),
            ("memory usable", f"{self.memory_fraction:.0%}", "share of memory for weights and KV cache", "lesson 08"),
            ("price per chip-hour", f"${self.gpu_hour_price:.2f}", "rent, paid whether busy or idle", price_source),
            ("typical context", f"{self.context:,} tokens", "prompt prefilled, and cache read per decode step",
             "an assumption about traffic"),
            ("prefill batch", f"{self.prefill_batch} prompt(s) per pass", "prompts sharing one prefill pass", "lesson 07"),
            ("batch policy", f"at most {self.batch} sequences", "most sequences per decode step", "lesson 06"),
            ("latency target", f"{self.max_tpot * 1e3:.0f} ms per output token",
             f"= {1 / self.max_tpot:.0f} tokens/s per user; caps the standard batch", "lessons 06, 09"),
            ("utilisation", f"{self.utilisation:.0%}", "share of paid chip time serving tokens (cost / utilisation)",
             "an assumption (lesson 09: queues and quiet hours)"),
            ("margin", f"{self.margin:.0%}", "share of the price that is not cost: price = cost / (1 - margin)",
             "an assumption"),
            ("cache link", f"{self.link_bandwidth / 1e9:.0f} GB/s", "cached KV brought back from host memory",
             link_source),
            ("long context", f"{self.long_context:,} tokens", "a typical request of the long-context tier"
             + (f" (beyond {model.name}'s {model.max_context:,}-token window: a model of its shape with a "
                "longer one)" if model.max_context and self.long_context > model.max_context else ""),
             "lesson 08"),
            ("long-context threshold", f"{self.long_threshold:,} tokens",
             "the standard tier covers prompts up to here; the long tier's step is priced against "
             "this top of it", "published sheets (data/prices.csv)"),
            ("fast tier", f"{self.fast_speedup:g}x tokens/s per user", "the speed-up it sells", "lesson 06"),
            ("overnight batch", f"at most {self.overnight_batch} sequences, no latency target",
             "the batch tier's decode batch (memory still caps it)", "lessons 06, 08"),
            ("overnight utilisation", f"{self.overnight_utilisation:.0%}",
             "the batch queue can wait, so it fills quiet hours", "an assumption (lesson 09)"),
        ]
        return [dict(assumption=a, value=v, meaning=m, source=s) for a, v, m, s in rows]


def _fraction(value, name):
    value = positive(value, name, scalar=True)
    if value > 1:
        raise ValueError(f"{name} must be a fraction in (0, 1], got {value!r}")
    return value


def _margin(margin):
    margin = positive(margin, "margin", allow_zero=True)
    if np.any(np.asarray(margin) >= 1):
        raise ValueError(f"margin must be a fraction in [0, 1), got {margin!r}")
    return margin


# --- the two small rules ------------------------------------------------------------------
def price_from_cost(usd_per_million, utilisation, margin):
    """List price from cost at full use: cost / utilisation / (1 - margin), in the unit of
    ``usd_per_million``. Broadcasts. ``utilisation`` in (0, 1], ``margin`` in [0, 1)."""
    cost = positive(usd_per_million, "usd_per_million")
    return cost / _fraction_array(utilisation, "utilisation") / (1.0 - _margin(margin))


def _fraction_array(value, name):
    value = positive(value, name)
    if np.any(np.asarray(value) > 1):
        raise ValueError(f"{name} must be a fraction in (0, 1], got {value!r}")
    return value


def latency_batch(model, hardware, context, max_tpot, most, *, weight_bytes=2, kv_bytes=2,
                  compute_dtype="bf16", chips=1) -> int:
    """The largest batch, at most ``most``, whose decode step at ``context`` takes at most
    ``max_tpot`` seconds (each user's time per token); 1 when even batch 1 is slower (the
    target then sits below the latency floor and is missed)."""
    max_tpot = positive(max_tpot, "max_tpot")
    most = int(positive(most, "most", integer=True))
    batch = np.arange(1, most + 1)
    step = decode_step(model, hardware, batch, context, weight_bytes=weight_bytes, kv_bytes=kv_bytes,
                       compute_dtype=compute_dtype, chips=chips)
    meets = np.asarray(step.seconds) <= max_tpot  # step time grows with batch
    return int(batch[meets][-1]) if meets.any() else 1


# --- the sheet ----------------------------------------------------------------------------
@dataclass(frozen=True)
class PriceSheet:
    """A derived price sheet in US dollars per million tokens, and how it runs.

    Prices: ``input``, ``cached_input``, ``output`` (standard tier, typical context);
    ``long_input``, ``long_output`` (at the long context) and ``threshold_input``,
    ``threshold_output`` (the standard tier's cost at its top, ``long_threshold`` tokens: the
    like-for-like base of a published long-context step); ``fast_input``, ``fast_output``;
    ``batch_input``, ``batch_output`` (overnight tier).

    Operation: ``batch`` sequences per standard decode step, ``tpot`` its seconds per
    output token (``meets_target`` whether that is within the latency target), ``ttft`` the
    prefill time of a typical prompt; ``long_batch``, ``fast_batch`` (0 when the fast
    speed-up cannot be had), ``fast_tpot``, ``overnight_batch`` likewise.
    """

    assumptions: ProviderAssumptions
    input: float
    cached_input: float
    output: float
    long_input: float
    long_output: float
    threshold_input: float
    threshold_output: float
    fast_input: float
    fast_output: float
    batch_input: float
    batch_output: float
    batch: int
    tpot: float
    meets_target: bool
    ttft: float
    long_batch: int
    long_tpot: float
    fast_batch: int
    fast_tpot: float
    overnight_batch: int
    overnight_tpot: float

    @property
    def ratios(self) -> dict:
        """The sheet's ratios, named as in :data:`RATIOS`. The long-context ones compare the
        long tier with the top of the standard tier (``long_threshold`` tokens), as a
        published step compares prompts above the threshold with those below it."""
        return {"output / input": self.output / self.input,
                "cached / input": self.cached_input / self.input,
                "long input / input": self.long_input / self.threshold_input,
                "long output / output": self.long_output / self.threshold_output,
                "fast output / output": self.fast_output / self.output,
                "batch output / output": self.batch_output / self.output}

    def rows(self) -> list:
        """The sheet as table rows: tier, input and output $/M, and how it runs."""
        def speed(tpot):
            return f"{1 / tpot:.0f} tokens/s per user" if math.isfinite(tpot) else "out of reach"
        a = self.assumptions
        return [
            dict(tier="standard", input=self.input, cached_input=self.cached_input, output=self.output,
                 runs=f"batch {self.batch}, {speed(self.tpot)}"
                      + ("" if self.meets_target else " (misses the latency target)")),
            dict(tier=f"long context ({a.long_context // 1000:,}k)", input=self.long_input, cached_input="",
                 output=self.long_output, runs=f"batch {self.long_batch}, {speed(self.long_tpot)}"),
            dict(tier=f"fast ({a.fast_speedup:g}x)", input=self.fast_input, cached_input="",
                 output=self.fast_output, runs=(f"batch {self.fast_batch}, {speed(self.fast_tpot)}"
                                                if self.fast_batch else "even batch 1 is not that fast")),
            dict(tier="batch (overnight)", input=self.batch_input, cached_input="", output=self.batch_output,
                 runs=f"batch {self.overnight_batch}, {speed(self.overnight_tpot)}, "
                      f"{a.overnight_utilisation:.0%} utilised"),
        ]


def price_sheet(assumptions: ProviderAssumptions | None = None, **changes) -> PriceSheet:
    """Derive the price sheet from ``assumptions`` (default :class:`ProviderAssumptions`),
    with ``changes`` applied: ``price_sheet(model="llama-3.1-8b", chips=1)``."""
    a = (assumptions or ProviderAssumptions()).replace(**changes) if changes else (
        assumptions or ProviderAssumptions())
    options = a.step_options()
    usd = a.gpu_hour_price

    def to_price(cost_per_million, utilisation=a.utilisation):
        return float(price_from_cost(cost_per_million, utilisation, a.margin))

    def input_cost(prompt):
        return 1e6 * serving.prefill_cost_per_token(a.model, a.hardware, prompt, prefill_batch=a.prefill_batch,
                                                    usd_per_gpu_hour=usd, **options)

    def decode(context, wanted):
        return kv.capped_decode(a.model, a.hardware, context, wanted, usd_per_gpu_hour=usd,
                                memory_fraction=a.memory_fraction, **options)

    def served(context):
        """Decode at ``context`` with the batch the latency target and memory allow."""
        wanted = latency_batch(a.model, a.hardware, context, a.max_tpot, a.batch, **options)
        point = decode(context, wanted)
        if not point.batch >= 1:
            raise ValueError(f"not one sequence of {context:,} tokens fits on {a.chips} x "
                             f"{get_hardware(a.hardware).name}: add chips or use fewer bytes")
        return point

    standard, long, top = served(a.context), served(a.long_context), served(a.long_threshold)
    standard_input = input_cost(a.context)
    cache_fraction = serving.cache_hit_cost_fraction(a.model, a.hardware, a.context, a.link_bandwidth,
                                                     prefill_batch=a.prefill_batch, **options)

    # fast tier: the largest batch whose step is fast_speedup x quicker than the standard one
    tiers = batching.fast_tier_curve(a.model, a.hardware, int(standard.batch), a.context, **options)
    quick = np.asarray(tiers.speedup) >= a.fast_speedup * (1 - 1e-12)
    if quick.any():
        pick = int(np.flatnonzero(quick)[-1])
        fast_batch = int(tiers.batch[pick])
        fast_output = to_price(standard.usd_per_million * tiers.price_multiple[pick])
        fast_tpot = float(standard.step.seconds / tiers.speedup[pick])
    else:
        fast_batch, fast_output, fast_tpot = 0, math.nan, math.nan

    overnight = decode(a.context, max(a.overnight_batch, int(standard.batch)))  # never below standard
    return PriceSheet(
        assumptions=a,
        input=to_price(standard_input), cached_input=to_price(standard_input * cache_fraction),
        output=to_price(standard.usd_per_million),
        long_input=to_price(input_cost(a.long_context)), long_output=to_price(long.usd_per_million),
        threshold_input=to_price(input_cost(a.long_threshold)),
        threshold_output=to_price(top.usd_per_million),
        fast_input=to_price(standard_input), fast_output=fast_output,
        batch_input=to_price(standard_input, a.overnight_utilisation),
        batch_output=to_price(overnight.usd_per_million, a.overnight_utilisation),
        batch=int(standard.batch), tpot=float(standard.step.seconds),
        meets_target=bool(standard.step.seconds <= a.max_tpot),
        ttft=float(serving.time_to_first_token(a.model, a.hardware, a.context,
                                               prefill_batch=a.prefill_batch, **options)),
        long_batch=int(long.batch), long_tpot=float(long.step.seconds),
        fast_batch=fast_batch, fast_tpot=fast_tpot,
        overnight_batch=int(overnight.batch), overnight_tpot=float(overnight.step.seconds))


# --- the published sheets -----------------------------------------------------------------
def _short_date(text: str) -> str:
    return (text or "unknown").split(" ")[0]


def _date_of(provider, model, tier) -> str:
    rows = [p for p in economics.api_prices()
            if (p.provider, p.model, p.tier) == (provider, model, tier)]
    return _short_date(rows[0].source_date) if rows else "unknown"


def standard_rows() -> list:
    """Standard-tier prices for short prompts (one per provider, model and stored copy)."""
    return [p for p in economics.api_prices()
            if p.tier == "standard" and p.input and p.output and not p.context_condition.startswith(">")]


def _standard_for(price):
    """The standard row a discount row is priced against: same provider and model, from the
    same stored copy (date) where there is one."""
    same = [p for p in standard_rows() if (p.provider, p.model) == (price.provider, price.model)]
    dated = [p for p in same if p.source_date == price.source_date]
    return (dated or same or [None])[0]


def published_ratios() -> list:
    """Every published ratio of :data:`RATIOS` from ``data/prices.csv``, one dict per
    (ratio, provider, model, tier): value, date (of the stored copy), source.

    Output/input and cached/input: standard tiers for short prompts. Long-context steps:
    ``kv.long_context_steps``. Fast tiers: ``batching.published_fast_tiers`` (output price
    multiple). Batch: the batch, flex and off-peak tiers' output price over the standard."""
    out = []

    def add(ratio, provider, model, tier, value, date, source):
        out.append(dict(ratio=ratio, provider=provider, model=model, tier=tier, value=float(value),
                        date=date, source=source))

    for p in standard_rows():
        date = _short_date(p.source_date)
        add("output / input", p.provider, p.model, p.tier, p.output_input_ratio, date, p.source)
        if p.cached_input_ratio:
            add("cached / input", p.provider, p.model, p.tier, p.cached_input_ratio, date, p.source)
    for step in kv.long_context_steps():
        date = _date_of(step.provider, step.model, step.tier)
        add("long input / input", step.provider, step.model, step.tier, step.input_step, date, step.source)
        add("long output / output", step.provider, step.model, step.tier, step.output_step, date, step.source)
    for tier in batching.published_fast_tiers():
        add("fast output / output", tier.provider, tier.model, tier.tier, tier.price_multiple,
            _date_of(tier.provider, tier.model, tier.tier), tier.source)
    for p in economics.api_prices():
        base = _standard_for(p) if p.tier in ("batch", "flex", "off-peak") else None
        if p.tier in ("batch", "flex", "off-peak") and base and p.output \
                and not p.context_condition.startswith(">"):
            add("batch output / output", p.provider, p.model, p.tier, p.output / base.output,
                _short_date(p.source_date), p.source)
    return out


def published_sheet(provider: str, model: str) -> dict:
    """One published sheet in the sheet's terms: ratio name -> value (nan where the provider
    publishes no such tier), plus ``input``, ``cached_input`` and ``output`` in $/M and the
    ``date``. ``provider`` and ``model`` must match ``data/prices.csv`` exactly."""
    base = next((p for p in standard_rows() if (p.provider, p.model) == (provider, model)), None)
    if base is None:
        known = ", ".join(sorted({f"{p.provider} / {p.model}" for p in standard_rows()}))
        raise ValueError(f"no standard price for provider={provider!r}, model={model!r}; known: {known}")
    sheet = {name: math.nan for name in RATIOS}
    for row in published_ratios():
        if (row["provider"], row["model"]) == (provider, model) and math.isnan(sheet[row["ratio"]]):
            sheet[row["ratio"]] = row["value"]
    sheet.update(input=base.input, cached_input=base.cached_input or math.nan, output=base.output,
                 date=_short_date(base.source_date))
    return sheet


def compare_with_published(sheet: PriceSheet) -> list:
    """For each ratio of :data:`RATIOS`: this sheet's value next to the published range
    (lowest, median, highest, how many sheets, and the dates of the copies)."""
    if not isinstance(sheet, PriceSheet):
        raise ValueError(f"sheet must be a PriceSheet (from price_sheet(...)), got {type(sheet).__name__}")
    published = published_ratios()
    rows = []
    for name in RATIOS:
        values = [r["value"] for r in published if r["ratio"] == name]
        dates = sorted({r["date"] for r in published if r["ratio"] == name} - {"unknown"})
        rows.append(dict(ratio=name, this_sheet=sheet.ratios[name],
                         published_low=min(values) if values else math.nan,
                         published_median=statistics.median(values) if values else math.nan,
                         published_high=max(values) if values else math.nan,
                         sheets=len(values), dates=f"{dates[0]} to {dates[-1]}" if dates else ""))
    return rows


# --- a provider's own report ----------------------------------------------------------------
@lru_cache(maxsize=None)
def serving_report(provider: str = "DeepSeek") -> dict:
    """A provider's published serving statistics from ``data/serving_reports.csv``:
    quantity -> value (units in the table; DeepSeek's 24 hours of V3/R1 serving, 2025)."""
    rows = _lookup.data_rows("serving_reports.csv")
    report = {r["quantity"]: float(r["value"]) for r in rows if r["provider"] == provider}
    if not report:
        raise ValueError(f"no serving report for {provider!r}; known: {sorted({r['provider'] for r in rows})}")
    return report
