"""The KV cache: how much memory it takes, how many sequences fit, and what it costs to read.

A decode step reads the weights once for the whole batch, but every sequence's cached
keys and values (its KV cache) once *per sequence*. This module turns the bytes per token
of cache (``Model.kv_bytes_per_token``) into the three numbers that decide long-context
serving: capacity (how many sequences fit beside the weights), the context at which KV
reads outweigh weight reads, and the cost per token when capacity caps the batch.

Everything takes scalars or numpy arrays (which broadcast). SI inside: bytes, seconds,
tokens; money in US dollars.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from . import economics
from .hardware import get_hardware
from .models import get_model
from .roofline import (StepCost, attention_layout, decode_step, kv_share_per_chip,
                       weight_bytes_per_chip)
from ._validate import BYTES_PER_VALUE_MOST, positive, same_shape, whole_count


# --- memory -----------------------------------------------------------------------------
def kv_cache_bytes(model, context, batch=1, *, kv_bytes=2):
    """Bytes the KV cache of ``batch`` sequences of ``context`` tokens each occupies:
    batch x context x ``model.kv_bytes_per_token(kv_bytes)``. ``kv_bytes`` per cached value
    (2 for bf16, 1 for fp8)."""
    same_shape(**locals())
    model = get_model(model)
    context = positive(context, "context")
    batch = positive(batch, "batch")
    kv_bytes = positive(kv_bytes, "kv_bytes", most=BYTES_PER_VALUE_MOST)
    return batch * context * model.kv_bytes_per_token(kv_bytes)


def weight_memory_bytes(model, *, weight_bytes=2):
    """Bytes all of ``model``'s weights occupy in memory (every expert, the embedding table)."""
    return get_model(model).total_params * positive(weight_bytes, "weight_bytes", most=BYTES_PER_VALUE_MOST)


def free_memory_bytes(model, hardware, *, weight_bytes=2, chips=1, memory_fraction=1.0,
                      attention="auto"):
    """Bytes left for KV cache on ``chips`` chips once the weights are loaded (summed over
    the chips): chips x (usable memory x ``memory_fraction`` - weights per chip).

    ``memory_fraction`` of each chip's memory is usable at all (vLLM's default
    ``gpu_memory_utilization`` is 0.9: the rest is for activations and the runtime).
    Negative when the weights alone do not fit. Weights split evenly over the chips, except
    that data-parallel attention keeps all attention weights on every chip (``attention``
    as in ``decode_step``).
    """
    same_shape(**locals())
    chip = get_hardware(hardware)
    chips = positive(chips, "chips", integer=True)
    fraction = positive(memory_fraction, "memory_fraction")
    if np.any(np.asarray(fraction) > 1):
        raise ValueError(f"memory_fraction must be at most 1, got {memory_fraction!r}")
    per_chip = weight_bytes_per_chip(model, chips, weight_bytes=weight_bytes, attention=attention)
    return chips * (chip.memory_bytes * fraction - per_chip)


def _kv_replication(model, chips, attention):
    """How many chips hold each cached token: chips x kv_share_per_chip under tensor-parallel
    attention (1 until there are more chips than KV heads), 1 under data-parallel."""
    if attention_layout(model, attention, chips) == "data":
        return 1.0
    return chips * kv_share_per_chip(model, chips, "tensor")


def kv_capacity_tokens(model, hardware, *, weight_bytes=2, kv_bytes=2, chips=1, memory_fraction=1.0,
                       attention="auto"):
    """Tokens of KV cache (summed over all sequences) that fit beside the weights; 0 when
    the weights alone do not fit. A token cached on several chips (tensor-parallel attention
    with more chips than KV heads, or MLA) counts once."""
    same_shape(**locals())
    model = get_model(model)
    chips = positive(chips, "chips", integer=True)
    free = free_memory_bytes(model, hardware, weight_bytes=weight_bytes, chips=chips,
                             memory_fraction=memory_fraction, attention=attention)
    copies = _kv_replication(model, chips, attention)
    return np.floor(np.maximum(free, 0) / (model.kv_bytes_per_token(kv_bytes) * copies))


def batch_that_fits(model, capacity_bytes, context, *, weight_bytes=2, kv_bytes=2):
    """Sequences of ``context`` tokens whose KV cache fits in ``capacity_bytes`` beside all of
    ``model``'s weights: floor((capacity - weights) / (context x KV bytes per token)).

    0 when the weights alone do not fit. Activations and fragmentation are ignored, so a
    real server fits somewhat fewer. Broadcasts over ``capacity_bytes`` and ``context``.
    """
    same_shape(**locals())
    model = get_model(model)
    capacity_bytes = positive(capacity_bytes, "capacity_bytes")
    context = positive(context, "context", integer=True)
    room = np.maximum(capacity_bytes - weight_memory_bytes(model, weight_bytes=weight_bytes), 0.0)
    batch = np.floor(room / (context * model.kv_bytes_per_token(kv_bytes)))
    return whole_count(batch, "the batch that capacity_bytes (or chips x memory per chip) hold at this context")


def max_batch(model, hardware, context, *, weight_bytes=2, kv_bytes=2, chips=1, memory_fraction=1.0,
              attention="auto"):
    """Most sequences of ``context`` tokens whose KV caches fit beside the weights on
    ``chips`` chips, of which ``memory_fraction`` of memory is usable (whole sequences; 0 when
    not even one fits). Broadcasts over ``context``.

    Tensor-parallel attention: each chip holds ``kv_share_per_chip`` of every sequence's
    cache (replicated past the number of KV heads). Data-parallel attention: each chip
    holds whole sequences, as many as its own free memory allows."""
    same_shape(**locals())
    model = get_model(model)
    chips = positive(chips, "chips", integer=True)
    context = positive(context, "context", integer=True)
    free_per_chip = free_memory_bytes(model, hardware, weight_bytes=weight_bytes, chips=chips,
                                      memory_fraction=memory_fraction, attention=attention) / chips
    sequence = context * model.kv_bytes_per_token(kv_bytes)
    room = np.maximum(free_per_chip, 0.0)
    if attention_layout(model, attention, chips) == "data":
        batch = chips * np.floor(room / sequence)
    else:
        batch = np.floor(room / (sequence * kv_share_per_chip(model, chips, "tensor")))
    return whole_count(batch, "the batch that chips x memory per chip hold at this context")


# --- bandwidth ----------------------------------------------------------------------------
def kv_weight_crossover_context(model, batch, *, weight_bytes=2, kv_bytes=2):
    """Context (tokens per sequence) at which a decode step's KV reads equal its weight reads:
    batch x context x KV bytes per token = weight bytes read per step.

    Weight bytes read are ``model.weight_params_read(batch)`` (for a MoE model, only the
    experts the batch touches). Above this context the cache, not the weights, dominates
    the step's memory traffic."""
    same_shape(**locals())
    model = get_model(model)
    batch = positive(batch, "batch", integer=True)
    weights = model.weight_params_read(batch) * positive(weight_bytes, "weight_bytes")
    return weights / (batch * model.kv_bytes_per_token(kv_bytes))


def balance_context(model, hardware, batch, *, weight_bytes=2, kv_bytes=2, compute_dtype="bf16"):
    """Context at which a decode step's memory time equals its compute time, from the terms
    of ``decode_step``; ``nan`` where no positive context balances them.

    With W weight bytes read, k KV bytes and a attention FLOPs per cached token, P matmul
    parameters, bandwidth BW and peak F, memory = (W + B (L+1) k) / BW and
    compute = B (2P + a L) / F, so

        L* = (2 P B / F - (W + B k) / BW) / (B (k / BW - a / F)).

    When attention's own intensity a/k is below the chip's ridge point (the usual case),
    the step is compute-bound below L* and memory-bound above it; L* <= 0 (returned as
    nan) means memory-bound at every context. When a/k is above the ridge (MLA in fp8, for
    one), more context pushes the step towards compute instead.
    """
    same_shape(**locals())
    model, chip = get_model(model), get_hardware(hardware)
    batch = positive(batch, "batch", integer=True)
    kv = model.kv_bytes_per_token(kv_bytes)
    weights = model.weight_params_read(batch) * positive(weight_bytes, "weight_bytes")
    bandwidth, peak = chip.memory_bandwidth, chip.peak_flops(compute_dtype)
    numerator = 2.0 * model.matmul_params * batch / peak - (weights + batch * kv) / bandwidth
    denominator = batch * (kv / bandwidth - model.decode_attention_flops_per_position / peak)
    with np.errstate(divide="ignore", invalid="ignore"):
        context = np.where(denominator != 0, numerator / np.where(denominator == 0, 1, denominator), np.nan)
    context = np.where(context > 0, context, np.nan)
    return float(context) if np.ndim(context) == 0 else context


# --- cost when capacity caps the batch ---------------------------------------------------
@dataclass(frozen=True)
class ServingPoint:
    """Decode at one context: the batch that runs, its step, and the price of a token.

    ``batch``: sequences per step, min(wanted, what fits); ``step``: the roofline
    :class:`~inferlab.roofline.StepCost` per chip; ``seconds_per_token``: chip-seconds
    of all ``chips`` per generated token; ``usd_per_million``: dollars per million output
    tokens at ``usd_per_gpu_hour`` (nan where not one sequence fits)."""

    batch: object
    step: StepCost
    seconds_per_token: object
    usd_per_million: object


def capped_decode(model, hardware, context, wanted_batch, *, usd_per_gpu_hour, weight_bytes=2,
                  kv_bytes=2, chips=1, memory_fraction=1.0, compute_dtype="bf16",
                  attention="auto") -> ServingPoint:
    """Decode ``min(wanted_batch, max_batch)`` sequences at ``context`` on ``chips`` chips.

    As the context grows, fewer sequences fit, the weights are shared by fewer tokens and
    each token reads its whole cache: the cost per token rises. Where not even one
    sequence fits, batch is 0 and times and costs are nan. Broadcasts over ``context`` and
    ``wanted_batch``.
    """
    same_shape(**locals())
    wanted = positive(wanted_batch, "wanted_batch", integer=True)
    usd = positive(usd_per_gpu_hour, "usd_per_gpu_hour")
    fits = max_batch(model, hardware, context, weight_bytes=weight_bytes, kv_bytes=kv_bytes,
                     chips=chips, memory_fraction=memory_fraction, attention=attention)
    batch = np.minimum(wanted, fits)
    step = decode_step(model, hardware, np.maximum(batch, 1), context, weight_bytes=weight_bytes,
                       kv_bytes=kv_bytes, compute_dtype=compute_dtype, chips=chips,
                       attention=attention)
    seconds = np.where(batch >= 1, step.seconds, np.nan)
    per_token = seconds * chips / np.where(batch >= 1, batch, np.nan)
    return ServingPoint(batch=batch, step=step, seconds_per_token=per_token,
                        usd_per_million=per_token * usd / 3600.0 * 1e6)


# --- allocation ---------------------------------------------------------------------------
def paged_tokens(context, block_tokens=16):
    """Token slots a paged allocator holds for a sequence of ``context`` tokens: whole
    blocks of ``block_tokens`` (vLLM's default block is 16 tokens)."""
    same_shape(**locals())
    context = positive(context, "context", integer=True)
    block = positive(block_tokens, "block_tokens", integer=True)
    return np.ceil(context / block) * block


def wasted_fraction(context, reserved):
    """Share of the ``reserved`` token slots a sequence of ``context`` tokens leaves unused:
    1 - context / reserved. ``reserved`` must be at least ``context``."""
    context = positive(context, "context")
    reserved = positive(reserved, "reserved")
    if np.any(np.asarray(reserved) < context):
        raise ValueError("reserved must be at least context (a sequence cannot outgrow its slots)")
    return 1.0 - context / reserved


# --- published long-context price steps ---------------------------------------------------
@dataclass(frozen=True)
class PriceStep:
    """A published price that changes with prompt length: the base and long-context prices
    in dollars per million tokens, the threshold in tokens, and the steps (long / base)."""

    provider: str
    model: str
    tier: str
    threshold_tokens: float
    input_base: float
    input_long: float
    output_base: float
    output_long: float
    source: str

    @property
    def input_step(self) -> float:
        return self.input_long / self.input_base

    @property
    def output_step(self) -> float:
        return self.output_long / self.output_base


def _threshold(condition: str):
    match = re.search(r"(\d+(?:\.\d+)?)\s*([km])", condition.lower())
    if not match:
        return None
    return float(match.group(1)) * (1e3 if match.group(2) == "k" else 1e6)


def long_context_steps() -> list:
    """Every pair of published prices (``economics.api_prices()``) for one model and tier
    that differ only by prompt length ('<=200k' / '>200k'), as :class:`PriceStep` rows."""
    prices = economics.api_prices()
    steps = []
    for long in prices:
        if ">" not in long.context_condition or _threshold(long.context_condition) is None:
            continue
        for base in prices:
            same = (base.provider, base.model, base.tier) == (long.provider, long.model, long.tier)
            if base is long or not same or ">" in base.context_condition.replace("<=", ""):
                continue
            values = [base.input, long.input, base.output, long.output]
            if None in values or 0 in values:
                continue
            steps.append(PriceStep(long.provider, long.model, long.tier,
                                   _threshold(long.context_condition), *values, source=long.source))
            break
    return steps
