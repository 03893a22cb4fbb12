"""Memory technologies and links side by side: DDR, LPDDR, GDDR, HBM, PCIe, NVLink.

Figures live in ``data/memory.csv`` (human units, one source per row). Each row is one
*unit* of a technology (a DDR channel, an HBM stack, a GDDR device, a whole LPDDR5X
system, a link in one direction). Inside the library everything is SI: bytes, bytes per
second, joules per bit, US dollars per byte.

A memory *system* is ``count`` units side by side: bandwidth and capacity both add up.
:func:`memory_system` turns one into a :class:`~inferlab.hardware.Hardware`, so the
roofline functions (``latency_floor``, ``decode_step``) work on it unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from . import _lookup
from ._validate import optional_number, positive
from .hardware import Hardware, get_hardware

KINDS = ("memory", "link")


@dataclass(frozen=True)
class MemoryTech:
    """One unit of a memory technology or link.

    ``bandwidth`` in bytes/s (for a link: one direction), ``capacity_bytes`` in bytes
    (``None`` for links), ``energy_per_bit`` in joules per bit and ``usd_per_byte`` in US
    dollars per byte (``None`` where no source gives one). ``unit`` says what one unit is.
    """

    name: str
    kind: str
    technology: str
    unit: str
    bandwidth: float
    capacity_bytes: float | None = None
    energy_per_bit: float | None = None
    usd_per_byte: float | None = None
    data_rate_per_pin: float | None = None
    width_bits: int | None = None
    year: int = 0
    aliases: tuple = ()
    source: str = ""
    confidence: str = ""
    notes: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        positive(self.bandwidth, "bandwidth")
        for name in ("capacity_bytes", "energy_per_bit", "usd_per_byte", "data_rate_per_pin"):
            if getattr(self, name) is not None:
                positive(getattr(self, name), name)

    @property
    def is_link(self) -> bool:
        """True for a link (PCIe, NVLink): it moves bytes, it holds none."""
        return self.kind == "link"

    @property
    def joules_per_byte(self):
        """Energy to move one byte, J (``None`` where no source gives pJ/bit)."""
        return None if self.energy_per_bit is None else self.energy_per_bit * 8

    @property
    def bandwidth_per_capacity(self):
        """Bytes/s per byte held (1/s): how often a full memory could be read per second.

        Its inverse is the time to read the whole memory once: the latency floor of a
        model that fills it exactly.
        """
        return None if self.capacity_bytes is None else self.bandwidth / self.capacity_bytes




def _from_row(row: dict) -> MemoryTech:
    capacity = optional_number(row["capacity_GB"])
    energy = optional_number(row["pJ_per_bit"])
    price = optional_number(row["usd_per_GB"])
    rate = optional_number(row["data_rate_Gbps_per_pin"])
    width = optional_number(row["width_bits"])
    return MemoryTech(
        name=row["name"], kind=row["kind"], technology=row["technology"], unit=row["unit"],
        bandwidth=float(row["bandwidth_GBps"]) * 1e9,
        capacity_bytes=None if capacity is None else capacity * 1e9,
        energy_per_bit=None if energy is None else energy * 1e-12,
        usd_per_byte=None if price is None else price / 1e9,
        data_rate_per_pin=None if rate is None else rate * 1e9,
        width_bits=None if width is None else int(width),
        year=int(optional_number(row["year"]) or 0),
        aliases=tuple(a.strip() for a in (row["aliases"] or "").split(";") if a.strip()),
        source=row["source"], confidence=row["confidence"], notes=row["notes"],
    )


@lru_cache(maxsize=None)
def _catalogue() -> dict:
    return _lookup.index(_from_row(row) for row in _lookup.data_rows("memory.csv"))


def get_memory(name) -> MemoryTech:
    """The catalogue entry for ``name`` ("DDR5-4800 channel", "ddr5", "HBM3e" all work).

    A ``MemoryTech`` passed in is returned as it is. Unknown names raise a ``ValueError``
    that lists the closest ones.
    """
    if isinstance(name, MemoryTech):
        return name
    return _lookup.find(name, _catalogue(), "memory technology")


def list_memory(kind: str | None = None) -> list:
    """Canonical names in catalogue order; ``kind='memory'`` or ``'link'`` to filter."""
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)} or None, got {kind!r}")
    techs = dict.fromkeys(_catalogue().values())
    return [t.name for t in techs if kind is None or t.kind == kind]


def memory_system(memory, count=1, *, capacity_bytes=None, compute_like=None) -> Hardware:
    """``count`` units of ``memory`` side by side, as a :class:`Hardware` for the roofline.

    Bandwidth is ``count x`` the unit's; capacity is ``count x`` the unit's unless
    ``capacity_bytes`` is given (more DIMMs per channel add capacity, not bandwidth).
    ``compute_like``: a chip (name or ``Hardware``) whose peak FLOP/s the system borrows,
    for "what if this chip had that memory" questions; without it the system has no FLOP/s
    and only bandwidth questions (``latency_floor``) can be asked of it.
    """
    tech = get_memory(memory)
    if tech.is_link:
        raise ValueError(f"{tech.name} is a link, not a memory: it holds no bytes "
                         "(use it as link_bandwidth in offload_step_seconds)")
    count = positive(count, "count", integer=True)
    if capacity_bytes is None:
        capacity_bytes = tech.capacity_bytes * count
    capacity_bytes = positive(capacity_bytes, "capacity_bytes")
    flops = dict(get_hardware(compute_like).flops) if compute_like is not None else {}
    label = f"{int(count)} x {tech.name}"
    if compute_like is not None:
        label = f"{get_hardware(compute_like).name} compute + {label}"
    return Hardware(name=label, memory_bytes=float(capacity_bytes),
                    memory_bandwidth=tech.bandwidth * count, flops=flops,
                    memory_type=tech.technology, source=tech.source,
                    confidence=tech.confidence)
