"""Energy: what moving a byte and doing a FLOP cost, and the joules behind one token.

Two levels, kept apart because they answer different questions:

- **Circuit level** (``data/energy.csv``): Horowitz's 45 nm table (ISSCC 2014, via two
  reproductions) and Dally's keynote figures: picojoules per arithmetic operation and per
  memory access. They say where the energy of a chip goes, not what a card draws.
- **Card level** (:class:`ChipEnergy`): the whole-card figures measured on the shipped H100
  and H200 with NVML's energy counter: joules per byte of HBM traffic and per bf16 FLOP
  *above idle*, plus idle power. For other chips nothing was measured, and
  :func:`chip_energy` says so (``measured=False``) when it lends them the H100's figures.

:func:`decode_energy` turns a roofline decode step (``inferlab.decode_step``) into joules
per generated token, split into weights, KV cache, compute and idle:
``E = joules_per_byte x bytes + joules_per_flop x FLOPs + idle_watts x seconds``.
Everything is SI: joules, bytes, FLOPs, seconds, watts.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from . import reference
from .economics import electricity_cost_per_million_tokens
from .hardware import canonical_dtype, get_hardware
from .models import get_model
from .roofline import decode_step
from . import _lookup
from ._validate import positive

PICO = 1e-12


# --- circuit level: the published table --------------------------------------------------
@dataclass(frozen=True)
class OperationEnergy:
    """One published energy: ``joules`` per operation (``kind='compute'``) or per access
    (``kind='memory'``) of ``bits`` bits (0 where the source does not say)."""

    key: str
    operation: str
    kind: str
    bits: int
    process: str
    joules: float
    per: str
    source: str
    original_publication: str
    confidence: str
    notes: str

    @property
    def picojoules(self) -> float:
        return self.joules / PICO

    @property
    def joules_per_bit(self) -> float:
        """Energy per bit moved (memory rows with a known width only)."""
        if self.kind != "memory" or not self.bits:
            raise ValueError(f"{self.key} has no per-bit energy: it is a {self.kind} row"
                             f"{'' if self.bits else ' without a stated width'}")
        return self.joules / self.bits


@lru_cache(maxsize=None)
def published_energies() -> tuple:
    """Every row of ``data/energy.csv`` (Horowitz 2014, Dally 2019), with its source."""
    rows = []
    for r in _lookup.data_rows("energy.csv"):
        rows.append(OperationEnergy(
            key=r["key"], operation=r["operation"], kind=r["kind"],
            bits=int(r["bits"]) if r["bits"].strip() else 0, process=r["process"],
            joules=float(r["energy_pJ"]) * PICO, per=r["per"], source=r["source"],
            original_publication=r["original_publication"], confidence=r["confidence"],
            notes=r["notes"]))
    return tuple(rows)


def published_energy(key: str) -> OperationEnergy:
    """The row of ``data/energy.csv`` called ``key`` (e.g. 'dram_32b', 'int8_mult')."""
    table = {row.key: row for row in published_energies()}
    if key not in table:
        raise ValueError(f"no energy row {key!r}; known keys: {', '.join(table)}")
    return table[key]


def fetch_to_operation_ratio(memory: str, operation: str, *, per: str = "value") -> float:
    """How many times the energy of ``operation`` it costs to fetch its operand from
    ``memory`` (keys of ``data/energy.csv``).

    ``per='value'``: fetch only the operand's own bits (an 8-bit weight is a quarter of a
    32-bit read). ``per='access'``: one whole access of the memory's stated width, as the
    table prints it.
    """
    fetch, op = published_energy(memory), published_energy(operation)
    if fetch.kind != "memory" or op.kind != "compute":
        raise ValueError(f"memory must be a memory row and operation a compute row, got "
                         f"{memory!r} ({fetch.kind}) and {operation!r} ({op.kind})")
    if per == "access":
        return fetch.joules / op.joules
    if per == "value":
        if not op.bits:
            raise ValueError(f"{operation!r} has no stated width; use per='access'")
        return fetch.joules_per_bit * op.bits / op.joules
    raise ValueError(f"per must be 'value' or 'access', got {per!r}")


# --- card level: measured whole-card figures ---------------------------------------------
@dataclass(frozen=True)
class ChipEnergy:
    """Whole-card energy figures of one accelerator.

    ``joules_per_byte``: energy per byte of HBM traffic above idle (J/B).
    ``joules_per_flop``: energy per bf16 FLOP above idle (J/FLOP), from a large GEMM, so it
    includes the on-chip movement of operands (registers, shared memory, L2).
    ``idle_watts``: the card's power while idle (W). ``power_limit_watts``: the most it may
    draw (W; 0 when unknown). ``measured``: False when the figures are borrowed from another
    chip (an assumption, not a measurement of this one).
    """

    name: str
    joules_per_byte: float
    joules_per_flop: float
    idle_watts: float
    measured: bool
    power_limit_watts: float = 0.0
    source: str = ""
    notes: str = ""

    def __post_init__(self):
        positive(self.joules_per_byte, "joules_per_byte")
        positive(self.joules_per_flop, "joules_per_flop")
        positive(self.idle_watts, "idle_watts", allow_zero=True)
        positive(self.power_limit_watts, "power_limit_watts", allow_zero=True)

    def flop_joules(self, compute_dtype="bf16", hardware=None) -> float:
        """Joules per FLOP in ``compute_dtype``. Only bf16 was measured. For another dtype
        we assume the card draws the same power at its peak in either format, so the energy
        per FLOP scales with peak_bf16 / peak_dtype (fp8: about half). ``hardware`` names the
        chip whose peaks to use (default: this one)."""
        dtype = canonical_dtype(compute_dtype)
        if dtype == "bf16":
            return self.joules_per_flop
        chip = get_hardware(hardware or self.name)
        return self.joules_per_flop * chip.peak_flops("bf16") / chip.peak_flops(dtype)

    def replace(self, **changes) -> "ChipEnergy":
        """A copy with some figures changed (validated)."""
        return dataclasses.replace(self, **changes)


#: Catalogue names with a shipped energy measurement, and the reference file for each.
MEASURED = {"H100-SXM": "h100", "H200": "h200"}


def measured_chip_energy(device: str = "h100") -> ChipEnergy:
    """The figures measured on the shipped ``device`` ('h100' or 'h200') with NVML's total
    energy counter: 3 s of HBM copies, 3 s of 8192^3 bf16 GEMMs, 2 s idle (METHOD.md)."""
    section = reference.load(device)["energy"]
    name = reference.CATALOGUE_NAME[reference._device(device)]
    return ChipEnergy(
        name=name,
        joules_per_byte=section["hbm_copy"]["pJ_per_byte_above_idle"] * PICO,
        joules_per_flop=section["bf16_gemm_8192"]["pJ_per_flop_above_idle"] * PICO,
        idle_watts=section["idle_watts"],
        measured=True,
        power_limit_watts=section["power_limit_watts"],
        source=f"inferlab.reference.load({device!r})['energy'] (NVML total energy counter)",
        notes="Whole card above idle: SMs, L2, memory controllers, HBM and clocks together. "
              "Bytes are a copy's reads + writes; FLOPs are a large GEMM's.")


def chip_energy(hardware="H100-SXM") -> ChipEnergy:
    """Energy figures for ``hardware``: measured for the H100 SXM and H200; for any other
    chip the H100's figures, marked ``measured=False`` (an assumption to change, not a fact
    about that chip). A ``ChipEnergy`` passed in is returned as it is."""
    if isinstance(hardware, ChipEnergy):
        return hardware
    chip = get_hardware(hardware)
    if chip.name in MEASURED:
        return measured_chip_energy(MEASURED[chip.name])
    h100 = measured_chip_energy("h100")
    return h100.replace(
        name=chip.name, measured=False, power_limit_watts=chip.power_watts,
        notes=f"ASSUMED: nothing was measured on the {chip.name}; these are the H100 SXM's "
              "whole-card figures (power limit: the catalogue's TDP). Its memory type, process "
              "and idle power differ.")


# --- a decode step in joules ---------------------------------------------------------------
@dataclass(frozen=True)
class TokenEnergy:
    """Joules per generated token of one decode step, split four ways (arrays broadcast):
    ``weights`` and ``kv`` (bytes moved), ``compute`` (FLOPs), ``idle`` (idle power x step
    time). ``step_seconds`` is the roofline step time, ``batch`` the tokens per step and
    ``chips`` the number of chips sharing it."""

    weights: object
    kv: object
    compute: object
    idle: object
    step_seconds: object
    batch: object
    chip: ChipEnergy
    chips: int = 1

    @property
    def movement(self):
        """Weights + KV cache: the joules spent moving bytes, per token."""
        return self.weights + self.kv

    @property
    def total(self):
        """All four parts, joules per token."""
        return self.weights + self.kv + self.compute + self.idle

    @property
    def average_watts(self):
        """The card's average power during the step (all chips together), W."""
        return self.total * self.batch / self.step_seconds

    @property
    def exceeds_power_limit(self):
        """True where the step would need more than the chips' power limit: moving the bytes
        and doing the FLOPs at full speed at once. A real card then lowers its clocks and
        takes longer (the roofline time and idle energy are too low there), and adding the two
        above-idle figures counts twice the power any busy card pays (clocks up, SMs awake):
        the model is unreliable where this is True."""
        if not self.chip.power_limit_watts:
            return np.zeros(np.shape(self.total), dtype=bool) if np.ndim(self.total) else False
        over = np.asarray(self.average_watts) > self.chip.power_limit_watts * self.chips
        return bool(over) if over.ndim == 0 else over

    def parts(self) -> dict:
        """The four parts by name, joules per token."""
        return {"weights": self.weights, "KV cache": self.kv, "compute": self.compute,
                "idle": self.idle}

    def electricity_cost_per_million_tokens(self, usd_per_kwh):
        """Dollars of electricity per million tokens at ``usd_per_kwh`` (card only: no
        cooling, no host, no network)."""
        return electricity_cost_per_million_tokens(self.total, usd_per_kwh)


def decode_energy(model, hardware, batch, context, *, weight_bytes=2, kv_bytes=2,
                  compute_dtype="bf16", chips=1, energy=None) -> TokenEnergy:
    """Joules per generated token of one decode step of ``batch`` sequences at ``context``
    cached tokens (scalars or arrays, which broadcast).

    Bytes, FLOPs and seconds come from ``decode_step``. The weights are read once per step
    and shared by the batch; KV bytes and FLOPs are per sequence; idle power is paid for
    the whole (roofline, so shortest) step. ``energy``: a :class:`ChipEnergy` to use instead
    of ``chip_energy(hardware)``. With ideal tensor parallelism over ``chips`` the joules
    per token do not change (each chip moves 1/chips of the bytes in 1/chips of the time);
    the energy of the communication between chips is not counted.
    """
    positive(chips, "chips", integer=True, scalar=True)
    figures = chip_energy(hardware if energy is None else energy)
    step = decode_step(model, hardware, batch, context, weight_bytes=weight_bytes,
                       kv_bytes=kv_bytes, compute_dtype=compute_dtype, chips=chips)
    chips = positive(chips, "chips", integer=True)
    per_token = chips / np.asarray(step.tokens, dtype=float)  # per-chip -> all chips, per token
    joules_per_flop = figures.flop_joules(compute_dtype, hardware)
    return TokenEnergy(
        weights=_plain(step.weight_bytes * figures.joules_per_byte * per_token),
        kv=_plain(step.kv_bytes * figures.joules_per_byte * per_token),
        compute=_plain(step.flops * joules_per_flop * per_token),
        idle=_plain(figures.idle_watts * step.seconds * per_token),
        step_seconds=step.seconds, batch=step.tokens, chip=figures, chips=int(chips))


def _plain(value):
    array = np.asarray(value, dtype=float)
    return float(array) if array.ndim == 0 else array


def weight_fetch_in_flops(hardware="H100-SXM", weight_bytes=2, compute_dtype="bf16") -> float:
    """How many FLOPs cost as much energy as fetching one weight of ``weight_bytes`` bytes
    from HBM, with the card-level figures (about 200 for bf16 on the H100)."""
    figures = chip_energy(hardware)
    weight_bytes = positive(weight_bytes, "weight_bytes")
    return figures.joules_per_byte * weight_bytes / figures.flop_joules(compute_dtype, hardware)


def compute_overtakes_movement(model, hardware, context, *, weight_bytes=2, kv_bytes=2,
                               compute_dtype="bf16", energy=None, max_batch=2 ** 40):
    """The smallest batch at which compute energy per token reaches movement energy per
    token (weights + KV), for each ``context`` (scalar or array). ``inf`` where it never
    does: the KV bytes are per sequence, so at long context their energy alone can exceed
    the FLOPs' whatever the batch."""
    positive(max_batch, "max_batch", integer=True, scalar=True)
    context = positive(context, "context", integer=True)
    max_batch = int(positive(max_batch, "max_batch", integer=True))

    def gap(batch):  # compute - movement, per token; rises with batch
        e = decode_energy(model, hardware, batch, context, weight_bytes=weight_bytes,
                          kv_bytes=kv_bytes, compute_dtype=compute_dtype, energy=energy)
        return np.asarray(e.compute - e.movement)

    shape = np.shape(context)
    low = np.ones(shape, dtype=np.int64)
    high = np.full(shape, max_batch, dtype=np.int64)
    done_at_one = gap(low) >= 0
    never = gap(high) < 0
    for _ in range(int(np.ceil(np.log2(max_batch))) + 1):  # invariant: gap(low) < 0 <= gap(high)
        middle = (low + high) // 2
        reached = gap(np.maximum(middle, 1)) >= 0
        high = np.where(reached, middle, high)
        low = np.where(reached, low, middle)
        if np.all(high - low <= 1):
            break
    answer = np.where(done_at_one, 1.0, high.astype(float))
    answer = np.where(never, np.inf, answer)
    return float(answer) if answer.ndim == 0 else answer


def energy_table(models=("llama-3.1-8b", "llama-3.1-70b"), hardware="H100-SXM",
                 batches=(1, 8, 64, 256, 1024), context=1024, usd_per_kwh=0.10):
    """Rows (one per model and batch) of joules per token, its split, and the electricity
    cost per million tokens; for ``inferlab.display.Table``."""
    positive(context, "context", integer=True, scalar=True)
    positive(usd_per_kwh, "usd_per_kwh", scalar=True)
    rows = []
    for name in models:
        e = decode_energy(name, hardware, np.asarray(batches), context)
        cost = e.electricity_cost_per_million_tokens(usd_per_kwh)
        for i, batch in enumerate(batches):
            rows.append({"model": get_model(name).name, "batch": int(batch),
                         "J/token": f"{e.total[i]:.3g}",
                         "weights": f"{e.weights[i] / e.total[i]:.0%}",
                         "KV": f"{e.kv[i] / e.total[i]:.0%}",
                         "compute": f"{e.compute[i] / e.total[i]:.0%}",
                         "idle": f"{e.idle[i] / e.total[i]:.0%}",
                         f"$/M tokens at ${usd_per_kwh:g}/kWh": f"{cost[i]:.3g}"})
    return rows
