"""Lesson 09: the train schedule. Figures of the timetable and its queue, and an explorer."""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..display import Table
from ..economics import cost_per_million_tokens, gpu_hour_price
from ..plotting import PALETTE, figure, seconds_label
from ..schedule import (Requests, geometric_lengths, make_requests, simulate_continuous,
                        simulate_fixed_interval, simulate_seat_holding, step_table, timetable_queue)
from ..widgets import Explorer


def timetable_picture(interval=0.020, capacity=4, load=0.8, window=0.2, seed=3, ax=None):
    """The timetable drawn: departures (vertical lines, with how many boarded), arrivals
    (ticks) and the number of passengers waiting (a staircase), over ``window`` seconds."""
    if ax is None:
        _, ax = figure(height=3.6)
    requests = make_requests(load * capacity / interval, max(200, int(3 * load * capacity * window / interval)),
                             seed=seed)
    result = simulate_fixed_interval(requests, interval, capacity)
    pick = requests.arrival <= window
    arrival, departure = requests.arrival[pick], result.departure[pick]
    # Passengers waiting at time t: arrived by t, not yet departed.
    times = np.sort(np.concatenate([[0.0], arrival, departure[departure <= window], [window]]))
    waiting = (np.searchsorted(arrival, times, side="right")
               - np.searchsorted(np.sort(departure), times, side="right"))
    top = max(capacity, int(waiting.max())) + 2
    ax.step(times * 1e3, waiting, where="post", color=PALETTE["blue"], label="passengers waiting")
    ax.plot(arrival * 1e3, np.full(len(arrival), -0.35), marker="|", linestyle="none", markersize=12,
            color=PALETTE["black"], label="arrivals")
    for k in range(1, int(window / interval) + 1):
        boarded = int(np.sum(departure == k * interval))
        ax.axvline(k * interval * 1e3, color=PALETTE["vermillion"], linewidth=1.2, alpha=0.8)
        ax.annotate(f"{boarded}/{capacity}", (k * interval * 1e3, top - 0.9), ha="center", fontsize=8,
                    color=PALETTE["vermillion"], bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none"))
    ax.axhline(capacity, color=PALETTE["orange"], linestyle=":", linewidth=1.2,
               label=f"seats per departure ({capacity})")
    ax.plot([], [], color=PALETTE["vermillion"], label="departure (boarded/seats above)")
    ax.set(xlim=(0, window * 1e3), ylim=(-1, top), xlabel="time (ms)",
           ylabel="requests waiting",
           title=f"a train every {interval * 1e3:g} ms, {capacity} seats, offered load {load:g}")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=4, fontsize=8)
    return ax, result


def wait_vs_load(interval=0.020, capacities=(1, 8, 64), loads=None, count=50_000, seed=0, ax=None):
    """Mean wait (in intervals) against offered load: simulated points and the exact bulk
    queue (lines), and above saturation the simulated wait of this many requests."""
    if ax is None:
        _, ax = figure(height=3.6)
    loads = np.array(loads if loads is not None else [0.1, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 1.05, 1.2])
    base = make_requests(1.0, count, seed=seed)
    theory_loads = np.linspace(0.02, 0.93, 20)
    for colour, capacity in zip((PALETTE["vermillion"], PALETTE["orange"], PALETTE["blue"]), capacities):
        theory = [timetable_queue(load * capacity / interval, interval, capacity)["mean_wait"] / interval
                  for load in theory_loads]
        ax.plot(theory_loads, theory, color=colour, label=f"{capacity} seat{'s' * (capacity > 1)}: bulk queue")
        simulated = []
        for load in loads:
            rate = load * capacity / interval
            requests = Requests(base.arrival / rate, base.input_tokens, base.output_tokens, rate)
            simulated.append(simulate_fixed_interval(requests, interval, capacity).wait.mean() / interval)
        ax.plot(loads, simulated, color=colour, marker="o", linestyle="none", markersize=5,
                label=f"{capacity} seat{'s' * (capacity > 1)}: simulated")
    ax.axhline(0.5, color=PALETTE["black"], linestyle=":", linewidth=1, label="T/2")
    ax.axvspan(1.0, loads.max() + 0.05, color=PALETTE["vermillion"], alpha=0.08)
    ax.annotate(f"overload: the queue\ngrows ({count:,} requests\nsimulated)", (1.01, 0.6), fontsize=8)
    ax.set(yscale="log", ylim=(0.3, 3e3), xlim=(0, loads.max() + 0.05),
           xlabel="offered load = arrival rate × T / seats",
           ylabel="mean wait (intervals T, log)", title="the knee: waiting against load")
    ax.legend(loc="upper left", fontsize=8, ncols=2)
    return ax


def fast_tier_table(model="llama-3.1-70b", hardware="H100-SXM", context=4096, chips=8,
                    batches=(8, 16, 32, 64, 128, 256, 512), output_tokens=300, usd_per_gpu_hour=None) -> Table:
    """For each batch: the interval a full train needs (one decode step), the mean wait
    and time to first token at low load, the time for ``output_tokens`` tokens, and the cost
    per million tokens with full trains."""
    from ..roofline import decode_step
    price = gpu_hour_price(hardware) if usd_per_gpu_hour is None else usd_per_gpu_hour
    rows = []
    for batch in batches:
        step = float(decode_step(model, hardware, batch, context, chips=chips).seconds)
        rows.append({"seats (batch)": batch, "interval T": f"{step * 1e3:.1f} ms",
                     "mean wait T/2": f"{step / 2 * 1e3:.1f} ms",
                     "mean TTFT 1.5 T": f"{1.5 * step * 1e3:.1f} ms",
                     f"{output_tokens} tokens": f"{(0.5 + output_tokens) * step:.2f} s",
                     "$ per M tokens (full)": f"{float(cost_per_million_tokens(step, batch, price, chips)):.2f}"})
    return Table(rows, caption=f"{model} on {chips} × {hardware}, context {context}, "
                               f"${price:.2f} per GPU-hour: trains sized by the decode step")


def compare_servers(model="llama-3.1-8b", hardware="H100-SXM", capacity=64, context=1024,
                    loads=(0.05, 0.3, 0.6, 0.8, 0.95, 1.1), count=20_000, seed=1, usd_per_gpu_hour=None):
    """Fixed interval (T = a full batch's step) against continuous batching (each step as
    long as its batch needs) at several offered loads. Returns (Table, list of result pairs)."""
    table = step_table(model, hardware, capacity, context)
    interval = float(table[capacity])
    price = gpu_hour_price(hardware) if usd_per_gpu_hour is None else usd_per_gpu_hour
    base = make_requests(1.0, count, output_tokens=geometric_lengths(300), seed=seed)
    rows, results = [], []
    for load in loads:
        rate = load * capacity / interval
        requests = Requests(base.arrival / rate, base.input_tokens, base.output_tokens, rate)
        pair = (simulate_fixed_interval(requests, interval, capacity),
                simulate_continuous(requests, capacity, table))
        results.append(pair)
        for result in pair:
            ttft = result.stats("ttft")
            rows.append({"load": f"{load:g}", "server": result.server,
                         "mean wait": f"{result.wait.mean() * 1e3:.1f} ms",
                         "TTFT p50": f"{ttft['p50'] * 1e3:.1f} ms", "TTFT p99": f"{ttft['p99'] * 1e3:.1f} ms",
                         "seats filled": f"{result.utilisation:.0%}",
                         "$ per M tokens": f"{result.cost_per_million_tokens(price):.2f}",
                         "note": "overloaded" if result.overloaded else ""})
    return Table(rows, caption=f"{model} on one {hardware}, up to {capacity} seats, context {context}; "
                               f"fixed interval T = {interval * 1e3:.2f} ms; {count:,} requests each, "
                               f"one seat (one token) per request"), results


#: The deployment whose decode steps the explorer prices (as in ``compare_servers``).
DEPLOYMENT = dict(model="llama-3.1-8b", hardware="H100-SXM", context=1024)


def steps_cost(result, usd_per_gpu_hour=None) -> tuple:
    """Dollars per million tokens when the chip is paid for the steps the timetable runs:
    each departure carries its filled seats (utilisation x seats, one token each) in one
    :data:`DEPLOYMENT` decode step (roofline). A shorter interval at the same load boards
    fewer sequences per step, so below the knee each token pays for more of the weight read.
    Returns ``(usd_per_million_tokens, mean_batch, step_seconds, full_train_step_seconds)``."""
    price = gpu_hour_price(DEPLOYMENT["hardware"]) if usd_per_gpu_hour is None else usd_per_gpu_hour
    batch = max(result.utilisation * result.capacity, 1e-9)
    table = _step_table(result.capacity)
    step = float(np.interp(batch, np.arange(table.size), table))  # a mean batch need not be whole
    full = float(table[-1])
    return float(cost_per_million_tokens(step, batch, price)), batch, step, full


@lru_cache(maxsize=16)
def _step_table(capacity: int) -> np.ndarray:
    return step_table(DEPLOYMENT["model"], DEPLOYMENT["hardware"], capacity, DEPLOYMENT["context"])


@lru_cache(maxsize=16)
def _unit_rate_stream(mean_burst: float, count: int, seed: int, mean_answer: int = 300):
    """Arrivals at one request per second (scaled by 1/rate for any rate: exact for these
    processes) and geometric output lengths with mean ``mean_answer`` tokens (the arrivals
    do not depend on it)."""
    return make_requests(1.0, count, mean_burst=mean_burst, output_tokens=geometric_lengths(mean_answer),
                         seed=seed)


@lru_cache(maxsize=64)
def _seat_holding_knee(mean_answer: int, seats: int, mean_burst: float, loads: tuple, count: int):
    """Mean wait (in intervals) at each offered load rate x answer x T / seats when each
    sequence keeps its seat for its whole answer (geometric, mean ``mean_answer`` tokens).
    In units of T it does not depend on T (arrival times scale with it), so it is computed
    once with T = 1 for each (answer, seats, burst)."""
    base = _unit_rate_stream(mean_burst, count, 0, mean_answer)
    waits = []
    for load in loads:
        rate = load * seats / mean_answer
        requests = Requests(base.arrival / rate, base.input_tokens, base.output_tokens, rate, mean_burst)
        waits.append(float(simulate_seat_holding(requests, 1.0, seats).wait.mean()))
    return waits


class TrainScheduleExplorer(Explorer):
    """Arrival rate, interval, seats, burstiness and how long a request holds its seat ->
    the time-to-first-token histogram (p50, p99 marked), the knee of the wait against load,
    utilisation and cost.

    ``answer_tokens`` = 1: the plain timetable, one seat per request per departure (its
    boarding only; :func:`simulate_fixed_interval`). Above 1: each sequence keeps its seat
    for its whole answer, geometric lengths with that mean (:func:`simulate_seat_holding`),
    so the offered load is rate x answer x interval / seats.
    """

    figsize = (9.0, 3.5)
    # the rate slider moves in steps of 10 ** 0.05: 10 ** 3.4 = 2,512 requests/s (load 0.79)
    _base = {"rate": 10 ** 3.4, "interval_ms": 20, "capacity": 64, "mean_burst": 1, "answer_tokens": 1}
    things_to_try = (
        ("16 seats: overload.",
         {**_base, "capacity": 16}),
        ("Bursts of 8: the p99 grows.",
         {**_base, "mean_burst": 8}),
        ("Half the interval: half the wait, dearer tokens.",
         {**_base, "interval_ms": 10}),
        ("300-token answers, 8 requests/s: the p99 grows.",
         {**_base, "rate": 10 ** 0.9, "answer_tokens": 300}),
    )
    count = 30_000
    knee_count = 6_000
    bins = 40
    knee_loads = np.array([0.1, 0.3, 0.5, 0.65, 0.8, 0.9, 0.95, 1.0, 1.1, 1.25, 1.4])

    def controls(self) -> dict:
        import ipywidgets as widgets
        style = {"description_width": "initial"}
        return {
            "rate": widgets.FloatLogSlider(value=2400, base=10, min=0, max=4.5, step=0.05, readout_format=",.4r",
                                           description="arrivals per s", style=style),
            "interval_ms": widgets.FloatSlider(value=20, min=2, max=50, step=1,
                                               description="interval (ms)", style=style),
            "capacity": widgets.Dropdown(options=[1, 2, 4, 8, 16, 32, 64, 128, 256, 512], value=64,
                                         description="seats", style=style),
            "mean_burst": widgets.FloatSlider(value=1, min=1, max=20, step=0.5,
                                              description="mean burst", style=style),
            "answer_tokens": widgets.Dropdown(options=[("boarding only (1 step)", 1), ("16 tokens", 16),
                                                       ("64 tokens", 64), ("300 tokens", 300)],
                                              value=1, description="seat held for", style=style),
        }

    def draw(self, fig, rate, interval_ms, capacity, mean_burst, answer_tokens=1) -> str:
        left, right = fig.subplots(1, 2, width_ratios=[1.25, 1])
        self._edges = np.geomspace(1e-3, 1.0, self.bins + 1)
        self._hist = left.stairs(np.zeros(self.bins), self._edges * 1e3, fill=True, color=PALETTE["sky"])
        self._p50 = left.axvline(1, color=PALETTE["blue"], linewidth=2, label="p50")
        self._p99 = left.axvline(1, color=PALETTE["vermillion"], linewidth=2, label="p99")
        left.set(xscale="log", xlim=(1, 1e3), ylim=(0, 0.5), xlabel="time to first token (ms, log)",
                 ylabel="fraction of requests", title="time to first token")
        left.legend(loc="upper right")
        self._knee, = right.plot(self.knee_loads, np.ones(len(self.knee_loads)), color=PALETTE["blue"],
                                 marker="o", markersize=4, label="mean wait (simulated)")
        self._here, = right.plot([0.5], [1.0], marker="*", markersize=14, color=PALETTE["vermillion"],
                                 linestyle="none", label="these settings")
        right.axhline(0.5, color=PALETTE["black"], linestyle=":", linewidth=1, label="T/2")
        right.axvspan(1.0, 1.5, color=PALETTE["vermillion"], alpha=0.08)
        right.set(yscale="log", ylim=(0.01, 1e4), xlim=(0, 1.5), xlabel=self._load_label(answer_tokens),
                  ylabel="mean wait (intervals T, log)", title="wait against load")
        self._right, self._left = right, left
        right.legend(loc="upper left", fontsize=8)
        self.moving = [self._hist, self._p50, self._p99, self._knee, self._here]
        return self.update(rate, interval_ms, capacity, mean_burst, answer_tokens)

    def update(self, rate, interval_ms, capacity, mean_burst, answer_tokens=1) -> str:
        interval, capacity = float(interval_ms) / 1e3, int(capacity)
        mean_burst = round(float(mean_burst), 2)
        answer = int(answer_tokens)
        label = self._load_label(answer)
        if self._right.get_xlabel() != label:  # switched between one seat and seats held
            self._right.set_xlabel(label)
            self.invalidate()
        if answer > 1:
            return self._update_seat_holding(float(rate), interval, capacity, mean_burst, answer)
        base = _unit_rate_stream(mean_burst, self.count, 0)
        requests = Requests(base.arrival / rate, base.input_tokens, base.output_tokens, float(rate), mean_burst)
        result = simulate_fixed_interval(requests, interval, capacity)
        knee = []
        for load in self.knee_loads:
            knee_rate = load * capacity / interval
            short = Requests(base.arrival[:self.knee_count] / knee_rate, base.input_tokens[:self.knee_count],
                             base.output_tokens[:self.knee_count], knee_rate, mean_burst)
            knee.append(simulate_fixed_interval(short, interval, capacity).wait.mean() / interval)
        ttft = self._show(result, knee)
        warning = f"<br><b style='color:#D55E00'>{result.message}</b>" if result.message else ""
        return (f"{float(rate):,.0f} one-token requests/s (bursts of {mean_burst:g} on average) to a train every "
                f"<b>{interval * 1e3:.0f} ms</b> with <b>{capacity} seats</b>: offered load "
                f"<b>{result.offered_load:.2f}</b>, seats filled <b>{result.utilisation:.0%}</b>. "
                f"Wait: mean {result.wait.mean() * 1e3:.1f} ms (T/2 = {interval * 500:.1f} ms). "
                f"Time to first token p50 <b>{ttft['p50'] * 1e3:.1f} ms</b>, p99 <b>{ttft['p99'] * 1e3:.1f} ms</b>. "
                f"{self._cost_text(result)}{warning}")

    @staticmethod
    def _cost_text(result) -> str:
        cost, batch, step, full = steps_cost(result)
        late = (f" <b>A full train's step ({result.capacity} seats) takes {seconds_label(full)}, longer than "
                f"the interval: one H100 cannot keep this timetable.</b>" if full > result.interval else "")
        return (f"{result.tokens_per_second:,.0f} tokens/s; each departure carries {batch:,.3g} sequences in one "
                f"{DEPLOYMENT['model']} step of {seconds_label(step)} (roofline, one H100): "
                f"<b>${cost:.3g} per million tokens</b> of chip time at ${gpu_hour_price('H100-SXM'):.2f}/h.{late}")

    @staticmethod
    def _load_label(answer_tokens) -> str:
        if int(answer_tokens) > 1:
            return "offered load (rate × answer × T / seats)"
        return "offered load (rate × T / seats)"

    def _show(self, result, knee):
        """Move the artists: the TTFT histogram, its p50 and p99, the knee and the star."""
        # The axis spans whole decades around the data (the fastest to the p99.9), so the
        # histogram fills it. A new axis means a full redraw (~0.4 s), so the axis only
        # changes when the data leave it or use less than half its decades. Overload keeps
        # the axis: its waits only say how long we simulated (the summary says so in red),
        # and they pile up at the right edge.
        low, high = np.percentile(result.ttft, [0.0, 99.9])
        need = (np.floor(np.log10(max(low, 1e-5))), np.ceil(np.log10(max(high, low * 1.01))))
        have = (np.log10(self._edges[0]), np.log10(self._edges[-1]))
        fitted = have[0] <= need[0] and need[1] <= have[1] and have[1] - have[0] <= 2 * (need[1] - need[0])
        if not (fitted or result.overloaded):
            self._edges = np.geomspace(10.0 ** need[0], 10.0 ** need[1], self.bins + 1)
            self._left.set_xlim(self._edges[0] * 1e3, self._edges[-1] * 1e3)
            self.invalidate()
        counts, _ = np.histogram(np.clip(result.ttft, self._edges[0], self._edges[-1] * 0.999), self._edges)
        fractions = counts / len(result.ttft)
        top = self._left.get_ylim()[1]
        if not (fractions.max() * 1.05 <= top <= max(5 * fractions.max(), 0.1) or result.overloaded):
            self._left.set_ylim(0, next(y for y in (0.1, 0.2, 0.5, 1.0) if y >= fractions.max() * 1.05 or y == 1.0))
            self.invalidate()
        self._hist.set_data(fractions, self._edges * 1e3)
        ttft = result.stats("ttft")
        self._p50.set_xdata([ttft["p50"] * 1e3] * 2)
        self._p99.set_xdata([ttft["p99"] * 1e3] * 2)
        self._knee.set_ydata(knee)
        wait = min(max(result.wait.mean() / result.interval, 0.011), 8e3)  # kept on the axes
        self._here.set_data([min(result.offered_load, 1.49)], [wait])
        return ttft

    def _update_seat_holding(self, rate, interval, seats, mean_burst, answer) -> str:
        """Each sequence keeps its seat for its whole answer (geometric, mean ``answer``)."""
        base = _unit_rate_stream(mean_burst, self.count, 0, answer)
        requests = Requests(base.arrival / rate, base.input_tokens, base.output_tokens, rate, mean_burst)
        result = simulate_seat_holding(requests, interval, seats)
        # The queue of held seats settles slowly near saturation: its knee uses as many requests
        # as the histogram (about 70 ms once per answer, seats and burst, then cached).
        knee = _seat_holding_knee(answer, seats, mean_burst, tuple(self.knee_loads.tolist()), self.count)
        ttft = self._show(result, knee)
        latency = result.stats("latency")
        warning = f"<br><b style='color:#D55E00'>{result.message}</b>" if result.message else ""
        mean_tokens = float(requests.output_tokens.mean())
        rate_text = f"{rate:,.0f}" if rate >= 100 else f"{rate:.3g}"
        return (f"{rate_text} requests/s (bursts of {mean_burst:g} on average) to a train every "
                f"<b>{interval * 1e3:.0f} ms</b> with <b>{seats} seats</b>, each request answering "
                f"<b>{answer} tokens</b> on average (geometric): each sequence <b>holds its seat for its whole "
                f"answer</b>, so the offered load is rate × answer × interval / seats = "
                f"{rate_text} × {mean_tokens:.0f} × {interval * 1e3:.0f} ms / {seats} = "
                f"<b>{result.offered_load:.2f}</b>, and a full train frees only about {seats / answer:.2g} "
                f"seats per departure. Seats filled <b>{result.utilisation:.0%}</b>. Wait: mean "
                f"{seconds_label(result.wait.mean())} (T/2 = {interval * 500:.1f} ms). Time to first token p50 "
                f"<b>{seconds_label(ttft['p50'])}</b>, p99 <b>{seconds_label(ttft['p99'])}</b>; whole answer p99 "
                f"{seconds_label(latency['p99'])}. {self._cost_text(result)}{warning}")
