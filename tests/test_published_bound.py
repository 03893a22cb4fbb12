"""Published measurements the project did not take, run through the public API.

``data/published_runs.csv`` holds single-stream llama.cpp results (llama-bench: ``tg`` =
decode, ``pp`` = prefill) on datacenter GPUs and Apple silicon, and TensorRT-LLM's published
tables (static-batch throughput of whole requests, and time to first token), each row with
its source.
Chips the catalogue lacks are built as a ``Hardware`` from the row's sourced bandwidth and
peak. The roofline is a lower bound: no measured time may beat it, and on such published
points the median of measured / predicted stays at or below 2.5 (issue 12).
"""
import numpy as np
import pytest

import inferlab as il
from inferlab import _lookup, serving
from inferlab.hardware import Hardware

ROWS = _lookup.data_rows("published_runs.csv")


def _chip(row):
    if row["hardware"]:
        return il.get_hardware(row["hardware"])
    return Hardware(name=row["system"], memory_bytes=1e12,
                    memory_bandwidth=float(row["custom_bandwidth_TBps"]) * 1e12,
                    flops={row["compute_dtype"]: float(row["custom_peak_TFLOPS"]) * 1e12},
                    source=row["hardware_source"])


def _measured_and_predicted(row):
    chip = _chip(row)
    options = dict(weight_bytes=float(row["bytes_per_weight"]), kv_bytes=float(row["kv_bytes"]),
                   compute_dtype=row["compute_dtype"])
    tokens, rate = int(row["tokens"]), float(row["tokens_per_second"])
    batch = int(row["batch"])
    if row["phase"] == "request":  # batch prompts of `context` tokens, `tokens` outputs each
        seconds = serving.request_seconds(row["catalogue_model"], chip, int(row["context"]), tokens,
                                          batch, prefill_batch=batch, **options)
        return batch * tokens / rate, seconds
    if row["phase"] == "decode":
        step = il.decode_step(row["catalogue_model"], chip, int(row["batch"]), int(row["context"]),
                              **options)
        return int(row["batch"]) / rate, step.seconds
    step = il.prefill_step(row["catalogue_model"], chip, tokens, int(row["batch"]), **options)
    return int(row["batch"]) * tokens / rate, step.seconds


def test_every_row_is_sourced_and_computable():
    assert len(ROWS) >= 30
    for row in ROWS:
        assert row["source"] and (row["hardware"] or row["hardware_source"]), row["system"]
        assert row["phase"] in ("decode", "prefill", "request")
        measured, predicted = _measured_and_predicted(row)
        assert np.isfinite(predicted) and predicted > 0, row


@pytest.mark.parametrize("row", ROWS, ids=[f"{r['system']}-{r['model']}-{r['weights']}-{r['phase']}"
                                           for r in ROWS])
def test_no_published_time_beats_the_roofline(row):
    measured, predicted = _measured_and_predicted(row)
    assert measured >= predicted, f"{measured / predicted:.3f}x"


def test_median_measured_over_predicted_is_at_most_two_and_a_half():
    ratios = [m / p for m, p in map(_measured_and_predicted, ROWS)]
    assert 1.0 <= np.median(ratios) <= 2.5
