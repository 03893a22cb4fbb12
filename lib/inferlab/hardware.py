"""The hardware catalogue: accelerators with their sourced spec-sheet figures.

Figures live in ``data/hardware.csv`` (human units, one source per row). Inside the
library everything is SI: bytes, bytes per second, FLOP per second, watts.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import lru_cache

from . import _lookup
from ._validate import optional_number, positive

#: Names accepted for each compute precision; the key is the canonical dtype.
DTYPES = {
    "bf16": ("bf16", "bfloat16", "fp16", "float16", "half"),
    "fp8": ("fp8", "float8", "e4m3", "fp8e4m3", "e5m2"),
    "int8": ("int8", "i8"),
    "fp4": ("fp4", "nvfp4", "mxfp4", "float4"),
}
_DTYPE_ALIASES = {alias: canonical for canonical, names in DTYPES.items() for alias in names}
_CSV_FLOPS = {"bf16": "bf16_TFLOPS", "fp8": "fp8_TFLOPS", "int8": "int8_TOPS", "fp4": "fp4_TFLOPS"}


def canonical_dtype(dtype: str) -> str:
    """Return the canonical name ('bf16', 'fp8', 'int8', 'fp4') of a compute precision."""
    key = _lookup.normalise(dtype) if isinstance(dtype, str) else None
    if key not in _DTYPE_ALIASES:
        raise ValueError(
            f"compute_dtype must be one of {', '.join(DTYPES)}, got {dtype!r}"
        )
    return _DTYPE_ALIASES[key]


@dataclass(frozen=True)
class Hardware:
    """One accelerator (per chip).

    Attributes are SI: ``memory_bytes`` in bytes, ``memory_bandwidth`` in bytes/s,
    ``flops`` maps a dtype to dense peak FLOP/s, ``power_watts`` in W,
    ``interconnect_bandwidth`` in bytes/s per chip (0 when unknown).

    ``memory_bytes`` is the *usable* capacity, as the driver reports it where a report
    exists (nvidia-smi shows the "80 GB" H100 as 81,559 MiB = 85.5e9 bytes: vendors' GB
    are close to GiB). ``vendor_memory_bytes`` keeps the maker's marketing figure (GB x
    1e9; 0 where not given) and ``memory_source`` says where the usable figure comes from.
    Every capacity computation (chips to hold a model, KV cache room) uses ``memory_bytes``.
    """

    name: str
    memory_bytes: float
    memory_bandwidth: float
    flops: dict = field(default_factory=dict)
    power_watts: float = 0.0
    interconnect: str = ""
    interconnect_bandwidth: float = 0.0
    year: int = 0
    vendor: str = ""
    memory_type: str = ""
    aliases: tuple = ()
    source: str = ""
    confidence: str = ""
    notes: str = ""
    vendor_memory_bytes: float = 0.0
    memory_source: str = ""

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"name must be a non-empty string, got {self.name!r}")
        for name, zero_means_unknown in (("memory_bytes", False), ("memory_bandwidth", False),
                                         ("power_watts", True), ("interconnect_bandwidth", True)):
            value = positive(getattr(self, name), name, allow_zero=zero_means_unknown)
            if not isinstance(value, float):
                raise ValueError(f"{name} must be one number (this is one chip), got an array")
            object.__setattr__(self, name, value)
        if not isinstance(self.flops, dict):
            raise ValueError(f"flops must be a dict of dtype -> peak FLOP/s, e.g. {{'bf16': 989e12}}, "
                             f"got {self.flops!r}")
        flops = {}
        for dtype, value in self.flops.items():
            key = canonical_dtype(dtype)
            if key in flops:
                raise ValueError(f"flops names {key} twice (as {dtype!r} and an alias of it)")
            flops[key] = positive(value, f"flops[{dtype!r}] (peak FLOP/s)")
            if not isinstance(flops[key], float):
                raise ValueError(f"flops[{dtype!r}] must be one number, got an array")
        # Store canonical names, so that flops={"bfloat16": ...} is found by peak_flops("bf16").
        object.__setattr__(self, "flops", flops)

    def peak_flops(self, dtype: str = "bf16") -> float:
        """Dense peak FLOP/s for ``dtype``; a ``ValueError`` if this chip lacks that precision."""
        canonical = canonical_dtype(dtype)
        if canonical not in self.flops:
            has = f"it has {', '.join(self.flops)}" if self.flops else "its maker publishes none we could verify"
            raise ValueError(f"{self.name} has no {canonical} peak FLOP/s in the catalogue; {has}")
        return self.flops[canonical]

    @property
    def dtypes(self) -> tuple:
        """The precisions this chip has a dense peak for."""
        return tuple(self.flops)

    def ridge_point(self, dtype: str = "bf16") -> float:
        """Arithmetic intensity (FLOP per byte) at which compute time equals memory time."""
        return self.peak_flops(dtype) / self.memory_bandwidth

    def replace(self, **changes) -> "Hardware":
        """A copy with some fields changed, e.g. ``h100.replace(memory_bandwidth=3.0e12)``.

        ``bf16_flops=...`` style keywords change one dtype's peak. The copy is validated.
        """
        flops = dict(self.flops)
        for key in [k for k in changes if k.endswith("_flops")]:
            flops[canonical_dtype(key[: -len("_flops")])] = changes.pop(key)
        return dataclasses.replace(self, flops=flops, **changes)




def _from_row(row: dict) -> Hardware:
    flops = {}
    for dtype, column in _CSV_FLOPS.items():
        value = optional_number(row.get(column, ""))
        if value is not None:
            flops[dtype] = value * 1e12
    vendor_bytes = float(row["memory_GB"]) * 1e9
    usable_mib = optional_number(row.get("usable_memory_MiB"))
    return Hardware(
        name=row["name"],
        memory_bytes=vendor_bytes if usable_mib is None else usable_mib * 2.0 ** 20,
        vendor_memory_bytes=vendor_bytes,
        memory_source=row.get("usable_memory_source", ""),
        memory_bandwidth=float(row["memory_bandwidth_TBps"]) * 1e12,
        flops=flops,
        power_watts=optional_number(row.get("power_W")) or 0.0,
        interconnect=row.get("interconnect", ""),
        interconnect_bandwidth=(optional_number(row.get("interconnect_GBps")) or 0.0) * 1e9,
        year=int(optional_number(row.get("year")) or 0),
        vendor=row.get("vendor", ""),
        memory_type=row.get("memory_type", ""),
        aliases=tuple(a.strip() for a in (row.get("aliases") or "").split(";") if a.strip()),
        source=row.get("source", ""),
        confidence=row.get("confidence", ""),
        notes=row.get("notes", ""),
    )


@lru_cache(maxsize=None)
def _catalogue() -> dict:
    return _lookup.index(_from_row(row) for row in _lookup.data_rows("hardware.csv"))


def get_hardware(name) -> Hardware:
    """Return the catalogue entry for ``name`` ("H100 SXM", "h100-sxm" and "H100_SXM" all work).

    A ``Hardware`` passed in is returned as it is, so functions can take either.
    """
    if isinstance(name, Hardware):
        return name
    return _lookup.find(name, _catalogue(), "hardware")


def list_hardware() -> list:
    """Canonical names of every chip in the catalogue, in catalogue order."""
    return list(dict.fromkeys(chip.name for chip in _catalogue().values()))
