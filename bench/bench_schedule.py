"""Benchmark the train-schedule simulator: simulated requests per second.

    PYTHONPATH=lib python bench/bench_schedule.py [--requests 1000000] [--repeats 5]

Prints, for the fixed-interval server (one vectorised pass) and the continuous-batching
server (a loop per step), the median requests simulated per second over the repeats. The
arrivals are drawn once, outside the timing. The target for the fixed-interval server is
at least 1 million requests per second on 2 cores.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

from inferlab import schedule

TARGET = 1e6


def rate_of(simulate, count, repeats):
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        simulate()
        seconds.append(time.perf_counter() - start)
    return count / float(np.median(seconds))


INTERVAL, CAPACITY, LOAD = 0.020, 64, 0.8


def fixed_interval_rate(count=1_000_000, repeats=5, mean_burst=1.0):
    """Simulated requests per second of the fixed-interval server (median of ``repeats``)."""
    requests = schedule.make_requests(LOAD * CAPACITY / INTERVAL, count, mean_burst=mean_burst,
                                      output_tokens=schedule.geometric_lengths(300))
    return rate_of(lambda: schedule.simulate_fixed_interval(requests, INTERVAL, CAPACITY),
                   count, repeats)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    interval, capacity, load = INTERVAL, CAPACITY, LOAD
    print(f"train schedule, {args.requests:,} requests, interval {interval * 1e3:g} ms, "
          f"capacity {capacity}, offered load {load} ({os.cpu_count()} CPUs visible)")
    ok = True
    for burst in (1.0, 4.0):
        fixed = fixed_interval_rate(args.requests, args.repeats, burst)
        ok &= fixed >= TARGET
        print(f"fixed interval, mean burst {burst:g}: {fixed:,.0f} requests/s "
              f"({'meets' if fixed >= TARGET else 'MISSES'} the {TARGET:,.0f}/s target)")
    table = schedule.step_table("llama-3.1-8b", "H100-SXM", capacity, 1024)
    count = min(args.requests, 200_000)
    requests = schedule.make_requests(load * capacity / table[capacity], count)
    continuous = rate_of(lambda: schedule.simulate_continuous(requests, capacity, table), count,
                         max(1, args.repeats // 2))
    print(f"continuous batching (loop per step): {continuous:,.0f} requests/s")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
