"""Money: what a step costs on rented chips, and the published prices to compare with.

Prices are in US dollars. ``data/prices.csv`` holds published API prices per million tokens
(input, cached input, output) by provider, model, tier and context condition;
``data/gpu_prices.csv`` holds published rental prices per GPU-hour. Each row has its source.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from . import _lookup
from ._validate import optional_number, positive, same_shape

SECONDS_PER_HOUR = 3600.0
#: The tier words used in prices.csv.
TIERS = ("standard", "batch", "flex", "priority", "fast", "off-peak")


def cost_per_million_tokens(step_seconds, tokens_per_step, usd_per_chip_hour, chips=1):
    """Dollars per million tokens when ``chips`` rented chips spend ``step_seconds`` to
    produce ``tokens_per_step`` tokens (at full utilisation; divide by utilisation for idle
    time). Broadcasts over arrays."""
    same_shape(**locals())
    step_seconds = positive(step_seconds, "step_seconds")
    tokens_per_step = positive(tokens_per_step, "tokens_per_step")
    usd_per_chip_hour = positive(usd_per_chip_hour, "usd_per_chip_hour")
    chips = positive(chips, "chips")
    usd_per_second = usd_per_chip_hour * chips / SECONDS_PER_HOUR
    return usd_per_second * step_seconds / tokens_per_step * 1e6


def electricity_cost_per_million_tokens(joules_per_token, usd_per_kwh):
    """Dollars per million tokens for the energy alone (1 kWh = 3.6e6 J)."""
    same_shape(**locals())
    joules_per_token = positive(joules_per_token, "joules_per_token")
    usd_per_kwh = positive(usd_per_kwh, "usd_per_kwh")
    return joules_per_token * 1e6 / 3.6e6 * usd_per_kwh


@dataclass(frozen=True)
class ApiPrice:
    """One published price: dollars per million tokens (None where not published)."""

    provider: str
    model: str
    tier: str
    context_condition: str
    input: float | None
    cached_input: float | None
    output: float | None
    speedup: float | None
    source: str
    source_date: str
    confidence: str
    notes: str

    @property
    def output_input_ratio(self):
        """Output price / input price (None when either is missing)."""
        return self.output / self.input if self.input and self.output else None

    @property
    def cached_input_ratio(self):
        """Cached-input price / input price (None when either is missing)."""
        return self.cached_input / self.input if self.input and self.cached_input else None


@dataclass(frozen=True)
class GpuPrice:
    """A published rental price for one GPU for one hour, in dollars."""

    hardware: str
    provider: str
    usd_per_gpu_hour: float
    pricing_kind: str
    source: str
    source_date: str
    confidence: str
    notes: str




@lru_cache(maxsize=None)
def api_prices() -> tuple:
    """Every published API price in ``data/prices.csv``."""
    return tuple(ApiPrice(provider=r["provider"], model=r["model"], tier=r["tier"],
                          context_condition=r["context_condition"],
                          input=optional_number(r["input_usd_per_Mtok"]),
                          cached_input=optional_number(r["cached_input_usd_per_Mtok"]),
                          output=optional_number(r["output_usd_per_Mtok"]),
                          speedup=optional_number(r.get("speedup")), source=r["source"],
                          source_date=r["source_date"], confidence=r["confidence"],
                          notes=r["notes"]) for r in _lookup.data_rows("prices.csv"))


def find_prices(provider: str | None = None, model: str | None = None,
                tier: str | None = None) -> list:
    """Published prices filtered by provider, model and tier (case-insensitive substrings)."""
    def keep(value, wanted):
        return wanted is None or wanted.lower() in value.lower()
    return [p for p in api_prices()
            if keep(p.provider, provider) and keep(p.model, model) and keep(p.tier, tier)]


@lru_cache(maxsize=None)
def gpu_prices() -> tuple:
    """Every published GPU rental price in ``data/gpu_prices.csv``."""
    return tuple(GpuPrice(hardware=r["hardware"], provider=r["provider"],
                          usd_per_gpu_hour=float(r["usd_per_gpu_hour"]),
                          pricing_kind=r["pricing_kind"], source=r["source"],
                          source_date=r["source_date"], confidence=r["confidence"],
                          notes=r["notes"]) for r in _lookup.data_rows("gpu_prices.csv"))


def gpu_hour_price(hardware: str = "H100-SXM") -> float:
    """The median published on-demand price of one GPU-hour of ``hardware``, in dollars.

    An example input for the lessons, not a market quote: see ``gpu_prices()`` for the rows.
    """
    from statistics import median
    from .hardware import get_hardware

    name = get_hardware(hardware).name
    rows = [p.usd_per_gpu_hour for p in gpu_prices()
            if p.hardware == name and p.pricing_kind == "on-demand"]
    if not rows:
        known = sorted({p.hardware for p in gpu_prices()})
        raise ValueError(f"no on-demand price for {name} in gpu_prices.csv (priced: {', '.join(known)}); "
                         "pass usd_per_gpu_hour=... (dollars per chip-hour) to choose one")
    return float(median(rows))


def chip_hour_price(hardware, usd_per_gpu_hour=None) -> float:
    """``usd_per_gpu_hour`` checked (dollars per chip-hour) or, when it is None, the median
    published on-demand price for ``hardware`` (:func:`gpu_hour_price`)."""
    if usd_per_gpu_hour is not None:
        return positive(usd_per_gpu_hour, "usd_per_gpu_hour")
    return gpu_hour_price(hardware)
