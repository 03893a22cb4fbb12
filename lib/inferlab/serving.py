"""One request on a serving system: prefill, then decode; its time, its cost, and why an
output token costs more than an input token.

A request of ``prompt`` input tokens and ``output`` output tokens runs in two phases:

- **prefill**: the whole prompt goes through the model in one pass (its KV cache is written)
  and the pass yields the first output token. Its time is the *time to first token* (TTFT;
  queueing left out).
- **decode**: each further output token is one decode step, shared with the ``batch - 1``
  other sequences in the step. The mean step time is the *time per output token* (TPOT).

So ``request seconds = TTFT + (output - 1) x TPOT``. Costs are the chip time a request uses,
at a price per chip-hour: a prefill pass of ``prefill_batch`` prompts is shared by their
tokens, a decode step by its ``batch`` sequences.

All functions broadcast over numpy arrays and are lower bounds, like the roofline they use
(``prefill_step``, ``decode_step``). Seconds in s, money in US dollars, bandwidths in bytes/s.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import economics
from ._validate import positive, same_shape
from .hardware import get_hardware
from .models import get_model
from .roofline import decode_step, prefill_step


def _options(weight_bytes, kv_bytes, compute_dtype, chips) -> dict:
    return dict(weight_bytes=weight_bytes, kv_bytes=kv_bytes, compute_dtype=compute_dtype,
                chips=chips)


def _prompts(prefill_batch):
    return positive(prefill_batch, "prefill_batch", integer=True)


# --- time --------------------------------------------------------------------------------
def time_to_first_token(model, hardware, prompt, *, prefill_batch=1, weight_bytes=2, kv_bytes=2,
                        compute_dtype="bf16", chips=1):
    """Seconds from a prompt's arrival to its first output token: one prefill pass over
    ``prefill_batch`` prompts of ``prompt`` tokens each (no queueing). Lower bound."""
    return prefill_step(model, hardware, prompt, _prompts(prefill_batch),
                        **_options(weight_bytes, kv_bytes, compute_dtype, chips)).seconds


def _decode_contexts(prompt, output):
    """The cached context of the middle decode step of a request, as the two whole numbers
    either side of it (the decode steps see contexts prompt, prompt + 1, ...,
    prompt + output - 2)."""
    middle = prompt + (output - 2.0) / 2.0
    return np.maximum(np.floor(middle), 1.0), np.maximum(np.ceil(middle), 1.0)


def time_per_output_token(model, hardware, prompt, output, batch=1, *, weight_bytes=2, kv_bytes=2,
                          compute_dtype="bf16", chips=1):
    """Mean seconds between output tokens after the first: the decode step of ``batch``
    sequences at the request's middle context (every sequence in the step at the same
    context, as in the reference measurements).

    Both roofs of a decode step grow linearly with context, so the middle step is the mean
    step while all steps sit on one side of the ridge; when a generation crosses the ridge
    it is a little low, which keeps it a lower bound.
    """
    same_shape(**locals())
    prompt = positive(prompt, "prompt", integer=True)
    output = positive(output, "output", integer=True)
    low, high = _decode_contexts(prompt, output)
    options = _options(weight_bytes, kv_bytes, compute_dtype, chips)
    return 0.5 * (decode_step(model, hardware, batch, low, **options).seconds
                  + decode_step(model, hardware, batch, high, **options).seconds)


def request_seconds(model, hardware, prompt, output, batch=1, *, prefill_batch=1, weight_bytes=2,
                    kv_bytes=2, compute_dtype="bf16", chips=1):
    """Seconds from arrival to last token: TTFT + (output - 1) x TPOT (no queueing)."""
    same_shape(**locals())
    options = _options(weight_bytes, kv_bytes, compute_dtype, chips)
    output = positive(output, "output", integer=True)
    return (time_to_first_token(model, hardware, prompt, prefill_batch=prefill_batch, **options)
            + (output - 1) * time_per_output_token(model, hardware, prompt, output, batch, **options))


# --- cost per token ----------------------------------------------------------------------
def prefill_cost_per_token(model, hardware, prompt, *, prefill_batch=1, usd_per_gpu_hour=None,
                           weight_bytes=2, kv_bytes=2, compute_dtype="bf16", chips=1):
    """Dollars per input token: the chip time of a prefill pass shared by its
    ``prefill_batch x prompt`` tokens, at ``usd_per_gpu_hour`` per chip."""
    same_shape(**locals())
    price = economics.chip_hour_price(hardware, usd_per_gpu_hour)
    step = prefill_step(model, hardware, prompt, _prompts(prefill_batch),
                        **_options(weight_bytes, kv_bytes, compute_dtype, chips))
    return economics.cost_per_million_tokens(step.seconds, step.tokens, price, chips) / 1e6


def decode_cost_per_token(model, hardware, batch, context, *, usd_per_gpu_hour=None, weight_bytes=2,
                          kv_bytes=2, compute_dtype="bf16", chips=1):
    """Dollars per output token: the chip time of a decode step at ``context`` shared by its
    ``batch`` sequences, at ``usd_per_gpu_hour`` per chip."""
    same_shape(**locals())
    price = economics.chip_hour_price(hardware, usd_per_gpu_hour)
    step = decode_step(model, hardware, batch, context,
                       **_options(weight_bytes, kv_bytes, compute_dtype, chips))
    return economics.cost_per_million_tokens(step.seconds, step.tokens, price, chips) / 1e6


def output_input_cost_ratio(model, hardware, prompt, batch, context=None, *, prefill_batch=1,
                            weight_bytes=2, kv_bytes=2, compute_dtype="bf16", chips=1):
    """Cost of an output token (a decode step at ``batch`` and ``context``, default the
    prompt length) over the cost of an input token (a prefill of ``prompt`` tokens).

    The price per chip-hour cancels: this is chip-seconds per output token over
    chip-seconds per input token, the ratio a price sheet "should" show at cost.
    """
    same_shape(**locals())
    context = prompt if context is None else context
    options = _options(weight_bytes, kv_bytes, compute_dtype, chips)
    prefill = prefill_step(model, hardware, prompt, _prompts(prefill_batch), **options)
    decode = decode_step(model, hardware, batch, context, **options)
    return (decode.seconds / decode.tokens) / (prefill.seconds / prefill.tokens)


@dataclass(frozen=True)
class RequestCost:
    """Time and money of one request. Seconds in s, money in US dollars (arrays broadcast).

    ``input_usd`` is the request's share of its prefill pass, ``output_usd`` its share of
    its ``output - 1`` decode steps (the first output token comes out of the prefill).
    """

    ttft: object
    tpot: object
    seconds: object
    input_usd: object
    output_usd: object
    usd_per_input_token: object
    usd_per_output_token: object

    @property
    def total_usd(self):
        """Dollars for the whole request."""
        return self.input_usd + self.output_usd

    @property
    def input_share(self):
        """Fraction of the request's cost spent on its prompt (0 to 1)."""
        return self.input_usd / self.total_usd

    @property
    def output_input_ratio(self):
        """Cost of one output token over one input token: the implied price ratio."""
        return self.usd_per_output_token / self.usd_per_input_token


def request_cost(model, hardware, prompt, output, batch=1, *, prefill_batch=1, usd_per_gpu_hour=None,
                 weight_bytes=2, kv_bytes=2, compute_dtype="bf16", chips=1) -> RequestCost:
    """TTFT, TPOT, total seconds and dollars (input and output) of a request of ``prompt``
    input and ``output`` output tokens decoded in a batch of ``batch`` sequences.

    ``chips``: chips serving the model together (their time is paid for, all of it).
    Idle time and queueing are left out: divide costs by the utilisation to add idle time.
    """
    same_shape(**locals())
    price = economics.chip_hour_price(hardware, usd_per_gpu_hour)
    options = _options(weight_bytes, kv_bytes, compute_dtype, chips)
    prompt = positive(prompt, "prompt", integer=True)
    output = positive(output, "output", integer=True)
    ttft = time_to_first_token(model, hardware, prompt, prefill_batch=prefill_batch, **options)
    tpot = time_per_output_token(model, hardware, prompt, output, batch, **options)
    per_input = economics.cost_per_million_tokens(ttft, _prompts(prefill_batch) * prompt, price, chips) / 1e6
    per_output = economics.cost_per_million_tokens(tpot, batch, price, chips) / 1e6
    values = np.broadcast_arrays(ttft, tpot, ttft + (output - 1) * tpot, per_input * prompt,
                                 per_output * (output - 1), per_input, per_output)
    if values[0].ndim == 0:
        values = [float(v) for v in values]
    else:  # every field the same shape, so a table can index them alike
        values = [np.array(v) for v in values]
    return RequestCost(*values)


# --- where prefill time goes ---------------------------------------------------------------
def attention_flops_share(model, prompt):
    """Fraction of a prefill's FLOPs spent in attention (query-key scores and weighted
    values): it grows with the prompt because causal attention has prompt (prompt + 1) / 2
    pairs while the matrix products grow only with the prompt (the output head runs once,
    for the last token)."""
    model = get_model(model)
    flops = prefill_step(model, "H100-SXM", prompt).flops  # FLOPs do not depend on the chip
    matmul = 2.0 * (model.matmul_params - model.head_params) * prompt + 2.0 * model.head_params
    return 1.0 - matmul / flops


def attention_crossover_prompt(model) -> float:
    """Prompt length P (tokens) at which a prefill's attention FLOPs equal its
    matrix-product FLOPs: a P (P + 1) / 2 = 2 B P + 2 H, with a the attention FLOPs per
    query-key pair, B the matmul parameters without the output head and H the head's
    parameters (run once, for the last token). The positive root of
    a P^2 + (a - 4 B) P - 4 H = 0."""
    model = get_model(model)
    a = float(model.prefill_attention_flops_per_pair)
    body = float(model.matmul_params - model.head_params)
    head = float(model.head_params)
    linear = a - 4.0 * body
    return (-linear + np.sqrt(linear * linear + 16.0 * a * head)) / (2.0 * a)


# --- cached input (prefix caching) -------------------------------------------------------
def cache_hit_cost_fraction(model, hardware, prompt, link_bandwidth, *, cached=None, prefill_batch=1,
                            weight_bytes=2, kv_bytes=2, compute_dtype="bf16", chips=1):
    """Chip time a cached prompt token costs, as a fraction of what an uncached one costs.

    A request of ``prompt`` tokens whose first ``cached`` tokens hit the prefix cache
    (default: all but the last token) runs ``prefill_step(..., prompt - cached,
    cached=cached)``: the new tokens still read the cached keys and values and attend to
    them. A cached token costs (a) bringing its KV cache back over a link of
    ``link_bandwidth`` bytes/s (host memory over PCIe, say) plus (b) its share of what
    attending to the prefix adds to the new tokens' prefill (that prefill with the prefix
    cached minus without it). An uncached token costs the mean chip time per token of
    prefilling the whole prompt. ``prefill_batch`` prompts run together in each pass.

    It counts the chip as waiting for the copy; copies overlap with other work in practice,
    so the true fraction is lower. Storage and bookkeeping are not counted.
    """
    same_shape(**locals())
    model = get_model(model)
    link_bandwidth = positive(link_bandwidth, "link_bandwidth")
    prompt = positive(prompt, "prompt", integer=True)
    if np.any(prompt < 2):
        raise ValueError(f"prompt must be at least 2 tokens (one cached, one new), got {prompt!r}")
    cached = prompt - 1 if cached is None else positive(cached, "cached", integer=True)
    if np.any(cached >= prompt):
        raise ValueError(f"cached must be below prompt (a request has at least one new token), got {cached!r}")
    batch = _prompts(prefill_batch)
    options = _options(weight_bytes, kv_bytes, compute_dtype, chips)
    full = prefill_step(model, hardware, prompt, batch, **options)
    per_token = full.seconds / (batch * prompt)
    new = prompt - cached
    with_prefix = prefill_step(model, hardware, new, batch, cached=cached, **options).seconds
    without = prefill_step(model, hardware, new, batch, **options).seconds
    attending = (with_prefix - without) / (batch * cached)
    # each chip brings its share of the cache over its own link
    copy = model.kv_bytes_per_token(kv_bytes) / link_bandwidth / chips
    return (copy + attending) / per_token


def hbm_break_even_seconds(model, hardware, prompt, *, prefill_batch=1, weight_bytes=2, kv_bytes=2,
                           compute_dtype="bf16", chips=1):
    """Seconds a token's KV cache can stay in the chips' HBM before the memory it occupies
    has cost as much chip time as prefilling the token again (renting memory and compute
    together, as one pays for a GPU): (prefill chip-seconds per token) x (HBM bytes per chip)
    / (KV bytes per token). Longer waits pay only in cheaper memory (host DRAM, SSD)."""
    model, chip = get_model(model), get_hardware(hardware)
    step = prefill_step(model, chip, prompt, _prompts(prefill_batch),
                        **_options(weight_bytes, kv_bytes, compute_dtype, chips))
    recompute = step.seconds * chips / step.tokens
    return recompute * chip.memory_bytes / model.kv_bytes_per_token(kv_bytes)


# --- published prices ----------------------------------------------------------------------
def published_price_ratios() -> list:
    """Output/input and cached/input price ratios of the published API prices
    (``economics.api_prices()``), as dicts."""
    out = []
    for p in economics.api_prices():
        if p.input and p.output:
            out.append(dict(provider=p.provider, model=p.model, tier=p.tier,
                            context=p.context_condition, input=p.input,
                            cached_input=p.cached_input, output=p.output, source=p.source,
                            output_over_input=p.output_input_ratio,
                            cached_over_input=p.cached_input_ratio))
    return out
