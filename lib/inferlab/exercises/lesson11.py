"""Lesson 11 exercises: the capstone price sheet."""

import math

from .. import price_sheet
from . import Exercise, register

#: The simple case of exercise 1: llama-3.1-8b on one H100 at $2 per GPU-hour.
SIMPLE = dict(model="llama-3.1-8b", hardware="H100-SXM", chips=1, usd_per_gpu_hour=2.0, context=1024,
              batch=64, max_tpot=1.0, utilisation=0.5, margin=0.5)
#: DeepSeek-V3 on H100-class chips (DeepSeek serves on H800s: the same HBM and FLOP/s).
DEEPSEEK = dict(model="deepseek-v3", hardware="H100-SXM", chips=16, weight_bytes=1, compute_dtype="fp8",
                usd_per_gpu_hour=2.0, context=4989, prefill_batch=16, batch=2048, max_tpot=1 / 21,
                # DeepSeek-V3 reads at most 163,840 tokens (its config) and serves 128k; with
                # data-parallel attention one sequence's whole cache sits on one chip
                long_context=128_000, long_threshold=64_000)


def _deepseek_margin():
    report = price_sheet.serving_report("DeepSeek")
    return 1.0 - report["cost_per_day"] / report["theoretical_revenue_per_day"]


def _break_even_utilisation():
    at_cost = price_sheet.price_sheet(utilisation=1.0, overnight_utilisation=1.0, margin=0.0, **DEEPSEEK).output
    published = price_sheet.published_sheet("DeepSeek", "deepseek-chat (DeepSeek-V3)")["output"]
    return at_cost / published


def _furthest_ratio():
    rows = price_sheet.compare_with_published(price_sheet.price_sheet())
    return max(rows, key=lambda r: abs(math.log(r["this_sheet"] / r["published_median"])))["ratio"]


register(
    Exercise("11.hand-output",
             "llama-3.1-8b on one H100 at $2 per GPU-hour, batch 64, context 1024, 50 % utilisation, "
             "50 % margin: the output price in $ per million tokens.",
             expected=lambda: price_sheet.price_sheet(**SIMPLE).output, unit="$ per million tokens",
             hint="il.decode_step(...).seconds / 64 x ($2 / 3600 s) x 1e6 is the cost at full use; "
                  "divide by the utilisation and by (1 - margin).",
             quantity="the dollars: dividing by 50 % utilisation doubles the cost, and so does a 50 % margin"),
    Exercise("11.deepseek-margin",
             "DeepSeek reported a 'cost profit margin of 545%' ($562,027 theoretical revenue against $87,072 "
             "cost per day). What gross margin is that: the share of the revenue that is not cost?",
             expected=_deepseek_margin, unit="(a fraction)",
             hint="1 - cost / revenue; 545 % is profit / cost, not profit / revenue.",
             quantity="the margin: the share of the revenue left after the cost"),
    Exercise("11.break-even-utilisation",
             "deepseek-v3 on 16 H100-class chips (fp8, $2 per GPU-hour, the lesson's settings): at what "
             "utilisation, with no margin, does the sheet's output price equal DeepSeek-V3's published $1.10?",
             expected=_break_even_utilisation, unit="(a fraction)",
             hint="price = cost at full use / utilisation: take the sheet at utilisation=1, margin=0 and "
                  "divide its output price by 1.10.",
             quantity="the utilisation: the output price at full use over the published 1.10"),
    Exercise("11.furthest-ratio",
             "For the default sheet (llama-3.1-70b on 8 H100s), which ratio lies furthest from the median "
             "published one (by factor, either way)?",
             expected=_furthest_ratio, choices=price_sheet.RATIOS,
             hint="price_sheet.compare_with_published(sheet): compare this_sheet with published_median."),
)
