"""Measure the computer in front of you: memory bandwidth and matrix-product FLOP/s.

numpy only (plus PyTorch for an optional GPU sweep when it happens to be installed; this
module never installs anything). Every timing is the fastest of several repeats after a
warm-up call (another program can only add time); every result is SI: seconds, bytes, bytes/s, FLOP/s.

Full measurements are sized past the last-level cache and take a few seconds (under 20 s
on 2 cores). Quick mode (``quick=True``, or the environment variable ``INFERLAB_QUICK=1``,
which the test command sets) shrinks sizes and repeats so a notebook runs in about two
seconds: its numbers then come mostly from the caches and are not the machine's roofline.
"""
from __future__ import annotations

import os
import platform
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from ._validate import positive
from .roofline import matmul_bytes, matmul_flops

QUICK_ENV = "INFERLAB_QUICK"
#: The CPU sweep multiplies float32 matrices: 4 bytes per value.
CPU_BYTES_PER_VALUE = 4
MiB = 2 ** 20
#: A busy machine stops repeating one measurement after this many timed seconds.
MAX_SECONDS_PER_POINT = 1.0

#: Sizes and repeats of a full measurement and of quick mode. W of the full sweep is
#: 8192 x 4096 float32 (128 MiB): past most last-level caches, and small enough that the
#: whole lab stays under about 400 MB of memory (a small notebook server has 1-2 GB).
FULL = dict(array_bytes=None, bandwidth_repeats=5, k=8192, n=4096,
            m_values=(1, 2, 4, 8, 16, 32, 64, 128, 256), sweep_repeats=3, decode_repeats=5)
QUICK = dict(array_bytes=8 * MiB, bandwidth_repeats=2, k=512, n=512,
             m_values=(1, 4, 16, 64, 256), sweep_repeats=2, decode_repeats=2)


def quick_mode(quick=None) -> bool:
    """``quick`` if given (True/False), else whether the environment sets INFERLAB_QUICK=1."""
    if quick is None:
        return os.environ.get(QUICK_ENV, "") == "1"
    if not isinstance(quick, (bool, np.bool_)):
        raise ValueError(f"quick must be True, False or None, got {quick!r}")
    return bool(quick)


def _settings(quick) -> dict:
    return QUICK if quick_mode(quick) else FULL


# --- the machine ----------------------------------------------------------------------

@dataclass(frozen=True)
class Machine:
    """What the measurements ran on. ``last_level_cache_bytes`` and ``memory_bytes`` are
    bytes (0 when the operating system does not say)."""

    cpu: str
    cores: int
    last_level_cache_bytes: int
    memory_bytes: int
    numpy_version: str
    blas: str
    blas_threads: str
    system: str

    def rows(self) -> list:
        """The description as rows for ``display.Table``."""
        from .plotting import bytes_label
        cache = bytes_label(self.last_level_cache_bytes) if self.last_level_cache_bytes else "not reported"
        memory = bytes_label(self.memory_bytes) if self.memory_bytes else "not reported"
        return [{"what": "CPU", "value": self.cpu},
                {"what": "cores this process may use", "value": str(self.cores)},
                {"what": "last-level cache", "value": cache},
                {"what": "memory", "value": memory},
                {"what": "numpy", "value": self.numpy_version},
                {"what": "numpy's BLAS (does the matrix products)", "value": self.blas},
                {"what": "BLAS threads", "value": self.blas_threads},
                {"what": "system", "value": self.system}]


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    if sys.platform == "darwin":
        try:
            import subprocess
            name = subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True,
                                  text=True, timeout=2).stdout.strip()
            if name:
                return name
        except (OSError, subprocess.SubprocessError):
            pass
    return platform.processor() or platform.machine() or "unknown"


def _cgroup_cpu_limit(root: str = "/sys/fs/cgroup") -> float:
    """CPUs a container's quota allows (cgroup v2 ``cpu.max``, or v1 ``cpu.cfs_quota_us`` over
    ``cpu.cfs_period_us``), at least 1; inf where there is no quota."""
    for quota_file, period_file in (("cpu.max", None), ("cpu/cpu.cfs_quota_us", "cpu/cpu.cfs_period_us")):
        try:
            with open(os.path.join(root, quota_file), encoding="utf-8") as handle:
                fields = handle.read().split()
            if period_file is not None:
                with open(os.path.join(root, period_file), encoding="utf-8") as handle:
                    fields.append(handle.read().strip())
        except OSError:
            continue
        if len(fields) >= 2 and fields[0] not in ("max", "-1"):
            try:
                return max(float(fields[0]) / float(fields[1]), 1.0)
            except (ValueError, ZeroDivisionError):
                pass
    return np.inf


def usable_cores() -> int:
    """Cores this process may use: its CPU affinity, capped by a container's CPU quota
    (a cloud notebook may see 16 cores but be allowed 2), at least 1."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return int(max(1, min(cores, np.ceil(_cgroup_cpu_limit()))))


def _size_text(text: str) -> int:
    text = text.strip().upper()
    for suffix, scale in (("K", 2 ** 10), ("M", 2 ** 20), ("G", 2 ** 30)):
        if text.endswith(suffix):
            return int(float(text[:-1]) * scale)
    return int(text) if text.isdigit() else 0


def last_level_cache_bytes() -> int:
    """Size of the largest CPU cache the system reports, bytes (0 when it reports none)."""
    sizes = []
    root = "/sys/devices/system/cpu/cpu0/cache"
    try:
        for entry in os.listdir(root):
            if entry.startswith("index"):
                with open(os.path.join(root, entry, "size"), encoding="utf-8") as size:
                    sizes.append(_size_text(size.read()))
    except OSError:
        pass
    if not sizes and sys.platform == "darwin":
        try:
            import subprocess
            for key in ("hw.l3cachesize", "hw.l2cachesize"):
                out = subprocess.run(["sysctl", "-n", key], capture_output=True, text=True,
                                     timeout=2).stdout.strip()
                if out.isdigit():
                    sizes.append(int(out))
        except (OSError, subprocess.SubprocessError):
            pass
    return max(sizes, default=0)


def _memory_bytes() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return 0


def _blas_name() -> str:
    try:
        config = np.show_config(mode="dicts")  # numpy >= 1.25
        blas = config["Build Dependencies"]["blas"]
        return f"{blas.get('name', 'unknown')} {blas.get('version', '')}".strip()
    except Exception:  # older numpy prints its config instead; say what we know
        return "unknown (numpy.show_config() prints it)"


def _blas_threads() -> str:
    lab = "; the lab runs one single-threaded call per core itself"
    for variable in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
        if os.environ.get(variable):
            return f"{os.environ[variable]} (set by {variable})" + lab
    return "its default (usually one per core)" + lab


def describe_machine() -> Machine:
    """The CPU, cores, caches, memory and numpy's BLAS library of this computer."""
    return Machine(cpu=_cpu_name(), cores=usable_cores(), last_level_cache_bytes=last_level_cache_bytes(),
                   memory_bytes=_memory_bytes(), numpy_version=np.__version__, blas=_blas_name(),
                   blas_threads=_blas_threads(),
                   system=f"{platform.system()} {platform.machine()}, Python {platform.python_version()}")


# --- BLAS threads ---------------------------------------------------------------------

def _blas_thread_setters() -> list:
    """(set, get) ctypes functions of the OpenBLAS or MKL that numpy loaded (Linux: read
    from /proc/self/maps), or [] where none is found (Apple's Accelerate needs none)."""
    import ctypes
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            paths = {line.split()[-1] for line in maps if "/" in line}
    except OSError:
        return []
    found = []
    for path in sorted(paths):
        name = os.path.basename(path).lower()
        if "openblas" in name:  # plain, 64-bit-integer and numpy's scipy_ builds
            pairs = [(f"{prefix}openblas_set_num_threads{suffix}", f"{prefix}openblas_get_num_threads{suffix}")
                     for prefix in ("", "scipy_") for suffix in ("", "64_", "_64")]
        elif "mkl_rt" in name:
            pairs = [("MKL_Set_Num_Threads", "MKL_Get_Max_Threads")]
        else:
            continue
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for set_name, get_name in pairs:
            setter, getter = getattr(library, set_name, None), getattr(library, get_name, None)
            if setter is not None and getter is not None:
                found.append((setter, getter))
                break
    return found


class single_threaded_blas:
    """Context manager: numpy's BLAS runs one thread per call inside it (where the library
    allows it to be set: OpenBLAS and MKL on Linux), so the lab splits the work over the
    cores itself. A BLAS that spins while it waits for its own threads loses many times its
    run time when another program holds a core, or a container's quota is below the cores
    it sees."""

    def __enter__(self):
        self._saved = [(setter, getter()) for setter, getter in _blas_thread_setters()]
        for setter, _ in self._saved:
            setter(1)
        return self

    def __exit__(self, *exc):
        for setter, threads in self._saved:
            setter(int(threads))
        return False


# --- progress -----------------------------------------------------------------------

def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
        shell = get_ipython()
        return shell is not None and hasattr(shell, "kernel")
    except ImportError:  # pragma: no cover
        return False


class Progress:
    """A progress bar: an ipywidgets bar in a notebook, a text line elsewhere, or nothing.

    ``mode``: 'widget', 'text', 'off' or None (widget in a notebook kernel, else text).
    Call ``step(text)`` after each piece of work and ``close()`` at the end.
    """

    def __init__(self, total: int, title: str = "measuring", mode: str | None = None):
        self.total = int(positive(total, "total", integer=True))
        self.title, self.done = title, 0
        if mode is None:
            mode = "widget" if _in_notebook() else "text"
        if mode not in ("widget", "text", "off"):
            raise ValueError(f"mode must be 'widget', 'text', 'off' or None, got {mode!r}")
        self.mode = mode
        self._bar = self._label = None
        if mode == "widget":
            try:
                import ipywidgets as widgets
                from IPython.display import display
                self._bar = widgets.IntProgress(value=0, min=0, max=self.total, description=title)
                self._label = widgets.Label(value="starting")
                display(widgets.HBox([self._bar, self._label]))
            except ImportError:  # pragma: no cover - ipywidgets is a dependency
                self.mode = "text"

    def step(self, text: str = "") -> None:
        """One more piece of work is done; ``text`` says which."""
        self.done = min(self.done + 1, self.total)
        self._show(text)

    def _show(self, text: str, end: str = "") -> None:
        if self.mode == "widget":
            self._bar.value, self._label.value = self.done, text
        elif self.mode == "text":
            filled = round(20 * self.done / self.total)
            line = f"{self.title}: [{'#' * filled}{'.' * (20 - filled)}] {self.done}/{self.total} {text}"
            print("\r" + line.ljust(78), end=end, flush=True)

    def close(self, text: str = "done") -> None:
        """Fill the bar and show ``text`` (in text mode, end the line)."""
        self.done = self.total
        self._show(text, end="\n")
        if self.mode == "widget":
            self._bar.bar_style = "success"


def _progress(progress, total: int, title: str):
    """Turn the ``progress`` argument (a Progress, True/None, False, or a mode) into a bar."""
    if isinstance(progress, Progress):
        return progress, False
    if progress is False:
        return Progress(total, title, "off"), True
    if progress is True or progress is None:
        return Progress(total, title), True
    return Progress(total, title, progress), True


# --- timing ---------------------------------------------------------------------------

def _call_times(function, repeats, warmup, max_seconds) -> list:
    repeats = int(positive(repeats, "repeats", integer=True))
    warmup = int(positive(warmup, "warmup", integer=True, allow_zero=True))
    budget = np.inf if max_seconds is None else positive(max_seconds, "max_seconds")
    if not callable(function):
        raise ValueError(f"function must be callable, got {function!r}")
    for _ in range(warmup):
        function()
    times = []
    while len(times) < repeats and sum(times) < budget:
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return times


def median_seconds(function, repeats: int = 5, warmup: int = 1, max_seconds=None) -> float:
    """Median wall-clock seconds of ``function()`` over ``repeats`` calls after ``warmup``.

    ``max_seconds`` (optional) stops repeating once the timed calls took that long in all
    (at least one call is always timed), so a slow machine still finishes.
    """
    return float(np.median(_call_times(function, repeats, warmup, max_seconds)))


def fastest_seconds(function, repeats: int = 5, warmup: int = 1, max_seconds=None) -> float:
    """Fastest wall-clock seconds of ``function()`` over ``repeats`` calls after ``warmup``
    (``max_seconds`` as in ``median_seconds``). Another program can only add time, so on a
    shared machine the fastest call is the best estimate of what the work itself takes."""
    return float(min(_call_times(function, repeats, warmup, max_seconds)))


# --- memory bandwidth -----------------------------------------------------------------

@dataclass(frozen=True)
class Bandwidth:
    """Memory bandwidth in bytes/s: ``read`` (every core reading its share of one large
    array), ``read_one_thread`` (one core reading all of it) and ``copy`` (every core
    copying, bytes read + bytes written counted, as in the H100 measurement).
    ``array_bytes`` is the size read, ``threads`` the threads used."""

    read: float
    copy: float
    read_one_thread: float
    array_bytes: int
    threads: int
    repeats: int
    quick: bool = False

    @property
    def best_read(self) -> float:
        """The faster of the two reads, bytes/s: what this machine has shown it can stream.
        Usually every core together; on a busy machine one thread can win, because the
        other threads wait for cores that other programs hold."""
        return max(self.read, self.read_one_thread)


def default_array_bytes() -> int:
    """Twice the last-level cache, at least 128 MiB and at most 256 MiB (so that it also fits
    a small cloud notebook's memory)."""
    return int(min(max(2 * last_level_cache_bytes(), 128 * MiB), 256 * MiB))


def measure_bandwidth(array_bytes=None, repeats=None, threads=None, *, quick=None,
                      progress=True) -> Bandwidth:
    """Read and copy bandwidth of main memory with numpy, bytes/s (fastest of ``repeats``).

    ``array_bytes`` (default: ``default_array_bytes()``; 8 MiB in quick mode) is the size
    read; the copy moves its first half onto its second half. ``threads`` (default: every
    usable core) split the array between them; numpy releases the GIL while it reads.
    """
    settings = _settings(quick)
    if array_bytes is None:
        array_bytes = settings["array_bytes"] or default_array_bytes()
    array_bytes = int(positive(array_bytes, "array_bytes", integer=True))
    if array_bytes < 2 * 8 * 64:
        raise ValueError(f"array_bytes must be at least 1024 bytes, got {array_bytes}")
    repeats = int(positive(settings["bandwidth_repeats"] if repeats is None else repeats,
                           "repeats", integer=True))
    threads = int(positive(usable_cores() if threads is None else threads, "threads", integer=True))
    bar, own = _progress(progress, 3, "memory bandwidth")
    values = np.full(array_bytes // 8, 0.5)  # float64; writing it touches every page first
    half = values.size // 2
    reads = np.array_split(values, threads)
    sources, targets = np.array_split(values[:half], threads), np.array_split(values[half:2 * half], threads)
    with ThreadPoolExecutor(threads) as pool:
        one = fastest_seconds(values.max, repeats)
        bar.step("read with one thread")
        many = fastest_seconds(lambda: list(pool.map(np.max, reads)), repeats)
        bar.step(f"read with {threads} threads")
        copy = fastest_seconds(lambda: list(pool.map(np.copyto, targets, sources)), repeats)
        bar.step("copied")
    if own:
        bar.close("done")
    moved = values.nbytes
    return Bandwidth(read=moved / many, copy=2 * half * 8 / copy, read_one_thread=moved / one,
                     array_bytes=int(moved), threads=threads, repeats=repeats, quick=quick_mode(quick))


# --- matrix products ------------------------------------------------------------------

def _sweep_inputs(m_values, k, n, repeats, quick):
    settings = _settings(quick)
    m_values = settings["m_values"] if m_values is None else m_values
    m_values = np.atleast_1d(positive(m_values, "m_values", integer=True)).astype(int)
    k = int(positive(settings["k"] if k is None else k, "k", integer=True))
    n = int(positive(settings["n"] if n is None else n, "n", integer=True))
    repeats = int(positive(settings["sweep_repeats"] if repeats is None else repeats, "repeats", integer=True))
    return m_values, k, n, repeats


def _sweep_result(m_values, k, n, seconds, bytes_per_value) -> dict:
    m_values = np.asarray(m_values, dtype=float)
    return {"M": m_values, "K": np.full(m_values.shape, float(k)), "N": np.full(m_values.shape, float(n)),
            "seconds": np.asarray(seconds, dtype=float), "flops": matmul_flops(m_values, k, n),
            "bytes": matmul_bytes(m_values, k, n, bytes_per_value)}


def gemm_sweep(m_values=None, k=None, n=None, repeats=None, *, quick=None, progress=True) -> dict:
    """Time the product X[M,K] @ W[K,N] in float32 with numpy for each M in ``m_values``.

    W is stored as a layer's weight is in PyTorch, [N, K] row-major, and the product is
    computed as ``W_stored @ X.T``, its rows split over the cores with one single-threaded
    BLAS call each (``single_threaded_blas``). At M = 1 X is a plain vector, so every BLAS
    takes its matrix-vector routine and reads each row of W contiguously. For a few rows
    CPU BLAS libraries repack W on every call, so M = 2 ... 16 often sit on a shelf above
    M = 1 (on OpenBLAS this layout measured faster there than ``X @ W``). Each point is the
    *fastest* of ``repeats`` rounds, the rounds going over every M in turn: another program
    can only ever add time, and interleaving keeps one busy moment from spoiling every
    repeat of one M.

    Defaults: K = 8192, N = 4096 (W is 128 MiB, past most caches), M = 1, 2, 4 ... 256, 3
    rounds; in quick mode K = N = 512. Returns arrays like ``reference.gemm_sweep``: ``M``,
    ``K``, ``N``, ``seconds``, ``flops`` (2 M K N) and ``bytes`` (X, W and the output once
    each, 4 bytes per value).
    """
    m_values, k, n, repeats = _sweep_inputs(m_values, k, n, repeats, quick)
    bar, own = _progress(progress, len(m_values), "matrix products")
    weights = np.full((n, k), 1.0 / k, dtype=np.float32)  # [out, in], as nn.Linear stores it
    # X.T, [K, M]; at M = 1 a plain vector, so every BLAS takes its matrix-vector routine
    products = [_SplitProduct(weights, np.full((k, m) if m > 1 else k, 0.5, dtype=np.float32))
                for m in m_values]
    best = np.full(len(m_values), np.inf)
    spent = np.zeros(len(m_values))
    with single_threaded_blas(), ThreadPoolExecutor(usable_cores()) as pool:
        for round_ in range(repeats):
            for i, product in enumerate(products):
                if round_ > 0 and spent[i] >= MAX_SECONDS_PER_POINT:
                    continue  # a slow machine still finishes
                if round_ == 0:
                    product(pool)  # warm-up
                start = time.perf_counter()
                product(pool)
                seconds = time.perf_counter() - start
                best[i], spent[i] = min(best[i], seconds), spent[i] + seconds
                if round_ == 0:
                    bar.step(f"M = {m_values[i]}: {seconds * 1e3:.3g} ms")
    if own:
        bar.close("done")
    return _sweep_result(m_values, k, n, best, CPU_BYTES_PER_VALUE)


class _SplitProduct:
    """``weights @ columns`` with the rows of ``weights`` (contiguous blocks) split over
    the cores: one single-threaded BLAS call per block, run by a thread pool. By default
    one block per usable core, but none under 1 MiB (a smaller task costs more to hand
    to a thread than to compute)."""

    def __init__(self, weights, columns, parts=None):
        if parts is None:
            parts = min(usable_cores(), max(1, weights.nbytes // MiB))
        self.columns = columns
        self.out = np.empty((weights.shape[0],) + columns.shape[1:], dtype=np.float32)
        self.blocks = np.array_split(weights, parts)
        self.outs = np.array_split(self.out, parts)

    def _one(self, block, out):
        np.matmul(block, self.columns, out=out)

    def __call__(self, pool):
        list(pool.map(self._one, self.blocks, self.outs))
        return self.out


def gpu_status() -> tuple:
    """(available, message): whether PyTorch with a CUDA GPU is importable here, in words."""
    try:
        import torch  # noqa: F401  (optional; never installed by the course)
    except ImportError:
        return False, "PyTorch is not installed here, so there is no GPU sweep; the CPU is the lab."
    except Exception as error:  # a broken install should not stop the lab
        return False, f"PyTorch could not be imported ({error}); no GPU sweep."
    if not torch.cuda.is_available():
        return False, f"PyTorch {torch.__version__} is installed but sees no CUDA GPU; no GPU sweep."
    return True, f"GPU found: {torch.cuda.get_device_name(0)} (PyTorch {torch.__version__})."


def gpu_gemm_sweep(m_values=(1, 4, 16, 64, 128, 256, 512, 1024, 2048, 4096), k=8192, n=8192,
                   repeats=10, *, progress=True) -> dict:
    """The same sweep on a CUDA GPU in bf16 with PyTorch (CUDA events, median of ``repeats``).

    Only when ``gpu_status()`` says a GPU is there; raises ``RuntimeError`` otherwise.
    Returns the arrays of ``gemm_sweep`` with 2 bytes per value.
    """
    available, message = gpu_status()
    if not available:
        raise RuntimeError(message)
    import torch
    m_values, k, n, repeats = _sweep_inputs(m_values, k, n, repeats, quick=False)
    bar, own = _progress(progress, len(m_values), "GPU matrix products")
    weights = torch.randn(k, n, device="cuda", dtype=torch.bfloat16)
    seconds = []
    for m in m_values:
        rows = torch.randn(int(m), k, device="cuda", dtype=torch.bfloat16)
        for _ in range(3):
            rows @ weights
        times = []
        for _ in range(repeats):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            rows @ weights
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end) / 1e3)
        seconds.append(float(np.median(times)))
        bar.step(f"M = {m}: {seconds[-1] * 1e3:.3g} ms")
    if own:
        bar.close("done")
    return _sweep_result(m_values, k, n, seconds, 2)


# --- a transformer-shaped decode step -------------------------------------------------

@dataclass(frozen=True)
class DecodeStack:
    """The matrix products of a small decoder's batch-1 decode step, float32.

    Per layer: the fused query/key/value projection [d, 3d], the output projection [d, d],
    the fused SwiGLU gate and up projection [d, 2 f] and the down projection [f, d]; then
    the output head [d, vocab]. Attention over the cache is left out (with a short cache
    it moves almost no bytes). Sizes in numbers; bytes are 4 per value.
    """

    layers: int = 4
    d_model: int = 1024
    d_ff: int = 2048
    vocab: int = 16384

    def __post_init__(self):
        for name in ("layers", "d_model", "d_ff", "vocab"):
            positive(getattr(self, name), name, integer=True)

    @property
    def shapes(self) -> list:
        """(K, N) of every matrix product of one step, in order."""
        d, f = self.d_model, self.d_ff
        return [(d, 3 * d), (d, d), (d, 2 * f), (f, d)] * self.layers + [(d, self.vocab)]

    @property
    def weight_bytes(self) -> float:
        """Bytes of weights one step reads: every matrix once, 4 bytes per number."""
        return float(sum(k * n for k, n in self.shapes) * CPU_BYTES_PER_VALUE)

    def step_bytes(self, batch=1):
        """Bytes the step's matrix products move at ``batch``: inputs, weights and outputs."""
        batch = positive(batch, "batch", integer=True)
        return sum(matmul_bytes(batch, k, n, CPU_BYTES_PER_VALUE) for k, n in self.shapes)

    def step_flops(self, batch=1):
        """FLOPs of the step's matrix products at ``batch``: 2 x batch x weights."""
        batch = positive(batch, "batch", integer=True)
        return sum(matmul_flops(batch, k, n) for k, n in self.shapes)


QUICK_STACK = DecodeStack(layers=2, d_model=256, d_ff=1024, vocab=2048)


def default_stack(quick=None) -> DecodeStack:
    """The stack the lab times: about 227 MB of float32 weights (a few MB in quick mode)."""
    return QUICK_STACK if quick_mode(quick) else DecodeStack()


def _rms(x):
    return x / np.sqrt(np.mean(x * x) + 1e-6)


def time_decode_step(stack: DecodeStack | None = None, repeats=None, *, quick=None, progress=True) -> float:
    """Fastest seconds of one batch-1 decode step through ``stack`` (numpy, float32), over
    ``repeats`` steps.

    The weights are constants stored [out, in] as in PyTorch (timing does not depend on
    their values), so each product is a contiguous matrix-vector product; each layer does
    RMS normalisation, the projections, a stand-in for attention (the value vector), a
    SwiGLU feed-forward block and the residual additions, then the output head.
    """
    stack = default_stack(quick) if stack is None else stack
    if not isinstance(stack, DecodeStack):
        raise ValueError(f"stack must be a DecodeStack, got {stack!r}")
    repeats = int(positive(_settings(quick)["decode_repeats"] if repeats is None else repeats,
                           "repeats", integer=True))
    bar, own = _progress(progress, 2, "decode step")
    d, cores = stack.d_model, usable_cores()
    weights = [np.full(shape[::-1], 1.0 / shape[0], dtype=np.float32) for shape in stack.shapes]
    bar.step(f"built {stack.weight_bytes / 1e6:.0f} MB of weights")

    with single_threaded_blas(), ThreadPoolExecutor(cores) as pool:
        def times(index, x):
            return _SplitProduct(weights[index], x)(pool)

        def step():
            x = np.ones(d, dtype=np.float32)
            for layer in range(stack.layers):
                qkv, out, gate_up, down = range(4 * layer, 4 * layer + 4)
                values = times(qkv, _rms(x))[2 * d:]
                x = x + times(out, values)
                gate, up = np.split(times(gate_up, _rms(x)), 2)
                x = x + times(down, gate / (1.0 + np.exp(-gate)) * up)
            return times(-1, _rms(x))

        seconds = fastest_seconds(step, repeats, max_seconds=MAX_SECONDS_PER_POINT)
    bar.step(f"one step: {seconds * 1e3:.3g} ms")
    if own:
        bar.close(f"one step: {seconds * 1e3:.3g} ms")
    return seconds


# --- everything at once ---------------------------------------------------------------

@dataclass(frozen=True)
class Measurement:
    """One run of the lab: the machine, its bandwidth, its sweep, the fitted roofline,
    and the GPU sweep when there is one (else ``gpu_sweep`` is None and
    ``gpu_message`` says why). ``seconds`` is how long the measuring took."""

    machine: Machine
    bandwidth: Bandwidth
    sweep: dict
    fit: object
    quick: bool
    seconds: float
    gpu_sweep: dict | None = None
    gpu_message: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def cache_warning(self) -> str:
        """A note when the sweep's weight matrix fits in the reported last-level cache (so
        part of the sweep's 'memory' bytes may come from the cache), else ''. It says what
        the step prediction means either way: a step may beat it only thanks to the cache,
        and a step much slower than it is limited by something other than bandwidth."""
        from .plotting import bytes_label
        cache = self.machine.last_level_cache_bytes
        weight_bytes = float(self.sweep["K"][0] * self.sweep["N"][0]) * CPU_BYTES_PER_VALUE
        if self.quick or not cache or weight_bytes > cache:
            return ""
        return (f"Note: this CPU reports a {bytes_label(cache)} last-level cache, at least as large as the "
                f"sweep's {bytes_label(weight_bytes)} weight matrix (on a cloud machine the figure is often "
                "the whole host's, shared with other tenants). Some of the sweep's 'memory' bytes may come "
                "from the cache, so take the bandwidth from the large-array read. A decode step whose "
                "weights fit in the cache can beat its bytes ÷ bandwidth prediction; one much slower than "
                "the prediction is limited by something else (per-call overhead, small kernels, a busy "
                "machine), not by memory bandwidth.")


def measure_machine(*, quick=None, gpu=True, progress=True) -> Measurement:
    """Describe this machine, measure its bandwidth and its matrix-product sweep, fit its
    roofline (``roofline_fit.fit_roofline``), and run the GPU sweep when PyTorch sees a GPU
    and ``gpu`` is True. One progress bar for all of it."""
    from .roofline_fit import fit_roofline
    start = time.perf_counter()
    quick = quick_mode(quick)
    settings = _settings(quick)
    available, message = gpu_status() if gpu else (False, "GPU sweep not asked for.")
    total = 3 + len(settings["m_values"])
    bar, own = _progress(progress, total, "measuring")
    machine = describe_machine()
    bandwidth = measure_bandwidth(quick=quick, progress=bar)
    sweep = gemm_sweep(quick=quick, progress=bar)
    fit = fit_roofline(sweep["flops"], sweep["bytes"], sweep["seconds"])
    gpu_sweep = gpu_gemm_sweep(progress=False) if available else None
    seconds = time.perf_counter() - start
    if own:
        bar.close(f"done in {seconds:.1f} s")
    return Measurement(machine=machine, bandwidth=bandwidth, sweep=sweep, fit=fit, quick=quick,
                       seconds=seconds, gpu_sweep=gpu_sweep, gpu_message=message)
