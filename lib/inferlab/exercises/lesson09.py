"""Lesson 09 exercises: the train schedule and the queueing it causes."""

from ..roofline import decode_step
from ..economics import cost_per_million_tokens, gpu_hour_price
from ..schedule import hbm_drain_seconds, overload_wait_slope, timetable_queue
from . import Exercise, register

#: The deployment the lesson prices: llama-3.1-70b on 8 H100s, 4096 tokens of context.
FLEET = dict(model="llama-3.1-70b", hardware="H100-SXM", context=4096, chips=8)


def fleet_step(batch):
    """Seconds of one decode step of the lesson's deployment at ``batch`` sequences."""
    return float(decode_step(FLEET["model"], FLEET["hardware"], batch, FLEET["context"],
                             chips=FLEET["chips"]).seconds)


def fleet_cost(batch, usd_per_gpu_hour=None):
    """Dollars per million tokens of the deployment with full trains of ``batch`` seats."""
    price = gpu_hour_price(FLEET["hardware"]) if usd_per_gpu_hour is None else usd_per_gpu_hour
    return float(cost_per_million_tokens(fleet_step(batch), batch, price, FLEET["chips"]))


register(
    Exercise("09.mean-wait",
             "Mean wait for the next departure at low load when trains leave every H100 HBM drain time.",
             expected=lambda: hbm_drain_seconds("H100-SXM") / 2, unit="seconds",
             hint="arrivals land at a uniformly random point of the interval: on average halfway. "
                  "The interval is the usable memory (85.52e9 bytes: nvidia-smi's 81,559 MiB, not the "
                  "vendor's 80 GB) / 3.35e12 bytes/s, as schedule.hbm_drain_seconds computes.",
             quantity="the wait: an arrival waits half an interval on average, not a whole one"),
    Exercise("09.knee-one-seat",
             "Mean wait, in intervals, at offered load 0.9 when every departure has one seat.",
             expected=lambda: timetable_queue(0.9 / 0.02, 0.02, 1)["mean_wait"] / 0.02,
             unit="intervals (wait / T)",
             hint="T/2 plus the queue: E[Q] = load^2 / (2 (1 - load)) left behind, each waiting "
                  "E[Q] / rate; or inferlab.schedule.timetable_queue."),
    Exercise("09.cost-ratio",
             "Cost per token with full trains of 16 seats divided by that with 256 seats "
             "(llama-3.1-70b, 8 H100s, context 4096).",
             expected=lambda: fleet_cost(16) / fleet_cost(256), unit="(a ratio)",
             hint="cost per token = price x chips x step seconds / seats; the step time comes "
                  "from decode_step at each batch."),
    Exercise("09.overload-wait",
             "3500 requests/s reach a timetable of 64 seats every 20 ms. How long does a request "
             "that arrives 60 s later wait?",
             expected=lambda: overload_wait_slope(3500, 0.020, 64) * 60, unit="seconds",
             hint="the wait grows by (rate x T / seats - 1) seconds per second of arrivals."),
)
