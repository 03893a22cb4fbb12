"""Lesson 08: the KV cache. Tables and figures of the lesson, and the context x batch explorer."""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.ticker import ScalarFormatter

from .. import kv, reference
from ..parallelism import chips_to_serve, parallel_decode
from ..display import Table
from ..hardware import get_hardware, list_hardware
from ..models import get_model, list_models
from ..plotting import MEASURED, PALETTE, bytes_label, figure, seconds_label
from ..roofline import bytes_per_value, decode_step, kv_heads_stored
from ..widgets import Explorer

ATTENTION_NAMES = {"mha": "multi-head", "gqa": "grouped-query", "mqa": "multi-query",
                   "mla": "multi-head latent"}


def cached_shape(model) -> str:
    """What one layer caches per token, in words: 'K, V: 8 heads x 128' or MLA's latent."""
    model = get_model(model)
    if model.mla is not None:
        return f"latent {model.mla.kv_lora_rank} + rope key {model.mla.qk_rope_head_dim}"
    return f"K, V: {model.kv_heads} heads x {model.head_dim}"


def kv_table(models=None, context=131072) -> Table:
    """KV bytes per token of each model in bf16 and fp8, and one ``context``-token cache."""
    rows = []
    for name in models or list_models():
        model = get_model(name)
        rows.append({
            "model": model.name,
            "attention": ATTENTION_NAMES[model.attention],
            "layers": model.layers,
            "cached per layer": cached_shape(model),
            "values / token": f"{model.kv_values_per_token:,}",
            "bf16 / token": bytes_label(model.kv_bytes_per_token(2)),
            "fp8 / token": bytes_label(model.kv_bytes_per_token(1)),
            f"{context // 1024}k-token cache, bf16": bytes_label(kv.kv_cache_bytes(model, context)),
        })
    return Table(rows, caption="KV cache per token (all layers; kB = 1000 bytes)")


def measured_vs_roofline(device="h100", batch=1, ax=None):
    """Measured decode steps against context at one batch, both attention kernels, with the
    roofline from the spec sheet and from the measured bandwidth. Returns the axes."""
    if ax is None:
        _, ax = figure()
    chip = get_hardware(reference.CATALOGUE_NAME[device])
    measured_chip = reference.measured_hardware(device)
    context = np.geomspace(128, 131072, 200).round()
    for hw, style, label in ((chip, "-", "roofline, spec sheet"),
                             (measured_chip, "--", "roofline, measured bandwidth")):
        ax.plot(context, decode_step("llama-3.1-8b", hw, batch, context).seconds * 1e3,
                color=PALETTE["blue"] if style == "-" else PALETTE["sky"], linestyle=style,
                label=f"{label} ({hw.memory_bandwidth / 1e12:.3g} TB/s)")
    for kernel, colour, marker, name in (("sdpa", PALETTE["black"], "o", "measured, standard SDPA kernel"),
                                          ("splitkv", PALETTE["vermillion"], "s", "measured, split-KV kernel")):
        data = reference.decode_steps(device, kernel)
        pick = data["batch"] == batch
        ax.plot(data["context"][pick], data["seconds"][pick] * 1e3, color=colour,
                label=name, **{**MEASURED, "marker": marker})
    ax.set(xscale="log", yscale="log", xlabel="context (tokens per sequence)",
           ylabel="time per decode step (ms)",
           title=f"llama-3.1-8b-shaped decode on {chip.name}, batch {batch}")
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_minor_formatter(ScalarFormatter())
    ax.tick_params(axis="y", which="minor", labelsize=8)
    ax.legend(loc="upper left")
    return ax


def time_per_token_vs_batch(model="llama-3.1-8b", hardware="H100-SXM", contexts=(1024, 8192, 32768, 131072),
                            chips=1, ax=None):
    """Chip-milliseconds per generated token against batch, one curve per context, each
    ending at the capacity wall (x). Returns the axes."""
    if ax is None:
        _, ax = figure()
    batch = np.unique(np.geomspace(1, 4096, 120).round())
    colours = [PALETTE[c] for c in ("blue", "green", "orange", "vermillion", "purple")]
    for colour, context in zip(colours, contexts):
        wall = float(kv.max_batch(model, hardware, context, chips=chips))
        fits = batch[batch <= wall]
        if fits.size == 0:
            continue
        step = decode_step(model, hardware, fits, context, chips=chips)
        per_token = step.seconds * chips / fits * 1e3
        ax.plot(fits, per_token, color=colour, label=f"context {context:,}")
        if wall <= batch[-1]:
            ax.plot([fits[-1]], [per_token[-1]], marker="x", markersize=9, color=colour, linestyle="none")
    compute = 2.0 * get_model(model).matmul_params / get_hardware(hardware).peak_flops("bf16") * 1e3
    ax.axhline(compute, color=PALETTE["black"], linestyle=":", linewidth=1.5,
               label="compute per token (matmuls only)")
    ax.plot([], [], marker="x", color="grey", linestyle="none", label="capacity wall (memory full)")
    ax.set(xscale="log", yscale="log", xlabel="batch (sequences per step)",
           ylabel="chip-ms per generated token",
           title=f"{get_model(model).name} on {chips} x {get_hardware(hardware).name}")
    ax.legend(loc="upper right")
    return ax


def cost_vs_context(setups, wanted_batch=256, usd_per_gpu_hour=2.0, threshold=200_000, ax=None):
    """Dollars per million output tokens against context when capacity caps the batch.

    ``setups``: list of dicts of ``capped_decode`` keywords (model, hardware, chips,
    weight_bytes, kv_bytes) with a ``label``. Returns the axes."""
    if ax is None:
        _, ax = figure()
    context = np.geomspace(1024, 1_048_576, 200).round()
    colours = [PALETTE[c] for c in ("blue", "vermillion", "green", "orange", "purple")]
    for colour, setup in zip(colours, setups):
        setup = dict(setup)
        label = setup.pop("label")
        point = kv.capped_decode(context=context, wanted_batch=wanted_batch,
                                 usd_per_gpu_hour=usd_per_gpu_hour, **setup)
        ax.plot(context, point.usd_per_million, color=colour, label=label)
    ax.axvline(threshold, color=PALETTE["black"], linestyle=":", linewidth=1.5)
    ax.annotate(f"{threshold // 1000}k price threshold", (threshold, ax.get_ylim()[1]),
                xytext=(-4, -12), textcoords="offset points", ha="right", fontsize=9)  # left: clear of the curves
    ax.set(xscale="log", yscale="log", xlabel="context (tokens per sequence)",
           ylabel="$ per million output tokens",
           title=f"Decode cost when memory caps the batch (at most {wanted_batch}; ${usd_per_gpu_hour:g}/GPU-hour)")
    ax.legend(loc="upper left")
    return ax


# --- the explorer ----------------------------------------------------------------------------
CONTEXTS = np.unique(np.geomspace(128, 1_048_576, 56).round())
BATCHES = np.unique(np.geomspace(1, 4096, 44).round())
#: The context control's stops: powers of two, plus the 200k and 400k of the price tier.
CONTEXT_STOPS = (1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072, 200_000, 262_144, 400_000,
                 524_288, 1_048_576)
#: The batch control's stops: 1, 2, 3, 4, 6, 8, 12, ... 4096 (each about 1.4x the last).
BATCH_STOPS = tuple(sorted({int(b) for k in range(13) for b in (2 ** k, 3 * 2 ** (k - 1)) if 1 <= b <= 4096}))
#: Tensor-parallel all-reduces go over this link (the course's NVLink figures, lesson 10).
LINK = "NVLink 4"


def tensor_parallel_step(model, hardware, batch, context, chips, *, weight_bytes=2, kv_bytes=2):
    """Seconds per decode step on ``chips`` chips in tensor parallelism, with the two
    all-reduces per layer over :data:`LINK` (lesson 10), and the same without them (the
    ideal, no communication). Returns ``(with_communication, ideal)``; broadcasts."""
    step = parallel_decode(model, hardware, batch, context, tensor_parallel=chips, link=LINK,
                           weight_bytes=weight_bytes, kv_bytes=kv_bytes)
    return step.compute_seconds + step.all_reduce_seconds, step.compute_seconds


def _edges(values):
    logs = np.log10(values)
    middle = (logs[1:] + logs[:-1]) / 2
    return 10 ** np.concatenate([[2 * logs[0] - middle[0]], middle, [2 * logs[-1] - middle[-1]]])


#: The chips control's range (tensor parallelism over this many chips).
MAX_CHIPS = 64


def _fewest_chips(model, hardware, context, weight_bytes=2, kv_bytes=2):
    """Fewest chips, up to :data:`MAX_CHIPS`, on which one sequence of ``context`` tokens
    fits beside the weights as the map lays them out (``kv.max_batch``, tensor-parallel);
    ``None`` if even :data:`MAX_CHIPS` are too few."""
    return _fewest_by_name(get_model(model).name, get_hardware(hardware).name, int(context),
                           weight_bytes, kv_bytes)


@lru_cache(maxsize=256)
def _fewest_by_name(model, hardware, context, weight_bytes, kv_bytes):
    for chips in range(1, MAX_CHIPS + 1):
        if kv.max_batch(model, hardware, context, weight_bytes=weight_bytes, kv_bytes=kv_bytes,
                        chips=chips) >= 1:
            return chips
    return None


class KVMapExplorer(Explorer):
    """Context x batch: the decode step's time and the memory it needs, with the capacity
    wall (where the KV caches fill what the weights leave), the line where KV reads equal
    weight reads, and the compute-bound corner."""

    figsize = (10.0, 4.0)
    things_to_try = (
        ("An fp8 cache: the wall moves 2x.",
         {"model": "llama-3.1-70b", "hardware": "H100-SXM", "chips": 8, "weights": "bf16", "kv_cache": "fp8"}),
        ("deepseek-v3, 8 H200s, fp8 weights: tiny cache.",
         {"model": "deepseek-v3", "hardware": "H200", "chips": 8, "weights": "fp8", "kv_cache": "bf16"}),
        ("llama-3.1-405b at 1M tokens: the fewest H100s?",
         {"model": "llama-3.1-405b", "hardware": "H100-SXM", "weights": "bf16", "kv_cache": "bf16",
          "context": 1_048_576, "batch": 1,
          "chips": _fewest_chips("llama-3.1-405b", "H100-SXM", 1_048_576)}),
        ("64 chips: the all-reduces stay.",
         {"model": "llama-3.1-70b", "hardware": "H100-SXM", "weights": "bf16", "kv_cache": "bf16",
          "context": 200_000, "batch": 6, "chips": 64}),
    )

    def controls(self) -> dict:
        import ipywidgets as widgets
        return {
            "model": widgets.Dropdown(options=list_models(), value="llama-3.1-70b", description="model"),
            "hardware": widgets.Dropdown(options=[h for h in list_hardware() if get_hardware(h).flops],
                                         value="H100-SXM", description="chip"),
            "chips": widgets.IntSlider(value=8, min=1, max=MAX_CHIPS, description="chips"),
            "weights": widgets.ToggleButtons(options=["bf16", "fp8", "fp4"], value="bf16",
                                             description="weights"),
            "kv_cache": widgets.ToggleButtons(options=["bf16", "fp8"], value="bf16", description="KV cache"),
            "context": widgets.SelectionSlider(options=[(f"{c:,}", c) for c in CONTEXT_STOPS], value=200_000,
                                               description="context"),
            "batch": widgets.SelectionSlider(options=[(f"{b:,}", b) for b in BATCH_STOPS], value=6,
                                             description="batch"),
        }

    def draw(self, fig, **values) -> str:
        time_ax, memory_ax = fig.subplots(1, 2, sharey=True)
        x, y = _edges(CONTEXTS), _edges(BATCHES)
        shape = (BATCHES.size, CONTEXTS.size)
        self._time_mesh = time_ax.pcolormesh(x, y, np.ones(shape), cmap="viridis",
                                             norm=LogNorm(1, 300), shading="flat")
        self._memory_mesh = memory_ax.pcolormesh(x, y, np.ones(shape), cmap="magma_r",
                                                 vmin=0, vmax=1, shading="flat")
        for mesh in (self._time_mesh, self._memory_mesh):
            mesh.cmap.set_bad("#d9d9d9")
        for mesh, ax, label in ((self._time_mesh, time_ax, "ms per decode step"),
                                (self._memory_mesh, memory_ax, "share of memory used")):
            bar = fig.colorbar(mesh, ax=ax, label=label, extend="both" if ax is time_ax else "neither")
            bar.minorticks_off()  # minor ticks on log axes cost more to lay out than the data
        self._walls, self._markers = [], []
        for ax in (time_ax, memory_ax):
            wall, = ax.plot(CONTEXTS, CONTEXTS * 0 + 1, color="white", linewidth=2.5)
            wall_edge, = ax.plot(CONTEXTS, CONTEXTS * 0 + 1, color=PALETTE["vermillion"],
                                 linewidth=1.5, label="capacity wall")
            self._walls += [wall, wall_edge]
            marker, = ax.plot([1], [1], marker="o", markersize=9, markerfacecolor="none",
                              markeredgecolor="white", markeredgewidth=2, linestyle="none")
            self._markers.append(marker)
            ax.set(xscale="log", yscale="log", xlim=(x[0], x[-1]), ylim=(y[0], y[-1]),
                   xlabel="context (tokens per sequence)")
            ax.minorticks_off()
        self._crossover, = time_ax.plot(CONTEXTS, CONTEXTS * 0 + 1, color=PALETTE["sky"],
                                        linestyle="--", linewidth=1.5, label="KV reads = weight reads")
        self._compute, = time_ax.step(CONTEXTS, CONTEXTS * 0 + 1, where="mid", color=PALETTE["yellow"],
                                      linewidth=1.5, label="compute-bound above/left of this")
        time_ax.set(ylabel="batch (sequences per step)",
                    title="step time with all-reduces (grey: no fit)")
        memory_ax.set(title="weights + KV cache / memory")
        time_ax.legend(loc="upper right", fontsize=8, framealpha=0.8, frameon=True)
        self.moving = [self._time_mesh, self._memory_mesh, *self._walls, self._crossover,
                       self._compute, *self._markers]
        return self.update(**values)

    def update(self, model, hardware, chips, weights, kv_cache, context, batch) -> str:
        model, chip = get_model(model), get_hardware(hardware)
        weight_bytes, kv_bytes = bytes_per_value(weights), bytes_per_value(kv_cache)
        b, c = BATCHES[:, None], CONTEXTS[None, :]
        step = decode_step(model, chip, b, c, weight_bytes=weight_bytes, kv_bytes=kv_bytes, chips=chips)
        seconds, _ = tensor_parallel_step(model, chip, b, c, chips, weight_bytes=weight_bytes, kv_bytes=kv_bytes)
        memory = chips * chip.memory_bytes
        used = self._memory_used(model, chip, chips, weight_bytes, kv_bytes, b * c) / memory
        over = used > 1
        self._time_mesh.set_array(np.ma.masked_array(seconds * 1e3, over).ravel())
        self._memory_mesh.set_array(np.ma.masked_array(np.minimum(used, 1), over).ravel())

        wall = kv.max_batch(model, chip, CONTEXTS, weight_bytes=weight_bytes, kv_bytes=kv_bytes, chips=chips)
        wall = np.where(wall >= 1, wall, np.nan)
        for line in self._walls:
            line.set_ydata(wall)
        kv_heavier = step.kv_bytes >= step.weight_bytes
        self._crossover.set_ydata(_first_row(kv_heavier))
        self._compute.set_ydata(_first_row(step.compute_seconds > step.memory_seconds))
        for marker in self._markers:
            marker.set_data([context], [batch])

        here = decode_step(model, chip, batch, context, weight_bytes=weight_bytes, kv_bytes=kv_bytes, chips=chips)
        with_links, ideal = tensor_parallel_step(model, chip, batch, context, chips,
                                                 weight_bytes=weight_bytes, kv_bytes=kv_bytes)
        fits_here = int(kv.max_batch(model, chip, context, weight_bytes=weight_bytes, kv_bytes=kv_bytes,
                                     chips=chips))
        need = float(self._memory_used(model, chip, chips, weight_bytes, kv_bytes, batch * context))
        crossover = float(kv.kv_weight_crossover_context(model, batch, weight_bytes=weight_bytes,
                                                         kv_bytes=kv_bytes))
        if fits_here < 1:
            verdict = "<b>not one sequence of this context fits</b>"
        elif batch > fits_here:
            verdict = f"<b>does not fit</b>: at most {fits_here:,} sequences of this context"
        else:
            verdict = f"fits (up to {fits_here:,} sequence{'s' if fits_here > 1 else ''} of this context)"
        copies = float(kv._kv_replication(model, chips, "auto"))  # the layout kv.max_batch assumes
        if copies > 1:  # e.g. 64 chips, 8 KV heads: why the cache needs 8x the bytes
            verdict += (f"; the cache takes {copies:.3g}x its bytes, as {chips} chips share "
                        f"{kv_heads_stored(model):g} KV heads and a head cannot be split")
        return (f"<b>{model.name}</b> on {chips} x {chip.name}, {weights} weights, {kv_cache} KV "
                f"({bytes_label(model.kv_bytes_per_token(kv_bytes))} per token). "
                f"Batch {batch:,} at context {context:,}: step <b>{seconds_label(float(with_links))}</b> "
                f"({here.bound}-bound){self._communication(chips, with_links, ideal)}, needs {bytes_label(need)} of {bytes_label(memory)}: {verdict}. "
                f"KV reads equal weight reads at context {crossover:,.0f} for this batch. "
                f"{self._fewest_text(model, chip, context, weight_bytes, kv_bytes)}")


    @staticmethod
    def _memory_used(model, chip, chips, weight_bytes, kv_bytes, tokens):
        """Bytes that ``tokens`` cached tokens and the weights take on ``chips`` chips, as
        ``kv.max_batch`` places them: the memory left beside the weights holds
        ``kv.kv_capacity_tokens`` tokens (fewer than its bytes / KV bytes per token where the
        layout copies the cache onto several chips), so the map's grey area meets its wall."""
        free = kv.free_memory_bytes(model, chip, weight_bytes=weight_bytes, chips=chips)
        capacity = kv.kv_capacity_tokens(model, chip, weight_bytes=weight_bytes, kv_bytes=kv_bytes, chips=chips)
        per_token = free / capacity if capacity > 0 else model.kv_bytes_per_token(kv_bytes)
        return chips * chip.memory_bytes - free + tokens * per_token

    @staticmethod
    def _fewest_text(model, chip, context, weight_bytes, kv_bytes) -> str:
        fewest = _fewest_chips(model, chip, context, weight_bytes, kv_bytes)
        pooled = int(chips_to_serve(model, chip, weight_bytes=weight_bytes, kv_budget_bytes=float(
            kv.kv_cache_bytes(model, context, 1, kv_bytes=kv_bytes))))
        where = (f"<b>{fewest:,}</b>" if fewest else f"more than {MAX_CHIPS}")
        text = f"Fewest {chip.name} chips that hold one sequence of this context: {where}"
        if fewest != pooled:
            text += f" (pooled memory, as a pipeline splits layers, would need {pooled:,}: lesson 10)"
        return text + "."

    @staticmethod
    def _communication(chips, with_links, ideal):
        if chips == 1:
            return ""
        return (f", of which {seconds_label(float(with_links - ideal))} are tensor-parallel all-reduces "
                f"over {LINK} (lesson 10; ideal, no communication: {seconds_label(float(ideal))})")


def _first_row(mask):
    """Per column, the batch of the first row where ``mask`` holds (nan where none does)."""
    anywhere = mask.any(axis=0)
    first = np.argmax(mask, axis=0)
    return np.where(anywhere, BATCHES[first], np.nan)
