"""Batching: what a decode step costs per token as the batch grows, where the knee is,
how mixture-of-experts moves it, and what a faster (smaller-batch) tier must charge.

Everything is built on :func:`inferlab.decode_step` (one roofline per step) and takes
scalars or numpy arrays that broadcast. SI inside: seconds, bytes, FLOP, FLOP/s; money in
US dollars.

The three ideas, in symbols (``b`` bytes per weight, ``BW`` bytes/s, ``peak`` FLOP/s):

- A decode step over ``B`` sequences reads the weights once and does ``2 B`` FLOPs per
  weight, so it turns compute-bound at the knee ``B* = peak x b / (2 BW)`` (about 300 on
  an H100 in bf16).
- With ``E`` experts and top-``k`` routing each expert sees about ``B k / E`` tokens, so an
  expert layer's knee is ``B* x E / k``.
- Cost per token is ``step time / B``. A tier that runs ``s`` times faster at a price
  ``m`` times higher must be serving a batch ``m x s`` times smaller.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import economics
from .hardware import get_hardware
from .models import expected_experts_touched, get_model
from .roofline import StepCost, attention_layout, bound, decode_step, roofline_seconds
from ._validate import BYTES_PER_VALUE_MOST, positive, same_shape
from .intensity import knee_batch  # one home for B*; used by moe_knee_batch


# --- cost per token against batch ---------------------------------------------------------
@dataclass(frozen=True)
class BatchCurves:
    """A decode step swept over batch (arrays of one shape; SI units).

    ``step_seconds`` is also each user's time between tokens; ``tokens_per_second`` is the
    whole batch's output per second; ``utilisation`` is the fraction of peak FLOP/s the
    step uses (compute time / step time); ``seconds_per_token`` is step time / batch, the
    machine time one generated token costs.
    """

    batch: object
    step_seconds: object
    memory_seconds: object
    compute_seconds: object
    tokens_per_second: object
    utilisation: object
    seconds_per_token: object
    chips: int
    hardware: str

    @property
    def bound(self):
        """'memory' or 'compute' per batch."""
        return bound(self.memory_seconds, self.compute_seconds)

    def usd_per_million_tokens(self, usd_per_gpu_hour=None):
        """Dollars per million generated tokens at a rental price per GPU-hour (every chip
        busy all the time). ``None`` takes ``economics.gpu_hour_price`` for this chip, which
        needs the shipped price table; pass a number to choose your own."""
        price = economics.chip_hour_price(self.hardware, usd_per_gpu_hour)
        return economics.cost_per_million_tokens(self.step_seconds, self.batch, price, self.chips)


def batch_sweep(model, hardware, batch, context=1024, *, weight_bytes=2, kv_bytes=2,
                compute_dtype="bf16", chips=1) -> BatchCurves:
    """Decode cost against ``batch`` (sequences per step, scalar or array) at ``context``
    cached tokens per sequence. Returns a :class:`BatchCurves`; price it with
    ``.usd_per_million_tokens(usd_per_gpu_hour)``."""
    positive(chips, "chips", integer=True, scalar=True)
    chip = get_hardware(hardware)
    step = decode_step(model, chip, batch, context, weight_bytes=weight_bytes,
                       kv_bytes=kv_bytes, compute_dtype=compute_dtype, chips=chips)
    batch = np.broadcast_to(np.asarray(step.tokens, dtype=float), np.shape(step.seconds))
    if np.ndim(batch) == 0:
        batch = float(batch)
    return BatchCurves(batch=batch, step_seconds=step.seconds,
                       memory_seconds=step.memory_seconds, compute_seconds=step.compute_seconds,
                       tokens_per_second=batch / step.seconds,
                       utilisation=step.compute_seconds / step.seconds,
                       seconds_per_token=step.seconds / batch,
                       chips=int(positive(chips, "chips", integer=True)), hardware=chip.name)


# --- the knee ------------------------------------------------------------------------------
def moe_knee_batch(hardware, experts, top_k, *, weight_bytes=2, compute_dtype="bf16"):
    """Knee of a mixture-of-experts layer under uniform routing: B* x experts / top_k.

    A batch of B tokens gives each of the ``experts`` about ``B x top_k / experts`` tokens;
    each expert's matmul reaches its own knee B* when B = B* x experts / top_k."""
    same_shape(**locals())
    experts = positive(experts, "experts", integer=True)
    top_k = positive(top_k, "top_k", integer=True)
    if np.any(np.asarray(top_k) > experts):
        raise ValueError(f"top_k ({top_k}) cannot exceed experts ({experts})")
    return knee_batch(hardware, weight_bytes=weight_bytes, compute_dtype=compute_dtype) * experts / top_k


def decode_knee(model, hardware, context=1024, *, max_batch=2 ** 24, **step_options):
    """Smallest whole batch at which ``decode_step`` is compute-bound (compute time >=
    memory time), found by bisection; ``inf`` if no batch up to ``max_batch`` is.

    One roofline for the whole step: weights, KV cache and FLOPs are summed before the max,
    so for a mixture of experts the knee is about B* x (weights read) / (weights used per
    token), the "total / active" ratio, once every expert is touched. ``step_options`` go to
    ``decode_step`` (weight_bytes, kv_bytes, compute_dtype, chips)."""
    model, chip = get_model(model), get_hardware(hardware)
    context = positive(context, "context", integer=True, scalar=True)
    max_batch = int(positive(max_batch, "max_batch", integer=True, scalar=True))

    def compute_bound(batch):
        step = decode_step(model, chip, batch, context, **step_options)
        return step.compute_seconds >= step.memory_seconds

    if not compute_bound(max_batch):
        return math.inf
    low, high = 0, max_batch  # compute_bound(high) holds; low = 0 is "not yet"
    while high - low > 1:
        middle = (low + high) // 2
        if compute_bound(middle):
            high = middle
        else:
            low = middle
    return float(high)


def decode_parts(model, hardware, batch, context=1024, *, weight_bytes=2, kv_bytes=2,
                 compute_dtype="bf16", chips=1, attention="auto") -> dict:
    """The decode step split into three parts, each with its own roofline (per chip):

    - ``"dense"``: weights every token multiplies with (attention projections, dense and
      shared feed-forward, routers, output head) plus one embedding row per token;
    - ``"experts"``: the routed experts the batch touches (zero for a dense model);
    - ``"attention"``: reading each sequence's KV cache (and writing the new entry) and the
      attention FLOPs over it.

    Their bytes and FLOPs add up to ``decode_step``'s (same ``chips`` and ``attention``
    layout). Summing the parts' seconds (each part a separate kernel that is memory- or
    compute-bound on its own) is closer to how a GPU runs a step than one max over the
    totals. Returns name -> :class:`StepCost`.
    """
    model, chip = get_model(model), get_hardware(hardware)
    whole = decode_step(model, chip, batch, context, weight_bytes=weight_bytes,
                        kv_bytes=kv_bytes, compute_dtype=compute_dtype, chips=chips,
                        attention=attention)
    batch = positive(batch, "batch", integer=True)
    context = positive(context, "context", integer=True)
    spread = 0.0 * whole.seconds  # zeros of the step's shape, so every part broadcasts alike
    # routed experts are always split over the chips
    expert_params = model.moe_layers * model.experts_touched(batch) * model.expert_params
    routed_active = model.moe_layers * model.moe.top_k * model.expert_params if model.moe else 0
    expert_bytes = expert_params * weight_bytes / chips + spread
    expert_flops = 2.0 * routed_active * batch / chips + spread
    # attention over the cache: the busiest chip's sequences (see roofline.attention_layout)
    per_sequence = model.decode_attention_flops_per_position * context
    if attention_layout(model, attention, chips) == "data":
        attention_flops = np.ceil(batch / chips) * per_sequence + spread
    else:
        attention_flops = batch * per_sequence / chips + spread
    dense_bytes = whole.weight_bytes - expert_bytes
    dense_flops = whole.flops - expert_flops - attention_flops
    kv = np.asarray(whole.kv_bytes) + spread
    return {"dense": _part(chip, dense_bytes, dense_flops, dense_bytes, 0.0 * dense_bytes, batch,
                           compute_dtype),
            "experts": _part(chip, expert_bytes, expert_flops, expert_bytes, 0.0 * expert_bytes,
                             batch, compute_dtype),
            "attention": _part(chip, kv, attention_flops, 0.0 * kv, kv, batch, compute_dtype)}


def _part(chip, nbytes, flops, weight_bytes, kv_bytes, tokens, compute_dtype) -> StepCost:
    memory = nbytes / chip.memory_bandwidth
    compute = flops / chip.peak_flops(compute_dtype)
    return StepCost(seconds=roofline_seconds(flops, nbytes, chip, compute_dtype),
                    memory_seconds=memory, compute_seconds=compute, bytes=nbytes, flops=flops,
                    weight_bytes=weight_bytes, kv_bytes=kv_bytes, tokens=tokens)


# --- one mixture-of-experts layer (the shipped measurement's shape) ---------------------------
def moe_layer_step(tokens, hardware, *, experts, top_k, d_model, expert_ffn, weight_bytes=2,
                   compute_dtype="bf16") -> StepCost:
    """Roofline cost of one SwiGLU mixture-of-experts layer over ``tokens`` tokens: the
    experts the tokens are expected to touch under uniform random routing,
    ``models.expected_experts_touched`` = E (1 - (1 - k/E)^T) (the same assumption as a
    whole model's decode step; an expectation, not a bound), have their weights
    (3 x d_model x expert_ffn each) read once, and each token does
    2 x 3 x d_model x expert_ffn FLOPs in each of its ``top_k`` experts. (The shipped H100
    measurement routes in balance, touching min(E, T k) experts: at most as many bytes.)
    Activations are left out (a lower bound). A dense layer of the same active size is
    ``experts = top_k``. Returns a :class:`StepCost`; ``seconds / tokens`` is the cost per
    token."""
    same_shape(**locals())
    positive(weight_bytes, "weight_bytes", most=BYTES_PER_VALUE_MOST)
    chip = get_hardware(hardware)
    tokens = positive(tokens, "tokens", integer=True)
    experts = positive(experts, "experts", integer=True)
    top_k = positive(top_k, "top_k", integer=True)
    if np.any(np.asarray(top_k) > experts):
        raise ValueError(f"top_k ({top_k}) cannot exceed experts ({experts})")
    params = 3.0 * positive(d_model, "d_model", integer=True) * positive(expert_ffn, "expert_ffn", integer=True)
    touched = expected_experts_touched(experts, top_k, tokens)
    nbytes = touched * params * positive(weight_bytes, "weight_bytes")
    flops = 2.0 * params * tokens * top_k
    return _part(chip, nbytes, flops, nbytes, 0.0 * nbytes, tokens, compute_dtype)


# --- fast tiers ------------------------------------------------------------------------------
@dataclass(frozen=True)
class FastTier:
    """Running at ``batch`` instead of ``standard_batch``: each user's ``speedup`` (tokens/s
    per user, relative) and the ``price_multiple`` (cost per token, relative) it implies."""

    batch: object
    standard_batch: float
    speedup: object
    price_multiple: object


def fast_tier_from_steps(batch, step_seconds, standard_batch) -> FastTier:
    """Speed-up and price multiple of each (batch, step time) pair against the one at
    ``standard_batch`` (which must be among ``batch``). Works on measured steps too.

    speed-up = t(standard) / t(batch); price multiple = (t(batch) / batch) /
    (t(standard) / standard), so price multiple x speed-up = standard / batch."""
    positive(standard_batch, "standard_batch", scalar=True)
    batch = np.atleast_1d(positive(batch, "batch"))
    step_seconds = np.atleast_1d(positive(step_seconds, "step_seconds"))
    if batch.shape != step_seconds.shape:
        raise ValueError(f"batch and step_seconds must have the same shape, got {batch.shape} "
                         f"and {step_seconds.shape}")
    standard_batch = positive(standard_batch, "standard_batch")
    at_standard = batch == standard_batch
    if not at_standard.any():
        raise ValueError(f"standard_batch ({standard_batch:g}) must be one of the batches given")
    standard_seconds = float(np.median(step_seconds[at_standard]))
    speedup = standard_seconds / step_seconds
    price = (step_seconds / batch) / (standard_seconds / standard_batch)
    return FastTier(batch=batch, standard_batch=standard_batch, speedup=speedup, price_multiple=price)


def fast_tier_curve(model, hardware, standard_batch, context=1024, *, batch=None,
                    **step_options) -> FastTier:
    """The roofline's fast-tier curve: ``decode_step`` at every whole batch from 1 to
    ``standard_batch`` (or at ``batch``), compared with the step at ``standard_batch``."""
    standard_batch = positive(standard_batch, "standard_batch", integer=True)
    if batch is None:
        batch = np.arange(1, int(standard_batch) + 1)
    batch = np.union1d(np.atleast_1d(positive(batch, "batch", integer=True)), [standard_batch])
    step = decode_step(model, hardware, batch, context, **step_options)
    return fast_tier_from_steps(batch, step.seconds, standard_batch)


def price_multiple_for_speedup(speedup, batch_share):
    """Price multiple a tier must charge for ``speedup`` when the step time is a fixed part
    (the weight read) plus a part proportional to batch (KV reads, or FLOPs), and
    ``batch_share`` (between 0 and 1) of the standard step is the proportional part:
    m = share / (1 - s (1 - share)). Speed-ups must stay below 1 / (1 - share), where the
    batch reaches zero and the price is infinite."""
    same_shape(**locals())
    speedup = positive(speedup, "speedup")
    share = positive(batch_share, "batch_share")
    if np.any(np.asarray(share) >= 1):
        raise ValueError(f"batch_share must be below 1, got {batch_share!r}")
    if np.any(np.asarray(speedup) < 1):
        raise ValueError(f"speedup must be at least 1 (a fast tier), got {speedup!r}")
    room = 1.0 - speedup * (1.0 - share)
    if np.any(room <= 0):
        raise ValueError(f"speedup must be below 1 / (1 - batch_share) = {1 / (1 - np.max(share)):.3g}: "
                         "even batch 1 is not that fast")
    return share / room


def batch_share_for_tier(speedup, price_multiple):
    """The batch share (see ``price_multiple_for_speedup``) that makes a published tier,
    ``speedup`` times faster at ``price_multiple`` times the price, fit the two-part model:
    share = m (s - 1) / (m s - 1)."""
    same_shape(**locals())
    speedup = positive(speedup, "speedup")
    price_multiple = positive(price_multiple, "price_multiple")
    if np.any(np.asarray(speedup) <= 1) or np.any(np.asarray(price_multiple) <= 1):
        raise ValueError("a fast tier needs speedup > 1 and price_multiple > 1")
    return price_multiple * (speedup - 1.0) / (price_multiple * speedup - 1.0)


def batch_shrink_for_tier(speedup, price_multiple):
    """How many times smaller the fast tier's batch must be (if prices track cost per
    token): standard / fast = price_multiple x speedup. Holds for any step-time curve."""
    same_shape(**locals())
    return positive(speedup, "speedup") * positive(price_multiple, "price_multiple")


@dataclass(frozen=True)
class PublishedTier:
    """A published fast or priority tier: its output price over the standard one and the
    speed-up its maker claims (``nan`` where none is published)."""

    provider: str
    model: str
    tier: str
    price_multiple: float
    speedup: float
    speedup_kind: str
    source: str
    notes: str


def published_fast_tiers() -> list:
    """Fast and priority tiers from ``data/prices.csv``, each priced against the standard row
    of the same provider, model and context condition (output prices; short prompts)."""
    prices = economics.api_prices()
    standard = {(p.provider, p.model.lower(), p.context_condition): p
                for p in prices if p.tier == "standard" and p.output}
    tiers = []
    for price in prices:
        key = (price.provider, price.model.lower(), price.context_condition)
        if price.tier not in ("fast", "priority") or key not in standard or not price.output \
                or price.context_condition not in ("all", "<=200k"):
            continue
        tiers.append(PublishedTier(
            provider=price.provider, model=price.model, tier=price.tier,
            price_multiple=price.output / standard[key].output,
            speedup=price.speedup if price.speedup else math.nan,
            speedup_kind="up to" if price.speedup else "none published",
            source=price.source, notes=price.notes))
    return tiers
