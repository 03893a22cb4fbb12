"""The sourced price tables: every row loads, is positive and sourced, and the cost arithmetic holds."""
import csv
from importlib import resources

import pytest

from inferlab.economics import (TIERS, api_prices, cost_per_million_tokens, gpu_hour_price,
                                gpu_prices)
from inferlab.hardware import get_hardware

CONFIDENCE = {"primary", "secondary", "derived", "low"}
PRICING_KINDS = {"on-demand", "reserved", "spot", "marketplace"}
API_HEADER = ["provider", "model", "tier", "context_condition", "input_usd_per_Mtok",
              "cached_input_usd_per_Mtok", "output_usd_per_Mtok", "speedup", "source",
              "source_date", "confidence", "notes"]
GPU_HEADER = ["hardware", "provider", "usd_per_gpu_hour", "pricing_kind", "source", "source_date",
              "confidence", "notes"]


def _raw(name):
    text = resources.files("inferlab").joinpath("data", name).read_text(encoding="utf-8")
    return list(csv.reader(text.splitlines()))


@pytest.mark.parametrize("name, header", [("prices.csv", API_HEADER), ("gpu_prices.csv", GPU_HEADER)])
def test_headers_are_exact_and_every_row_has_every_column(name, header):
    rows = _raw(name)
    assert rows[0] == header
    assert len(rows) > 1
    for row in rows[1:]:
        assert len(row) == len(header), row


def test_every_api_row_loads():
    assert len(api_prices()) == len(_raw("prices.csv")) - 1


def test_every_gpu_row_loads():
    assert len(gpu_prices()) == len(_raw("gpu_prices.csv")) - 1


def test_api_numbers_are_positive_where_present_and_each_row_has_a_price():
    for p in api_prices():
        values = [p.input, p.cached_input, p.output, p.speedup]
        assert all(v is None or v > 0 for v in values), p
        assert p.input is not None or p.output is not None, p


def test_api_rows_are_sourced_dated_and_labelled():
    for p in api_prices():
        assert p.source.strip() and p.source_date.strip(), p
        assert p.confidence in CONFIDENCE, p
        assert p.tier in TIERS, p
        assert p.context_condition == "all" or p.context_condition[:1] in "<>", p


def test_speedup_only_on_fast_or_priority_tiers():
    for p in api_prices():
        if p.speedup is not None:
            assert p.tier in ("fast", "priority"), p


def test_the_required_providers_and_tiers_are_covered():
    have = {(p.provider, p.tier) for p in api_prices()}
    for provider in ("Anthropic", "OpenAI", "Google", "DeepSeek"):
        assert (provider, "standard") in have
    for pair in [("Anthropic", "batch"), ("Anthropic", "fast"), ("OpenAI", "batch"),
                 ("OpenAI", "flex"), ("OpenAI", "priority"), ("Google", "batch"),
                 ("DeepSeek", "off-peak")]:
        assert pair in have
    long_context = {p.provider for p in api_prices() if p.context_condition == ">200k"}
    assert {"Anthropic", "Google"} <= long_context
    assert any(p.cached_input for p in api_prices() if p.provider == "DeepSeek")


def test_long_context_rows_cost_more_than_their_short_context_twin():
    prices = api_prices()
    for long in (p for p in prices if p.context_condition == ">200k"):
        short = [p for p in prices if (p.provider, p.model, p.tier) == (long.provider, long.model, long.tier)
                 and p.context_condition == "<=200k"]
        assert short, long
        assert long.input > short[0].input and long.output > short[0].output


def test_gpu_rows_are_positive_sourced_and_canonical():
    for g in gpu_prices():
        assert g.usd_per_gpu_hour > 0, g
        assert g.source.strip() and g.source_date.strip(), g
        assert g.confidence in CONFIDENCE, g
        assert g.pricing_kind in PRICING_KINDS, g
        assert get_hardware(g.hardware).name == g.hardware, g


def test_at_least_three_providers_price_h100_sxm_on_demand():
    providers = {g.provider for g in gpu_prices()
                 if g.hardware == "H100-SXM" and g.pricing_kind == "on-demand"}
    assert len(providers) >= 3


@pytest.mark.parametrize("chip", ["A100-80GB", "H200", "B200", "MI300X"])
def test_other_chips_have_an_on_demand_price(chip):
    assert gpu_hour_price(chip) > 0


def test_gpu_hour_price_is_within_the_on_demand_range():
    rows = [g.usd_per_gpu_hour for g in gpu_prices()
            if g.hardware == "H100-SXM" and g.pricing_kind == "on-demand"]
    assert min(rows) <= gpu_hour_price("H100-SXM") <= max(rows)
    assert gpu_hour_price("h100 sxm") == gpu_hour_price("H100-SXM")


def test_cost_per_million_tokens_by_hand():
    # 10 ms step, 100 tokens, one $3.60/h chip: $0.001/s * 0.01 s / 100 tokens * 1e6 = $0.10
    assert cost_per_million_tokens(0.010, 100, 3.60) == pytest.approx(0.10)
    # eight chips cost eight times as much per token
    assert cost_per_million_tokens(0.010, 100, 3.60, chips=8) == pytest.approx(0.80)
