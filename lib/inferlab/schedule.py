"""The train schedule: a batch departs every ``interval`` seconds, full or not.

A discrete-event simulation of a request queue in front of a batching server, and the
queueing theory to check it against. Two servers:

- **fixed interval** (the timetable): a step departs at every multiple of ``interval``
  with up to ``capacity`` seats; a request boards the first departure at or after its
  arrival that still has a free seat (first come, first served).
- **continuous** (work-conserving): the next step starts as soon as the previous one ends,
  or at the next arrival if nobody waits, with whoever is waiting (up to ``capacity``); its
  duration depends on how many boarded (``step_seconds``, e.g. from :func:`step_table`).

The unit of the queue is a *seat on one departure*: boarding is what a request queues for.
Its first token comes out at the end of the step it boards (plus its prefill, if a cost per
prompt token is given); each further output token takes one more step. These two servers
count one seat per request per departure: exact when a request needs one step (one output
token), and for longer answers the admission queue of a server whose ``capacity`` is the
seats *freed* per step. Their ``tokens_per_second`` counts one token per request, and their
``latency`` lets the later tokens ride in seats the queue does not see.

- **seat holding** (:func:`simulate_seat_holding`): the timetable with ``seats`` seats in
  which a sequence keeps its seat for all its output tokens, so newcomers board only when
  a sequence finishes (a discrete-time multi-server queue). With one-token answers it is
  the fixed-interval server exactly; lesson 09 uses it to show what the simpler count
  leaves out.

Everything is in seconds and requests; arrays are numpy. The fixed-interval server is one
vectorised pass (a running maximum over seat numbers), no Python loop per request.
"""
from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass

import numpy as np

from ._validate import positive

#: The most requests one simulation draws (10 million take a few seconds and about 0.25 GB
#: to draw; simulating them takes longer). More is refused rather than freezing the kernel.
MOST_REQUESTS = 10_000_000

#: Offered load at or above which a result calls the server "near saturation".
NEAR_SATURATION = 0.95


# --- requests ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Requests:
    """A stream of requests, sorted by arrival.

    ``arrival`` in seconds from 0; ``input_tokens`` and ``output_tokens`` per request;
    ``rate`` is the mean arrival rate the stream was drawn with (requests per second) and
    ``mean_burst`` the mean number of requests that arrive together (1 for Poisson).
    """

    arrival: np.ndarray
    input_tokens: np.ndarray
    output_tokens: np.ndarray
    rate: float
    mean_burst: float = 1.0

    def __len__(self) -> int:
        return len(self.arrival)


def geometric_lengths(mean):
    """A length distribution for :func:`make_requests`: whole numbers >= 1 with the given
    mean (geometric, memoryless: most answers short, a long tail)."""
    mean = positive(mean, "mean")
    if mean < 1:
        raise ValueError(f"mean must be at least 1 token, got {mean!r}")

    def draw(rng, count):
        return rng.geometric(1.0 / mean, size=count)
    return draw


def lognormal_lengths(median, sigma=1.0, *, maximum=None):
    """A length distribution: log-normal around ``median`` tokens with shape ``sigma``,
    rounded up to whole tokens and cut at ``maximum`` (if given)."""
    median = positive(median, "median")
    sigma = positive(sigma, "sigma")
    cap = None if maximum is None else positive(maximum, "maximum")

    def draw(rng, count):
        values = np.ceil(median * np.exp(sigma * rng.standard_normal(count)))
        return np.clip(values, 1, cap).astype(np.int64)
    return draw


def _lengths(spec, count, rng, name):
    """Draw ``count`` token counts from a number (all equal), a sequence of observed
    lengths (resampled) or a callable ``draw(rng, count)``."""
    if callable(spec):
        values = np.asarray(spec(rng, count))
        if values.shape != (count,):
            raise ValueError(f"{name} must draw {count} values, drew an array of shape {values.shape}")
    elif np.ndim(spec) == 0:
        values = np.full(count, positive(spec, name, integer=True))
    else:
        observed = positive(spec, name, integer=True)
        values = observed[rng.integers(0, len(observed), size=count)]
    values = positive(values, name, integer=True)
    return values.astype(np.int64)


def make_requests(rate, count, *, mean_burst=1.0, input_tokens=1000, output_tokens=300,
                  seed=0) -> Requests:
    """``count`` requests arriving at ``rate`` per second on average, seeded.

    ``mean_burst`` = 1 gives Poisson arrivals (independent users). Above 1, requests come
    in bursts that arrive as a Poisson process at ``rate / mean_burst`` per second, each
    burst bringing a geometric number of requests with mean ``mean_burst`` at the same
    instant (a batch job, a page that fans out): the same mean rate, more variance.
    ``input_tokens`` / ``output_tokens``: a number, a sequence of observed lengths, or a
    distribution such as :func:`geometric_lengths`.
    """
    rate = positive(rate, "rate", scalar=True)
    count = int(positive(count, "count", integer=True, most=MOST_REQUESTS))
    mean_burst = positive(mean_burst, "mean_burst")
    if mean_burst < 1:
        raise ValueError(f"mean_burst must be at least 1 (1 = Poisson), got {mean_burst!r}")
    rng = np.random.default_rng(seed)
    arrival = bursty_arrivals(rate, count, mean_burst, rng)
    return Requests(arrival=arrival,
                    input_tokens=_lengths(input_tokens, count, rng, "input_tokens"),
                    output_tokens=_lengths(output_tokens, count, rng, "output_tokens"),
                    rate=float(rate), mean_burst=float(mean_burst))


def poisson_arrivals(rate, count, rng=None) -> np.ndarray:
    """Arrival times (s) of ``count`` Poisson arrivals at ``rate`` per second."""
    rate = positive(rate, "rate", scalar=True)
    count = int(positive(count, "count", integer=True, most=MOST_REQUESTS))
    rng = np.random.default_rng(rng)
    return np.cumsum(rng.exponential(1.0 / rate, size=count))


def bursty_arrivals(rate, count, mean_burst=1.0, rng=None) -> np.ndarray:
    """Arrival times (s) of ``count`` requests in bursts (see :func:`make_requests`)."""
    rate = positive(rate, "rate", scalar=True)
    count = int(positive(count, "count", integer=True, most=MOST_REQUESTS))
    mean_burst = positive(mean_burst, "mean_burst")
    rng = np.random.default_rng(rng)
    if mean_burst == 1:
        return poisson_arrivals(rate, count, rng)
    if mean_burst < 1:
        raise ValueError(f"mean_burst must be at least 1 (1 = Poisson), got {mean_burst!r}")
    bursts = int(count / mean_burst * 1.1) + 20
    sizes = rng.geometric(1.0 / mean_burst, size=bursts)
    while sizes.sum() < count:  # rare: draw more bursts
        sizes = np.concatenate([sizes, rng.geometric(1.0 / mean_burst, size=bursts)])
    times = np.cumsum(rng.exponential(mean_burst / rate, size=len(sizes)))
    return np.repeat(times, sizes)[:count]


# --- results ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ScheduleResult:
    """What one simulation measured. Per-request arrays in seconds:

    ``wait`` (arrival to the departure it boards), ``ttft`` (to its first token),
    ``latency`` (to its last token); ``departure`` (the time its step starts).
    ``utilisation`` = filled seats / seats offered; ``offered_load`` = arrival rate /
    (capacity / interval), the utilisation the arrivals ask for (>= 1 means overload).
    ``tokens_per_second``: filled seats per second (one token per seat per step);
    ``span_seconds``: from 0 to the end of the last step (the time a rented chip is paid).
    ``overloaded`` and ``message`` say when the queue cannot keep up.
    """

    server: str
    wait: np.ndarray
    ttft: np.ndarray
    latency: np.ndarray
    departure: np.ndarray
    capacity: int
    interval: float
    utilisation: float
    offered_load: float
    steps: int
    span_seconds: float
    tokens_per_second: float
    overloaded: bool
    message: str

    def stats(self, what: str = "latency") -> dict:
        """Mean, p50, p95 and p99 (seconds) of ``wait``, ``ttft`` or ``latency``."""
        if what not in ("wait", "ttft", "latency"):
            raise ValueError(f"what must be 'wait', 'ttft' or 'latency', got {what!r}")
        values = getattr(self, what)
        p50, p95, p99 = np.percentile(values, [50, 95, 99])
        return {"mean": float(values.mean()), "p50": float(p50), "p95": float(p95), "p99": float(p99)}

    def summary(self) -> dict:
        """Every statistic in one flat dict (seconds, fractions, tokens/s)."""
        row = {"server": self.server, "offered load": self.offered_load,
               "utilisation": self.utilisation, "tokens/s": self.tokens_per_second}
        for what in ("wait", "ttft", "latency"):
            for key, value in self.stats(what).items():
                row[f"{what} {key}"] = value
        return row

    def cost_per_million_tokens(self, usd_per_gpu_hour=None, hardware="H100-SXM", chips=1):
        """Dollars per million tokens: the chips are paid for the whole span, idle seats
        included. ``usd_per_gpu_hour=None`` takes ``economics.gpu_hour_price(hardware)``."""
        from .economics import cost_per_million_tokens, gpu_hour_price
        price = gpu_hour_price(hardware) if usd_per_gpu_hour is None else usd_per_gpu_hour
        return float(cost_per_million_tokens(self.span_seconds, self.tokens_per_second * self.span_seconds,
                                             price, chips))


def _overload_message(offered_load, rate, interval, capacity, count):
    if offered_load >= 1:
        growth = rate - capacity / interval
        return True, (f"overloaded: requests arrive at {offered_load:.3g}x the seats the timetable "
                      f"offers ({rate:.4g}/s against {capacity / interval:.4g}/s). The queue grows by "
                      f"{growth:.4g} requests per second without bound, so waits depend on how long "
                      f"you simulate ({count} requests here), not on the server.")
    if offered_load >= NEAR_SATURATION:
        return False, (f"near saturation (offered load {offered_load:.3g}): the queue builds up in long "
                       "bursts and averages converge slowly; simulate many requests.")
    return False, ""


def _check_requests(requests) -> Requests:
    if not isinstance(requests, Requests):
        raise ValueError(f"requests must be made by make_requests(...), got {type(requests).__name__}")
    if len(requests) == 0:
        raise ValueError("requests must not be empty")
    return requests


def _prefill(requests, prefill_seconds_per_token):
    per_token = positive(prefill_seconds_per_token, "prefill_seconds_per_token", allow_zero=True)
    return requests.input_tokens * per_token if per_token else 0.0


# --- the timetable ------------------------------------------------------------------------
def boarding_departures(arrival, interval, capacity) -> np.ndarray:
    """Index k of the departure (at k x ``interval``) each request boards, first come first
    served, at most ``capacity`` per departure. ``arrival`` sorted, seconds.

    Number the seats of departure k as capacity*k ... capacity*k + capacity - 1. Request i
    takes the first seat that is both on a departure at or after its arrival and after the
    seat of request i-1: seat_i = max(capacity * earliest_i, seat_{i-1} + 1). Subtracting
    i turns this into a running maximum: seat_i = i + max over j <= i of
    (capacity * earliest_j - j). The departure is seat // capacity.
    """
    interval = positive(interval, "interval", scalar=True)
    capacity = int(positive(capacity, "capacity", integer=True, scalar=True, most=MOST_REQUESTS))
    arrival = np.asarray(arrival, dtype=float)
    if arrival.size and np.max(arrival) / interval * capacity > 2.0 ** 62:
        raise ValueError(f"interval ({interval:g} s) is too short for arrivals spanning "
                         f"{np.max(arrival):g} s: the departures could not be counted")
    earliest = np.ceil(arrival / interval).astype(np.int64)
    order = np.arange(len(arrival), dtype=np.int64)
    seat = order + np.maximum.accumulate(capacity * earliest - order)
    return seat // capacity


def simulate_fixed_interval(requests: Requests, interval, capacity, *,
                            prefill_seconds_per_token=0.0) -> ScheduleResult:
    """The timetable: a step of ``interval`` seconds departs at every k x ``interval``
    with up to ``capacity`` seats, full or not.

    A request waits for the first departure with a free seat; its first token comes out
    when that step ends (plus ``prefill_seconds_per_token`` x its prompt), and each
    further output token one interval later.
    """
    requests = _check_requests(requests)
    interval = positive(interval, "interval", scalar=True)
    capacity = int(positive(capacity, "capacity", integer=True, scalar=True, most=MOST_REQUESTS))
    index = boarding_departures(requests.arrival, interval, capacity)
    departure = index * interval
    wait = departure - requests.arrival
    ttft = wait + interval + _prefill(requests, prefill_seconds_per_token)
    latency = ttft + (requests.output_tokens - 1) * interval
    steps = int(index[-1])  # departures 1 .. last (the first possible one is at 1 x interval)
    span = (steps + 1) * interval
    offered = requests.rate * interval / capacity
    overloaded, message = _overload_message(offered, requests.rate, interval, capacity, len(requests))
    return ScheduleResult(server="fixed interval", wait=wait, ttft=ttft, latency=latency,
                          departure=departure, capacity=capacity, interval=float(interval),
                          utilisation=len(requests) / (capacity * max(steps, 1)),
                          offered_load=float(offered), steps=steps, span_seconds=float(span),
                          tokens_per_second=len(requests) / span, overloaded=overloaded,
                          message=message)


# --- the timetable, sequences keeping their seats -------------------------------------------
def simulate_seat_holding(requests: Requests, interval, seats, *,
                          prefill_seconds_per_token=0.0) -> ScheduleResult:
    """The timetable with ``seats`` seats in which each sequence keeps its seat for all its
    ``output_tokens`` steps: a request boards the first departure (at k x ``interval``) at or
    after its arrival at which a seat is free, first come first served, and frees it after
    its last token.

    A discrete-time multi-server queue: ``seats`` servers, each request served for
    ``output_tokens`` intervals. The queue for a seat moves only as sequences finish, about
    ``seats / mean answer`` seats per step. ``tokens_per_second`` and ``utilisation`` count
    every output token (seat-steps used / seats offered); ``offered_load`` = rate x mean
    answer x interval / seats. With one-token answers this is :func:`simulate_fixed_interval`
    exactly. One pass with a heap of the seats' free times (a Python loop per request: about
    a million requests per second).
    """
    import heapq

    requests = _check_requests(requests)
    interval = positive(interval, "interval", scalar=True)
    seats = int(positive(seats, "seats", integer=True, scalar=True, most=MOST_REQUESTS))
    earliest = np.ceil(requests.arrival / interval).astype(np.int64).tolist()
    tokens = requests.output_tokens.astype(np.int64)
    free_at = [0] * seats  # the departure index from which each seat is free (a heap)
    boards = np.empty(len(earliest), dtype=np.int64)
    for i, (first, length) in enumerate(zip(earliest, tokens.tolist())):
        step = first if first > free_at[0] else free_at[0]
        heapq.heapreplace(free_at, step + length)
        boards[i] = step
    departure = boards * interval
    wait = departure - requests.arrival
    ttft = wait + interval + _prefill(requests, prefill_seconds_per_token)
    latency = ttft + (tokens - 1) * interval
    last = int((boards + tokens).max())  # the last token's step ends at last x interval
    steps = max(last - 1, 1)  # departures 1 .. last - 1 carried someone or could have
    span = last * interval
    mean_answer = float(tokens.mean())
    offered = requests.rate * mean_answer * interval / seats
    overloaded, message = _overload_message(offered, requests.rate, interval * mean_answer, seats,
                                            len(requests))
    return ScheduleResult(server="seat holding", wait=wait, ttft=ttft, latency=latency,
                          departure=departure, capacity=seats, interval=float(interval),
                          utilisation=float(tokens.sum()) / (seats * steps), offered_load=float(offered),
                          steps=steps, span_seconds=float(span),
                          tokens_per_second=float(tokens.sum()) / span, overloaded=overloaded,
                          message=message)


# --- continuous batching ----------------------------------------------------------------------
def simulate_continuous(requests: Requests, capacity, step_seconds, *,
                        prefill_seconds_per_token=0.0) -> ScheduleResult:
    """A work-conserving server: each step starts when the last one ends (or at the next
    arrival when nobody waits) and takes whoever is waiting, up to ``capacity``.

    ``step_seconds``: one number (every step takes it) or an array whose entry n is the
    duration of a step that boards n requests (n = 1 .. capacity; entry 0 unused), e.g.
    :func:`step_table`. Further tokens take the duration of the boarding step each.
    The loop runs once per step, not per request.
    """
    requests = _check_requests(requests)
    capacity = int(positive(capacity, "capacity", integer=True, scalar=True, most=MOST_REQUESTS))
    if np.ndim(step_seconds) == 0:
        table = np.full(capacity + 1, positive(step_seconds, "step_seconds"))
    else:
        table = np.asarray(step_seconds, dtype=float)
        if len(table) < capacity + 1:
            raise ValueError(f"step_seconds must have an entry for every batch 0..{capacity}, "
                             f"got {len(table)} entries")
        positive(table[1:capacity + 1], "step_seconds")
    arrival = requests.arrival.tolist()
    durations = table.tolist()
    n = len(arrival)
    starts, counts = [], []
    clock, i = 0.0, 0
    while i < n:
        start = clock if clock > arrival[i] else arrival[i]
        j = min(bisect_right(arrival, start, i), i + capacity)
        starts.append(start)
        counts.append(j - i)
        clock = start + durations[j - i]
        i = j
    starts, counts = np.array(starts), np.array(counts)
    step = table[counts]
    departure = np.repeat(starts, counts)
    per_request_step = np.repeat(step, counts)
    wait = departure - requests.arrival
    ttft = wait + per_request_step + _prefill(requests, prefill_seconds_per_token)
    latency = ttft + (requests.output_tokens - 1) * per_request_step
    span = float(starts[-1] + step[-1])
    full_step = float(table[capacity])
    offered = requests.rate * full_step / capacity
    overloaded, message = _overload_message(offered, requests.rate, full_step, capacity, n)
    return ScheduleResult(server="continuous", wait=wait, ttft=ttft, latency=latency,
                          departure=departure, capacity=capacity, interval=full_step,
                          utilisation=n / (capacity * len(starts)), offered_load=float(offered),
                          steps=len(starts), span_seconds=span, tokens_per_second=n / span,
                          overloaded=overloaded, message=message)


def step_table(model, hardware, capacity, context, **decode_options) -> np.ndarray:
    """Roofline seconds of a decode step for every batch 0..``capacity`` (entry 0 is the
    batch-1 time) at ``context`` cached tokens: ``decode_step(...).seconds``."""
    from .roofline import decode_step
    capacity = int(positive(capacity, "capacity", integer=True, scalar=True, most=MOST_REQUESTS))
    batch = np.arange(1, capacity + 1)
    seconds = np.asarray(decode_step(model, hardware, batch, context, **decode_options).seconds)
    return np.concatenate([seconds[:1], seconds])


def hbm_drain_seconds(hardware) -> float:
    """Seconds to read a chip's whole memory once: memory bytes / memory bandwidth. A step
    that reads weights and KV cache filling the memory takes this long (the seed's ~20 ms)."""
    from .hardware import get_hardware
    chip = get_hardware(hardware)
    return chip.memory_bytes / chip.memory_bandwidth


# --- analysis ------------------------------------------------------------------------------
def arrivals_per_interval(rate, interval, mean_burst=1.0, *, tail=1e-13) -> np.ndarray:
    """Probability of 0, 1, 2, ... arrivals in one interval: Poisson(rate x interval) for
    ``mean_burst`` = 1, else a Poisson number of bursts with geometric sizes (Polya-Aeppli),
    by Panjer's recursion. Cut where the remaining probability is below ``tail``."""
    rate, interval = positive(rate, "rate", scalar=True), positive(interval, "interval", scalar=True)
    mean_burst = positive(mean_burst, "mean_burst")
    if mean_burst < 1:
        raise ValueError(f"mean_burst must be at least 1 (1 = Poisson), got {mean_burst!r}")
    bursts = rate * interval / mean_burst
    if bursts > 700:
        raise ValueError(f"rate x interval / mean_burst must be below 700 for this recursion, got {bursts:.4g}")
    p = 1.0 / mean_burst  # geometric burst size on 1, 2, ...: (1-p)^(k-1) p
    probs = [math.exp(-bursts)]
    total = probs[0]
    k = 0
    while 1.0 - total > tail and k < 100000:
        k += 1
        j = np.arange(1, k + 1)
        size = p * (1 - p) ** (j - 1)
        value = bursts / k * float(np.dot(j * size, np.array(probs[::-1][:k])))
        probs.append(value)
        total += value
        if k > 10 * bursts * mean_burst + 50 and value < tail * 1e-3:
            break
    return np.array(probs)


def timetable_queue(rate, interval, capacity, mean_burst=1.0, *, tolerance=1e-12,
                    max_iterations=200000) -> dict:
    """The exact stationary queue of the timetable (a bulk-service queue, Bailey 1954).

    Q, the requests left behind by a departure, obeys Q' = max(Q + A - capacity, 0) with
    A the arrivals in one interval (:func:`arrivals_per_interval`). Its stationary law is
    found by iterating that map on the distribution until it stops changing. By Little's
    law the mean wait is interval / 2 (the phase of the timetable) + E[Q] / rate (each
    left-behind request waits one more interval per departure it misses).

    Returns ``mean_wait`` (s), ``mean_left_behind`` (requests) and ``p_left_behind``
    (the probability a departure leaves someone behind). Needs offered load < 1.
    """
    rate, interval = positive(rate, "rate", scalar=True), positive(interval, "interval", scalar=True)
    capacity = int(positive(capacity, "capacity", integer=True, scalar=True, most=MOST_REQUESTS))
    load = rate * interval / capacity
    if load >= 1:
        raise ValueError(f"offered load rate x interval / capacity must be below 1 for a stationary "
                         f"queue, got {load:.4g} (the queue grows without bound: see overload_wait_slope)")
    arrivals = arrivals_per_interval(rate, interval, mean_burst)
    size = 256 + 8 * len(arrivals)
    while True:
        queue, converged = _stationary_left_behind(arrivals, capacity, size, tolerance, max_iterations)
        if queue[-64:].sum() < 1e-12 or size > 2 ** 22:
            break
        size *= 4  # the tail reached the end of the support: widen it and start again
    if not converged:
        raise ValueError(f"the queue did not settle in {max_iterations} steps (offered load {load:.4g} "
                         "is too close to 1)")
    mean = float(np.dot(np.arange(len(queue)), queue))
    return {"mean_wait": interval / 2 + mean / rate, "mean_left_behind": mean,
            "p_left_behind": float(1.0 - queue[0]), "offered_load": load}


def _stationary_left_behind(arrivals, capacity, size, tolerance, max_iterations):
    """Iterate Q' = max(Q + A - capacity, 0) on a distribution held on 0..size-1."""
    queue = np.zeros(size)
    queue[0] = 1.0
    mean = 0.0
    positions = np.arange(size)
    for iteration in range(max_iterations):
        before = np.convolve(queue, arrivals)[:size + capacity]
        queue = np.zeros(size)
        queue[0] = before[:capacity + 1].sum()
        rest = before[capacity + 1:]
        queue[1:1 + len(rest)] = rest[:size - 1]
        new_mean = float(np.dot(positions, queue))
        if iteration > 10 and abs(new_mean - mean) <= tolerance * max(1.0, new_mean):
            return queue, True
        mean = new_mean
    return queue, False


def overload_wait_slope(rate, interval, capacity) -> float:
    """Above saturation, seconds of extra wait per second of arrival time: offered load - 1.

    Request i arrives near i / rate and, the queue never emptying, departs near
    i x interval / capacity; the wait grows as arrival time x (rate x interval / capacity - 1).
    Zero below saturation (the wait stays bounded).
    """
    rate, interval = positive(rate, "rate", scalar=True), positive(interval, "interval", scalar=True)
    capacity = positive(capacity, "capacity", integer=True, scalar=True, most=MOST_REQUESTS)
    return max(0.0, float(rate * interval / capacity - 1.0))
