"""Many chips for one model: pipeline, tensor and expert parallelism in decode.

A model too big for one chip must be split. Two ways, and their combination:

- **pipeline parallelism** (PP): ``stages`` groups of chips each hold a slice of the
  layers. A token passes the stages in turn, and its activations hop over a link at every
  stage boundary. It adds memory, not speed: a token still passes every layer.
- **tensor parallelism** (TP): ``tensor_parallel`` chips each hold a slice of *every*
  matrix and do that share of the work, so each chip reads 1/N of the weights per step.
  After each layer's attention and again after its MLP, the chips sum their partial
  results: an all-reduce (Megatron-LM: two per layer in the forward pass).

A collective's time is ``latency + bytes / link bandwidth``. A ring all-reduce of an
``M``-byte message over ``N`` chips sends and receives ``2 (N - 1) / N x M`` bytes per chip
(reduce-scatter, then all-gather), each way at the link's one-direction bandwidth. The
fixed ``latency`` per collective is an assumption with sources in ``data/link_latency.csv``.

Compute per chip is the roofline of ``roofline.decode_step`` with the work split over the
chips, so everything here is a lower bound plus the communication we model. Seconds in s,
bytes in bytes, bandwidths in bytes/s; arrays broadcast.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from . import _lookup
from ._validate import BYTES_PER_VALUE_MOST, positive, same_shape
from .hardware import get_hardware
from .kv import kv_cache_bytes
from .memory import MemoryTech, get_memory
from .models import get_model
from .roofline import (attention_layout, chips_to_hold, decode_step, kv_share_per_chip,
                       weight_bytes_per_chip)

#: All-reduces per layer in a forward pass with Megatron-style tensor parallelism: one after
#: the attention output projection, one after the MLP down projection (Shoeybi et al. 2019).
ALL_REDUCES_PER_LAYER = 2


# --- links ----------------------------------------------------------------------------------
def link_bandwidth(link) -> float:
    """One-direction bandwidth of ``link`` in bytes/s: a link name from the memory catalogue
    ("NVLink 4", "PCIe Gen5"), a :class:`~inferlab.memory.MemoryTech` link, or a number."""
    if isinstance(link, (str, MemoryTech)):
        tech = get_memory(link)
        if not tech.is_link:
            raise ValueError(f"link must be a link (NVLink, PCIe), got the memory {tech.name!r}")
        return tech.bandwidth
    return positive(link, "link")


@dataclass(frozen=True)
class LinkLatency:
    """The assumed fixed cost of one collective (or one hop) on a link, in seconds, with the
    range the sources show (``low``, ``high``) and where they come from."""

    link: str
    seconds: float
    low: float
    high: float
    source: str
    confidence: str
    notes: str


@lru_cache(maxsize=None)
def _latency_table() -> dict:
    table = {}
    for row in _lookup.data_rows("link_latency.csv"):
        entry = LinkLatency(row["link"], float(row["latency_us"]) * 1e-6, float(row["low_us"]) * 1e-6,
                            float(row["high_us"]) * 1e-6, row["source"], row["confidence"], row["notes"])
        table[_lookup.normalise(entry.link)] = entry
    return table


def link_latencies() -> list:
    """Every assumed per-collective latency in ``data/link_latency.csv``, as :class:`LinkLatency`."""
    return list(_latency_table().values())


def collective_latency(link) -> float:
    """Seconds of fixed cost per collective on ``link`` (from ``data/link_latency.csv``).

    Only named links have one; for a bare bandwidth pass ``latency=`` yourself."""
    if not isinstance(link, (str, MemoryTech)):
        raise ValueError("a link given as a bandwidth has no known latency: pass latency= (seconds)")
    name = get_memory(link).name
    entry = _latency_table().get(_lookup.normalise(name))
    if entry is None:
        known = ", ".join(e.link for e in link_latencies())
        raise ValueError(f"no sourced collective latency for {name}; known: {known}. "
                         "Pass latency= (seconds) to assume one.")
    return entry.seconds


def _latency(link, latency):
    return collective_latency(link) if latency is None else positive(latency, "latency", allow_zero=True)


def ring_all_reduce_bytes(message_bytes, chips):
    """Bytes each chip sends (and receives) in a ring all-reduce of ``message_bytes`` over
    ``chips`` chips: 2 (N - 1) / N x message (0 for one chip)."""
    same_shape(**locals())
    message_bytes = positive(message_bytes, "message_bytes", allow_zero=True)
    chips = positive(chips, "chips", integer=True)
    return 2.0 * (chips - 1.0) / chips * message_bytes


def all_reduce_seconds(message_bytes, chips, link="NVLink 4", *, latency=None):
    """Seconds for one all-reduce of ``message_bytes`` over ``chips`` chips on ``link``:
    latency + 2 (N - 1) / N x message / one-direction bandwidth; 0 for one chip.

    ``latency``: fixed seconds per collective (default: the link's row in
    ``data/link_latency.csv``)."""
    same_shape(**locals())
    sent = ring_all_reduce_bytes(message_bytes, chips)
    bandwidth = link_bandwidth(link)
    seconds = np.where(np.asarray(chips) > 1, _latency(link, latency) + sent / bandwidth, 0.0)
    return float(seconds) if seconds.ndim == 0 else seconds


def hop_seconds(message_bytes, link="NVLink 4", *, latency=None):
    """Seconds to send ``message_bytes`` from one pipeline stage to the next over ``link``:
    latency + message / one-direction bandwidth."""
    message_bytes = positive(message_bytes, "message_bytes", allow_zero=True)
    return _latency(link, latency) + message_bytes / link_bandwidth(link)


def activation_bytes(model, tokens, *, bytes_per_value=2):
    """Bytes of the activations ``tokens`` tokens carry between layers: tokens x d_model
    values (the message of a tensor-parallel all-reduce and of a pipeline hop)."""
    same_shape(**locals())
    model = get_model(model)
    return positive(tokens, "tokens") * model.d_model * positive(bytes_per_value, "bytes_per_value")


# --- capacity ---------------------------------------------------------------------------------
def chips_to_serve(model, hardware, *, weight_bytes=2, kv_budget_bytes=0.0, memory_fraction=1.0):
    """Fewest chips whose memory holds all of ``model``'s weights plus ``kv_budget_bytes`` of
    KV cache: ceil((weights + KV) / (chip memory x ``memory_fraction``)).

    ``roofline.chips_to_hold`` with the usable fraction of memory named the other way round.
    Memory is pooled as if split perfectly (activations and fragmentation are left out)."""
    same_shape(**locals())
    fraction = positive(memory_fraction, "memory_fraction")
    if np.any(np.asarray(fraction) > 1):
        raise ValueError(f"memory_fraction must be at most 1, got {memory_fraction!r}")
    return chips_to_hold(model, hardware, weight_bytes=weight_bytes, reserve_fraction=1.0 - fraction,
                         kv_budget_bytes=kv_budget_bytes)


# --- decode on many chips ---------------------------------------------------------------------
@dataclass(frozen=True)
class ParallelDecode:
    """One decode token on ``stages`` x ``tensor_parallel`` chips. Seconds in s, bytes in bytes.

    ``micro_batch`` sequences form a micro-batch; ``micro_batches`` of them are in flight.
    Per micro-batch and token:

    - ``compute_seconds``: the roofline time of all layers, the work split over the
      ``tensor_parallel`` chips of a stage (summed over the stages);
    - ``all_reduce_seconds``: the tensor-parallel all-reduces of all layers;
    - ``hop_seconds``: the ``stages - 1`` hops between stages;
    - ``pass_seconds``: their sum, one micro-batch from the first stage to the last;
    - ``stage_seconds``: the busiest stage's compute and all-reduces (it holds
      ceil(layers / stages) layers).

    ``token_seconds`` is the per-token latency: a sequence's next token can only enter the
    pipeline when its last one has left it, and each stage serves the micro-batches in turn,
    so it is max(pass, micro_batches x stage). ``tokens_per_second`` counts all micro-batches;
    ``busy_fraction`` is the share of chip time spent working (1 - the bubble).
    """

    stages: object
    tensor_parallel: object
    micro_batches: object
    micro_batch: object
    layers: int
    compute_seconds: object
    all_reduce_seconds: object
    hop_seconds: object
    stage_seconds: object
    memory_per_chip: object
    chip_memory: float

    @property
    def chips(self):
        """Chips in use: stages x tensor_parallel."""
        return self.stages * self.tensor_parallel

    @property
    def pass_seconds(self):
        return self.compute_seconds + self.all_reduce_seconds + self.hop_seconds

    @property
    def token_seconds(self):
        return np.maximum(self.pass_seconds, self.micro_batches * self.stage_seconds)

    @property
    def tokens_per_second(self):
        return self.micro_batches * self.micro_batch / self.token_seconds

    @property
    def busy_fraction(self):
        work = self.micro_batches * (self.compute_seconds + self.all_reduce_seconds)
        return work / (self.stages * self.token_seconds)

    @property
    def communication_share(self):
        """Share of a pass spent in all-reduces and hops (0 to 1)."""
        return (self.all_reduce_seconds + self.hop_seconds) / self.pass_seconds

    @property
    def fits(self):
        """True where each chip's share of weights and KV cache fits its memory."""
        verdict = np.asarray(self.memory_per_chip) <= self.chip_memory
        return bool(verdict) if verdict.ndim == 0 else verdict

    def stage_layers(self) -> np.ndarray:
        """Layers held by each stage, split as evenly as possible (scalar settings only)."""
        stages = int(self.stages)
        return np.array([len(part) for part in np.array_split(np.arange(self.layers), stages)])

    def timeline(self, rounds=3):
        """When each stage works on each micro-batch, for ``rounds`` tokens per sequence:
        a :class:`Timeline` (scalar settings only)."""
        layers = self.stage_layers()
        per_layer = (self.compute_seconds + self.all_reduce_seconds) / self.layers
        hops = self.hop_seconds / max(int(self.stages) - 1, 1)
        return pipeline_timeline(per_layer * layers, int(self.micro_batches), hop_seconds=hops,
                                 rounds=rounds)


def parallel_decode(model, hardware, micro_batch=1, context=1024, *, stages=1, tensor_parallel=1,
                    micro_batches=1, link="NVLink 4", hop_link=None, weight_bytes=2, kv_bytes=2,
                    activation_bytes_per_value=2, compute_dtype="bf16", latency=None,
                    hop_latency=None, attention="auto") -> ParallelDecode:
    """Per-token latency and throughput of decode with pipeline and tensor parallelism.

    ``micro_batch`` sequences per micro-batch, each with ``context`` cached tokens;
    ``stages`` pipeline stages of ``tensor_parallel`` chips each (all-reduces over ``link``);
    ``micro_batches`` micro-batches in flight; hops between stages over ``hop_link``
    (default: ``link``). ``latency`` / ``hop_latency``: fixed seconds per collective / per
    hop (default: the link's row in ``data/link_latency.csv``).

    Assumptions: layers split evenly (the busiest stage holds ceil(layers / stages));
    communication does not overlap compute (a decode layer needs its all-reduce's result
    before it can go on); the sampled token's return to the first stage is free. Broadcasts
    over every numeric argument.

    ``attention`` chooses how each stage's ``tensor_parallel`` chips split attention, as in
    ``roofline.decode_step``: 'tensor' replicates the KV cache past the number of KV heads,
    'data' keeps all attention weights on every chip ('auto': 'data' for MLA). The
    collectives are counted as two all-reduces of the layer's activations either way (with
    data-parallel attention they are all-gathers and all-to-alls of about the same bytes).

    This is the library's call for "a decode step on N chips with tensor parallelism,
    communication included": ``parallel_decode(model, hardware, batch, context,
    tensor_parallel=N).token_seconds``, against the ideal ``decode_step(...,
    chips=N).seconds`` (no communication).
    """
    same_shape(**locals())
    positive(activation_bytes_per_value, "activation_bytes_per_value", most=BYTES_PER_VALUE_MOST)
    model, chip = get_model(model), get_hardware(hardware)
    stages = positive(stages, "stages", integer=True)
    tensor_parallel = positive(tensor_parallel, "tensor_parallel", integer=True)
    micro_batches = positive(micro_batches, "micro_batches", integer=True)
    micro_batch = positive(micro_batch, "micro_batch", integer=True)
    if np.any(np.asarray(stages) > model.layers):
        raise ValueError(f"stages must be at most the model's {model.layers} layers, got {stages!r}")
    hop_link = link if hop_link is None else hop_link
    chips = stages * tensor_parallel
    # The whole model's work for one micro-batch, split over the tensor-parallel chips: the
    # roofline divides bytes and FLOPs by chips, so its time summed over stages is this.
    compute = decode_step(model, chip, micro_batch, context, weight_bytes=weight_bytes,
                          kv_bytes=kv_bytes, compute_dtype=compute_dtype,
                          chips=tensor_parallel, attention=attention).seconds
    message = activation_bytes(model, micro_batch, bytes_per_value=activation_bytes_per_value)
    per_layer_reduce = ALL_REDUCES_PER_LAYER * all_reduce_seconds(message, tensor_parallel, link,
                                                                  latency=latency)
    reduces = model.layers * per_layer_reduce
    hops = (stages - 1) * hop_seconds(message, hop_link, latency=hop_latency)
    busiest = np.ceil(model.layers / stages)
    stage = (compute / model.layers + per_layer_reduce) * busiest
    weights = weight_bytes_per_chip(model, tensor_parallel, weight_bytes=weight_bytes,
                                    attention=attention)
    cache = kv_cache_bytes(model, context, micro_batch * micro_batches, kv_bytes=kv_bytes)
    if attention_layout(model, attention, tensor_parallel) == "data":
        cache_share = 1.0 / tensor_parallel
    else:
        cache_share = kv_share_per_chip(model, tensor_parallel, "tensor")
    return ParallelDecode(stages=stages, tensor_parallel=tensor_parallel, micro_batches=micro_batches,
                          micro_batch=micro_batch, layers=model.layers, compute_seconds=compute,
                          all_reduce_seconds=reduces, hop_seconds=hops, stage_seconds=stage,
                          memory_per_chip=(weights + cache * cache_share) / stages,
                          chip_memory=chip.memory_bytes)


def communication_dominates_at(model, hardware, micro_batch=1, context=1024, *, link="NVLink 4",
                               max_degree=64, **options):
    """Smallest tensor-parallel degree (1 to ``max_degree``) at which the all-reduces of a
    token take at least as long as its compute; ``None`` if none up to ``max_degree``.

    Past it, doubling the chips removes less than half of the latency left: most of a
    step is spent waiting for the link."""
    degrees = np.arange(1, int(positive(max_degree, "max_degree", integer=True)) + 1)
    step = parallel_decode(model, hardware, micro_batch, context, tensor_parallel=degrees,
                           link=link, **options)
    over = np.nonzero(step.all_reduce_seconds >= step.compute_seconds)[0]
    return int(degrees[over[0]]) if over.size else None


# --- the timeline ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Timeline:
    """When stage ``s`` works on micro-batch ``m`` for its ``r``-th token: ``start[r, m, s]``
    to ``end[r, m, s]``, in seconds."""

    start: np.ndarray
    end: np.ndarray

    @property
    def rounds(self) -> int:
        return self.start.shape[0]

    @property
    def micro_batches(self) -> int:
        return self.start.shape[1]

    @property
    def stages(self) -> int:
        return self.start.shape[2]

    @property
    def seconds(self) -> float:
        """When the last stage finishes the last token."""
        return float(self.end.max())

    def token_seconds(self) -> float:
        """Steady-state seconds between a sequence's tokens: the last round's spacing."""
        if self.rounds < 2:
            raise ValueError("needs at least 2 rounds to measure the spacing of tokens")
        return float(self.end[-1, 0, -1] - self.end[-2, 0, -1])

    def busy_fraction(self) -> float:
        """Share of stage-time spent working between the first start and the last end."""
        return float((self.end - self.start).sum() / (self.stages * self.seconds))


def pipeline_timeline(stage_seconds, micro_batches=1, *, hop_seconds=0.0, rounds=3) -> Timeline:
    """Schedule ``micro_batches`` micro-batches through stages that take ``stage_seconds``
    each (one number per stage), for ``rounds`` tokens per sequence.

    A stage serves micro-batches in order as soon as the micro-batch has arrived (``hop_seconds``
    after the previous stage finished it) and the stage is free. A micro-batch's next token
    starts at the first stage only when its last token has left the last stage (decode is
    autoregressive)."""
    stage_seconds = np.atleast_1d(positive(stage_seconds, "stage_seconds"))
    if stage_seconds.ndim != 1:
        raise ValueError("stage_seconds must be one number per stage")
    micro_batches = int(positive(micro_batches, "micro_batches", integer=True))
    rounds = int(positive(rounds, "rounds", integer=True))
    hop = positive(hop_seconds, "hop_seconds", allow_zero=True)
    stages = stage_seconds.size
    start = np.zeros((rounds, micro_batches, stages))
    end = np.zeros_like(start)
    free = np.zeros(stages)
    for r in range(rounds):
        for m in range(micro_batches):
            ready = end[r - 1, m, -1] if r else 0.0
            for s in range(stages):
                arrive = ready if s == 0 else end[r, m, s - 1] + hop
                start[r, m, s] = max(arrive, free[s])
                end[r, m, s] = free[s] = start[r, m, s] + stage_seconds[s]
    return Timeline(start=start, end=end)


# --- expert parallelism ---------------------------------------------------------------------
def tokens_per_expert(model, batch):
    """Tokens each routed expert of a MoE layer gets per step when ``batch`` tokens each pick
    ``top_k`` of ``experts`` (balanced): batch x k / E."""
    model = get_model(model)
    if model.moe is None:
        raise ValueError(f"{model.name} is dense: it has no experts")
    return positive(batch, "batch") * model.moe.top_k / model.moe.experts


def batch_for_tokens_per_expert(model, tokens):
    """Tokens per step (the batch) that give each routed expert ``tokens`` tokens: tokens x E / k."""
    model = get_model(model)
    if model.moe is None:
        raise ValueError(f"{model.name} is dense: it has no experts")
    return positive(tokens, "tokens") * model.moe.experts / model.moe.top_k


def experts_per_chip(model, chips):
    """Routed experts per MoE layer on each of ``chips`` chips with expert parallelism
    (E / chips; below 1 means an expert is replicated or split)."""
    model = get_model(model)
    if model.moe is None:
        raise ValueError(f"{model.name} is dense: it has no experts")
    return model.moe.experts / positive(chips, "chips", integer=True)
