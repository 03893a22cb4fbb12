"""The one-page summary (docs/summary.md): generated from the library, never stale."""
import re
from pathlib import Path

import pytest

from inferlab import summary
from inferlab.hardware import Hardware

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "summary.md"


def test_committed_page_is_what_the_library_prints():
    assert PAGE.read_text(encoding="utf-8") == summary.render(), \
        "docs/summary.md is stale: run `python -m inferlab.summary > docs/summary.md`"


def _row(page, quantity):
    line = next(l for l in page.splitlines() if l.startswith(f"| {quantity} |"))
    return [cell.strip() for cell in line.strip("|").split("|")][1:]


def test_numbers_worked_by_hand():
    page = summary.render()
    # H100 SXM: 989 TFLOP/s / 3.35 TB/s = 295.2; H200: 989 / 4.8 = 206.0; B200: 2250 / 8 = 281.25
    assert _row(page, "ridge = knee for bf16, FLOP/byte")[:3] == ["295", "206", "281"]
    # llama-3.1-8b: 8.030e9 parameters less its embedding table (128256 x 4096 = 0.525e9, looked
    # up, not read) = 7.505e9, 15.01 GB in bf16; / 3.35e12 B/s = 4.48 ms (H100); / 0.546e12 = 27.49 ms
    floor = _row(page, "floor, llama-3.1-8b bf16, ms")
    assert floor[0] == "4.48" and floor[4] == "27.49"
    # usable 81,559 MiB = 85.52e9 B / 3.35e12 B/s = 25.5 ms; deepseek-v3 expert knee:
    # 1979 / (2 x 3.35) x 256 / 8 = 9452
    assert _row(page, "reading all memory once, ms")[0] == "26"
    assert _row(page, "deepseek-v3 expert knee (fp8), tokens")[0] == "9,452"
    # KV bytes per token of llama-3.1-8b: 2 x 32 layers x 8 kv heads x 128 x 2 bytes = 131072 = 128 KiB;
    # deepseek-v3 (MLA): 61 layers x (512 + 64) x 2 bytes = 70272 = 69 KiB
    assert "llama-3.1-8b 128 KiB" in page and "deepseek-v3 69 KiB" in page


def test_missing_figures_print_a_dash():
    bare = Hardware(name="Bare chip", memory_bytes=16e9, memory_bandwidth=1e11)  # no FLOP/s, no price
    page = summary.render(chips=("TPU-v6e", bare))
    assert _row(page, "bf16 peak, TFLOP/s (dense)")[:2] == ["918", "—"]
    assert _row(page, "ridge = knee for bf16, FLOP/byte")[:2] == ["560", "—"]
    assert _row(page, "deepseek-v3 expert knee (fp8), tokens")[:2] == ["—", "—"]  # no fp8 on a v6e
    assert _row(page, "rental, \\$ per GPU-hour (median)")[:2] == ["—", "—"]
    assert _row(page, "energy per HBM byte, pJ (measured)")[:2] == ["—", "—"]
    # 15.01e9 bytes / 1e11 B/s = 150 ms: a chip without FLOP/s still has a floor
    assert _row(page, "floor, llama-3.1-8b bf16, ms")[1] == "150.09"
    with pytest.raises(ValueError, match="chips"):
        summary.render(chips=())


def test_money_is_escaped_and_links_point_at_lessons():
    page = summary.render()
    assert not re.search(r"(?<!\\)\$", page), "a money dollar must be written \\$"
    links = re.findall(r"\]\((\.\./lessons/[^ )]+)", page)
    assert {l[len("../lessons/"):len("../lessons/") + 2] for l in links} == {f"{n:02d}" for n in range(1, 12)}
    for link in links:
        assert (PAGE.parent / link).resolve().exists(), link
