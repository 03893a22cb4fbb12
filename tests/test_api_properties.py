"""Property-based tests of the public API: a finite, non-negative answer or a ValueError that
names the argument (issue 14 §3). Hypothesis draws each argument from every kind of value a
learner might pass: numbers of any size, arrays, text, bool, complex, dates, None."""
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import inferlab as il
from inferlab import batching, economics, intensity, kv, serving
from inferlab.hardware import Hardware
from inferlab.models import MLA, Model, MoE

SETTINGS = settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

odd = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True),
    st.integers(min_value=-10 ** 400, max_value=10 ** 400),
    st.complex_numbers(max_magnitude=1e6),
    st.booleans(), st.none(), st.text(max_size=4),
    st.sampled_from([np.int32(2 ** 31 - 1), np.int64(-3), np.float32(2.5), np.datetime64("2026"),
                     np.array([True, False]), np.array(["8", "64"]), ["8", "64"], [[1], [2, 3]],
                     np.array([1.0, 2.0, 3.0]), np.array([[1.0], [2.0]]), np.array([]),
                     np.array([1e183]), np.array([4, 5]), 5e-324, 1e300, 10 ** 400]),
    st.lists(st.floats(min_value=-1e40, max_value=1e40), min_size=1, max_size=3).map(np.array),
)
sane = st.one_of(st.integers(min_value=1, max_value=10 ** 6),
                 st.floats(min_value=1, max_value=1e6).map(round))


def _finite_non_negative(*values):
    for value in values:
        array = np.asarray(value, dtype=float)
        assert np.all(np.isfinite(array)), value
        assert np.all(array >= 0), value


def _call(function, argument, *args, **kwargs):
    """A finite, non-negative result, or a ValueError naming ``argument``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)  # overflow / invalid: a failure
            result = function(*args, **kwargs)
    except ValueError as error:
        assert argument in str(error) or "cannot be combined" in str(error), str(error)
        return None
    return result


STEP = ("seconds", "memory_seconds", "compute_seconds", "bytes", "flops", "weight_bytes", "kv_bytes")


@SETTINGS
@given(value=odd, which=st.sampled_from(["batch", "context", "weight_bytes", "kv_bytes", "chips"]),
       model=st.sampled_from(["llama-3.1-8b", "deepseek-v3", "mixtral-8x7b"]))
def test_decode_step(value, which, model):
    args = dict(batch=8, context=1024, weight_bytes=2, kv_bytes=2, chips=1)
    args[which] = value
    step = _call(il.decode_step, which, model, "H100-SXM", args.pop("batch"), args.pop("context"), **args)
    if step is not None:
        _finite_non_negative(*(getattr(step, name) for name in STEP))


@SETTINGS
@given(value=odd, which=st.sampled_from(["prompt", "batch", "cached", "weight_bytes", "chips"]))
def test_prefill_step(value, which):
    args = dict(prompt=512, batch=1, cached=0, weight_bytes=2, chips=1)
    args[which] = value
    step = _call(il.prefill_step, which, "llama-3.1-8b", "H200", args.pop("prompt"), args.pop("batch"), **args)
    if step is not None:
        _finite_non_negative(*(getattr(step, name) for name in STEP))


@SETTINGS
@given(value=odd, which=st.sampled_from(["weight_bytes", "kv_budget_bytes", "reserve_fraction"]))
def test_chips_to_hold(value, which):
    chips = _call(il.chips_to_hold, which, "llama-3.1-405b", "H100-SXM", **{which: value})
    if chips is not None:
        _finite_non_negative(chips)
        assert np.all(np.asarray(chips) >= 1)


@SETTINGS
@given(value=odd, which=st.sampled_from(["weight_bytes", "chips"]))
def test_latency_floor(value, which):
    floor = _call(il.latency_floor, which, "llama-3.1-70b", "H100-SXM", **{which: value})
    if floor is not None:
        _finite_non_negative(floor)
        assert np.all(np.asarray(floor) > 0)   # a floor of 0 s means nothing


@SETTINGS
@given(value=odd)
def test_roofline_seconds(value):
    seconds = _call(il.roofline_seconds, "flops", value, 1e9, "H100-SXM")
    if seconds is not None:
        _finite_non_negative(seconds)


@SETTINGS
@given(value=odd, which=st.sampled_from(["context", "capacity_bytes"]))
def test_kv_capacity(value, which):
    args = dict(capacity_bytes=141e9, context=8192)
    args[which] = value
    batch = _call(kv.batch_that_fits, which, "llama-3.1-8b", args["capacity_bytes"], args["context"])
    if batch is not None:
        _finite_non_negative(batch)


@SETTINGS
@given(value=odd, which=st.sampled_from(["context", "chips", "memory_fraction"]))
def test_max_batch(value, which):
    args = dict(context=8192, chips=1, memory_fraction=1.0)
    args[which] = value
    batch = _call(kv.max_batch, which, "llama-3.1-8b", "H100-SXM", args.pop("context"), **args)
    if batch is not None:
        _finite_non_negative(batch)


@SETTINGS
@given(value=odd, which=st.sampled_from(["m", "k", "n"]))
def test_matmul_intensity(value, which):
    args = dict(m=1, k=8192, n=8192)
    args[which] = value
    result = _call(intensity.matmul_intensity, which, **args)
    if result is not None:
        _finite_non_negative(result)


@SETTINGS
@given(value=odd, which=st.sampled_from(["step_seconds", "tokens_per_step", "usd_per_chip_hour", "chips"]))
def test_cost_per_million_tokens(value, which):
    args = dict(step_seconds=0.02, tokens_per_step=64, usd_per_chip_hour=2.0, chips=1)
    args[which] = value
    result = _call(economics.cost_per_million_tokens, which, **args)
    if result is not None:
        _finite_non_negative(result)


@SETTINGS
@given(value=odd, which=st.sampled_from(["batch", "context"]))
def test_batch_sweep(value, which):
    args = dict(batch=np.array([1, 64]), context=1024)
    args[which] = value
    curves = _call(batching.batch_sweep, which, "llama-3.1-8b", "H100-SXM", args["batch"], args["context"])
    if curves is not None:
        _finite_non_negative(curves.seconds_per_token)


@SETTINGS
@given(value=odd, which=st.sampled_from(["prompt", "output", "batch"]))
def test_request_cost(value, which):
    args = dict(prompt=2000, output=500, batch=64)
    args[which] = value
    cost = _call(serving.request_cost, which, "llama-3.1-8b", "H100-SXM", args["prompt"], args["output"],
                 args["batch"], usd_per_gpu_hour=2.0)
    if cost is not None:
        _finite_non_negative(cost.total_usd)


@SETTINGS
@given(value=odd, which=st.sampled_from(["memory_bytes", "memory_bandwidth", "power_watts",
                                         "interconnect_bandwidth", "flops"]))
def test_hardware_constructor(value, which):
    args = dict(name="x", memory_bytes=80e9, memory_bandwidth=3e12, flops={"bf16": 1e15})
    args[which] = value if which != "flops" else {"bf16": value}
    chip = _call(Hardware, which if which != "flops" else "flops", **args)
    if chip is not None:
        _finite_non_negative(chip.memory_bytes, chip.memory_bandwidth, chip.power_watts,
                             chip.interconnect_bandwidth, *chip.flops.values())
        step = il.decode_step("llama-3.1-8b", chip, 1, 128)
        _finite_non_negative(step.seconds)


SHAPE = dict(name="m", layers=4, d_model=256, heads=8, kv_heads=4, head_dim=32, ffn=512, vocab=1000)


@SETTINGS
@given(value=odd, which=st.sampled_from(sorted(set(SHAPE) - {"name"})))
def test_model_constructor(value, which):
    model = _call(Model, which, **{**SHAPE, which: value})
    if model is not None:
        _finite_non_negative(model.total_params, model.matmul_params, model.kv_bytes_per_token())
        _finite_non_negative(il.decode_step(model, "H100-SXM", 4, 128).seconds)


@SETTINGS
@given(value=odd, which=st.sampled_from(["experts", "top_k", "expert_ffn", "shared_experts",
                                         "shared_ffn", "dense_layers"]))
def test_moe_constructor(value, which):
    fields = dict(experts=8, top_k=2, expert_ffn=128, shared_experts=0, shared_ffn=0, dense_layers=1)
    fields[which] = value
    moe = _call(MoE, which, **fields)
    if moe is not None:
        model = _call(Model, "dense_layers", **SHAPE, moe=moe)
        if model is not None:
            _finite_non_negative(model.total_params, model.matmul_params)
            assert model.matmul_params <= model.total_params


@SETTINGS
@given(value=odd, which=st.sampled_from(["kv_lora_rank", "qk_rope_head_dim", "qk_nope_head_dim",
                                         "v_head_dim", "q_lora_rank"]))
def test_mla_constructor(value, which):
    fields = dict(kv_lora_rank=64, qk_rope_head_dim=16, qk_nope_head_dim=32, v_head_dim=32, q_lora_rank=0)
    fields[which] = value
    mla = _call(MLA, which, **fields)
    if mla is not None:
        model = Model(**{**SHAPE, "kv_heads": 8}, attention="mla", mla=mla)
        _finite_non_negative(model.kv_bytes_per_token(), model.total_params)


@pytest.mark.parametrize("call, argument", [
    (lambda: il.decode_step("llama-3.1-8b", "H100-SXM", 10 ** 400, 128), "batch"),
    (lambda: il.decode_step("llama-3.1-8b", "H100-SXM", 1e300, 128), "batch"),
    (lambda: il.decode_step("llama-3.1-8b", "H100-SXM", ["8", "64"], 128), "batch"),
    (lambda: il.decode_step("llama-3.1-8b", "H100-SXM", np.array([True]), 128), "batch"),
    (lambda: il.decode_step("llama-3.1-8b", "H100-SXM", 8 + 1j, 128), "batch"),
    (lambda: il.decode_step("llama-3.1-8b", "H100-SXM", np.datetime64("2026"), 128), "batch"),
    (lambda: il.decode_step("llama-3.1-8b", "H100-SXM", np.array([1, 2]), np.array([1, 2, 3])), "batch"),
    (lambda: il.latency_floor("llama-3.1-8b", "H100-SXM", weight_bytes=5e-324), "weight_bytes"),
    (lambda: il.chips_to_hold("llama-3.1-8b", "H100-SXM", kv_budget_bytes=np.array([1e183])), "kv_budget_bytes"),
    (lambda: Hardware("x", 80e9, 3e12, flops=None), "flops"),
    (lambda: Hardware("x", 80e9, 3e12, power_watts=-1), "power_watts"),
    (lambda: Hardware("x", 80e9, 3e12, interconnect_bandwidth="fast"), "interconnect_bandwidth"),
    (lambda: Model(**SHAPE, moe={"experts": 2}), "moe"),
    (lambda: MoE(8, 2, 64, shared_ffn=-100), "shared_ffn"),
    (lambda: Model(**SHAPE, moe=MoE(8, 2, 64, dense_layers=5)), "dense_layers"),
    (lambda: MLA(-512, -64, 1, 1), "kv_lora_rank"),
    (lambda: Model(**{**SHAPE, "kv_heads": 16}), "kv_heads"),
    (lambda: Model(**{**SHAPE, "kv_heads": 3}), "kv_heads"),
])
def test_the_issues_examples_are_value_errors_naming_the_argument(call, argument):
    with pytest.raises(ValueError, match=argument):
        call()


def test_int32_counts_do_not_overflow():
    shape = dict(SHAPE, layers=np.int32(126), d_model=np.int32(16384), ffn=np.int32(53248),
                 heads=np.int32(128), kv_heads=np.int32(8), head_dim=np.int32(128), vocab=np.int32(128256))
    model = Model(**shape)
    assert model.total_params == 405_849_243_648   # llama-3.1-405b's shape, counted exactly
    assert il.decode_step(model, "H100-SXM", 1, 128).seconds > 0


def test_unknown_hardware_suggests_each_name_once():
    with pytest.raises(ValueError) as error:
        il.get_hardware("H10")
    suggestions = str(error.value).split("Did you mean: ")[1].split("?")[0].split(", ")
    assert len(suggestions) == len(set(suggestions))


# --- every public function of the computing modules: only ValueError, naming the argument ------
from inferlab import bandwidth, energy, parallelism  # noqa: E402

CASES = [  # (function, keyword arguments that work, arguments to vary, results may be inf/nan)
    (kv.kv_cache_bytes, dict(model="llama-3.1-8b", context=1024, batch=8, kv_bytes=2), False),
    (kv.free_memory_bytes, dict(model="llama-3.1-8b", hardware="H100-SXM", chips=1, memory_fraction=0.9), None),
    (kv.kv_weight_crossover_context, dict(model="llama-3.1-8b", batch=16, weight_bytes=2, kv_bytes=2), False),
    (kv.balance_context, dict(model="llama-3.1-8b", hardware="H100-SXM", batch=64, weight_bytes=2), True),
    (kv.capped_decode, dict(model="llama-3.1-8b", hardware="H100-SXM", context=4096, wanted_batch=64,
                            usd_per_gpu_hour=2.0, chips=1), True),
    (kv.paged_tokens, dict(context=1000, block_tokens=16), False),
    (batching.decode_parts, dict(model="deepseek-v3", hardware="H100-SXM", batch=64, context=1024), False),
    (batching.moe_layer_step, dict(tokens=16, hardware="H100-SXM", experts=8, top_k=2, d_model=256,
                                   expert_ffn=256, weight_bytes=2), False),
    (batching.moe_knee_batch, dict(hardware="H100-SXM", experts=256, top_k=8, weight_bytes=1), False),
    (batching.decode_knee, dict(model="llama-3.1-8b", hardware="H100-SXM", context=1024), True),
    (batching.price_multiple_for_speedup, dict(speedup=2.0, batch_share=0.6), False),
    (batching.batch_shrink_for_tier, dict(speedup=2.5, price_multiple=6.0), False),
    (serving.time_to_first_token, dict(model="llama-3.1-8b", hardware="H100-SXM", prompt=1024, prefill_batch=2), False),
    (serving.time_per_output_token, dict(model="llama-3.1-8b", hardware="H100-SXM", prompt=1024, output=100, batch=8), False),
    (serving.output_input_cost_ratio, dict(model="llama-3.1-8b", hardware="H100-SXM", prompt=1024, batch=64), False),
    (intensity.decode_attention_intensity, dict(context=1024, heads=32, kv_heads=8, bytes_per_value=2), False),
    (intensity.prefill_attention_flops, dict(prompt=1024, heads=32, head_dim=128, batch=1), False),
    (energy.decode_energy, dict(model="llama-3.1-8b", hardware="H100-SXM", batch=8, context=1024, chips=1), False),
    (energy.weight_fetch_in_flops, dict(hardware="H100-SXM", weight_bytes=2), False),
    (energy.compute_overtakes_movement, dict(model="llama-3.1-70b", hardware="H100-SXM", context=1024), True),
    (parallelism.parallel_decode, dict(model="llama-3.1-70b", hardware="H100-SXM", micro_batch=1, context=1024,
                                       stages=2, tensor_parallel=2, micro_batches=2), False),
    (parallelism.all_reduce_seconds, dict(message_bytes=1e6, chips=8, link="NVLink 4"), False),
    (parallelism.chips_to_serve, dict(model="llama-3.1-70b", hardware="H100-SXM", kv_budget_bytes=1e9), False),
    (bandwidth.offload_step_seconds, dict(weight_bytes=16e9, offload_fraction=0.2, device_bandwidth=3e12,
                                          link_bandwidth=50e9), False),
    (bandwidth.tokens_per_second_at_full_memory, dict(model="llama-3.1-8b", hardware="H200", context=8192), False),
    (economics.electricity_cost_per_million_tokens, dict(joules_per_token=1.0, usd_per_kwh=0.1), False),
]
NAMES_ONLY = {"model", "hardware", "link"}
PAIRS = [(f, base, name, sentinel) for f, base, sentinel in CASES for name in base if name not in NAMES_ONLY]


def _numbers(value):
    if hasattr(value, "__dataclass_fields__"):
        for field in value.__dataclass_fields__:
            yield from _numbers(getattr(value, field))
    elif isinstance(value, dict):
        for item in value.values():
            yield from _numbers(item)
    elif isinstance(value, (int, float, np.ndarray, np.number)) and not isinstance(value, bool):
        yield np.asarray(value, dtype=float)


@settings(max_examples=250, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=st.sampled_from(PAIRS), value=odd)
def test_every_function_says_no_in_words_or_answers_sensibly(case, value):
    function, base, name, sentinel = case
    result = _call(function, name, **{**base, name: value})
    if result is None or sentinel is None:   # refused, or negative by design (free memory)
        return
    for array in _numbers(result):
        if not sentinel:
            assert np.all(np.isfinite(array)), (function.__name__, name, value)
        assert not np.any(array < 0), (function.__name__, name, value)


SHAPE_PAIRS = [(f, base, a, b) for f, base, _ in CASES
               for i, a in enumerate(n for n in base if n not in NAMES_ONLY)
               for b in [n for n in base if n not in NAMES_ONLY][i + 1:]
               if isinstance(base[a], (int, float)) and isinstance(base[b], (int, float))]


@pytest.mark.parametrize("function, base, first, second", SHAPE_PAIRS,
                         ids=[f"{f.__name__}-{a}-{b}" for f, _, a, b in SHAPE_PAIRS])
def test_arrays_that_cannot_broadcast_are_named(function, base, first, second):
    args = {**base, first: np.full(2, base[first]), second: np.full(3, base[second])}
    with pytest.raises(ValueError, match=f"{first}|{second}"):
        function(**args)


def _requests():
    from inferlab import schedule
    return schedule.make_requests(100, 500, seed=1)


@pytest.mark.parametrize("call, argument", [
    (lambda s: s.simulate_fixed_interval(_requests(), 1e-30, 64), "interval"),        # seat numbers overflow
    (lambda s: s.simulate_fixed_interval(_requests(), 0.02, np.array([8, 16])), "capacity"),
    (lambda s: s.simulate_seat_holding(_requests(), 0.02, 1e15), "seats"),            # 7 PiB of seats
    (lambda s: s.simulate_continuous(_requests(), 1e15, 0.02), "capacity"),
    (lambda s: s.timetable_queue(np.array([1.0, 2.0]), 0.02, 8), "rate"),
    (lambda s: s.overload_wait_slope(100, np.array([0.01, 0.02]), 8), "interval"),
    (lambda s: s.make_requests(10, 10 ** 12), "count"),                                # would freeze the kernel
])
def test_simulations_refuse_what_they_cannot_do(call, argument):
    from inferlab import schedule
    with pytest.raises(ValueError, match=argument):
        call(schedule)


@pytest.mark.parametrize("field", ["chips", "batch", "context", "utilisation", "margin", "max_tpot",
                                   "usd_per_gpu_hour", "weight_bytes", "cache_link_bandwidth"])
def test_provider_assumptions_are_single_numbers(field):
    from inferlab import price_sheet
    with pytest.raises(ValueError, match=field):
        price_sheet.price_sheet(**{field: np.array([0.5, 0.6])})
