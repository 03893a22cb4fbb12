"""The train-schedule simulator: against simple reference loops, against queueing theory,
and against bad input."""
import math

import numpy as np
import pytest

import inferlab as il
from inferlab import economics, schedule
from inferlab.schedule import (arrivals_per_interval, boarding_departures, make_requests,
                               overload_wait_slope, simulate_continuous, simulate_fixed_interval,
                               timetable_queue)


# --- reference implementations: one request at a time, obviously right -------------------------
def reference_timetable(arrival, interval, capacity):
    """Walk the departures one by one and seat whoever has arrived, first come first served."""
    departure = np.empty(len(arrival), dtype=np.int64)
    i, k = 0, 0
    while i < len(arrival):
        seats = capacity
        while i < len(arrival) and seats and arrival[i] <= k * interval:
            departure[i] = k
            i += 1
            seats -= 1
        k += 1
    return departure


def reference_continuous(arrival, capacity, table):
    """Event by event: a step starts when the server is free and someone waits."""
    start = np.empty(len(arrival))
    free_at, i = 0.0, 0
    while i < len(arrival):
        begin = max(free_at, arrival[i])
        boarded = [j for j in range(i, len(arrival)) if arrival[j] <= begin][:capacity]
        start[boarded] = begin
        free_at = begin + table[len(boarded)]
        i += len(boarded)
    return start


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("capacity", [1, 3, 8])
@pytest.mark.parametrize("mean_burst", [1.0, 4.0])
def test_seat_assignment_matches_the_reference_loop(seed, capacity, mean_burst):
    rng = np.random.default_rng(seed)
    rate = rng.uniform(0.3, 1.5) * capacity / 0.01  # under and over saturation
    requests = make_requests(rate, 300, mean_burst=mean_burst, seed=seed)
    got = boarding_departures(requests.arrival, 0.01, capacity)
    assert np.array_equal(got, reference_timetable(requests.arrival, 0.01, capacity))


def test_seat_assignment_by_hand():
    # Departures every 10 ms with 2 seats. Arrivals at 1, 2, 3 ms: two take the 10 ms train,
    # the third the 20 ms one. An arrival exactly at 20 ms boards the 20 ms train if a seat
    # is free (here: the seat beside the third passenger), one at 20.5 ms the 30 ms train.
    arrival = np.array([0.001, 0.002, 0.003, 0.020, 0.0205])
    assert boarding_departures(arrival, 0.01, 2).tolist() == [1, 1, 2, 2, 3]
    assert boarding_departures(arrival, 0.01, 1).tolist() == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("seed", range(4))
def test_continuous_matches_the_reference_loop(seed):
    requests = make_requests(400.0, 200, mean_burst=2.0, seed=seed)
    table = np.concatenate([[0.0], 0.004 + 0.0005 * np.arange(1, 9)])
    result = simulate_continuous(requests, 8, table)
    assert np.allclose(result.departure, reference_continuous(requests.arrival, 8, table))


def test_continuous_by_hand():
    # Steps of 10 ms. Arrivals at 0, 1, 2 and 50 ms, two seats: the first boards at once,
    # the next two wait for the step that starts at 10 ms, the last finds the server idle.
    requests = schedule.Requests(arrival=np.array([0.0, 0.001, 0.002, 0.050]),
                                 input_tokens=np.ones(4, int), output_tokens=np.array([1, 1, 3, 1]),
                                 rate=40.0)
    result = simulate_continuous(requests, 2, 0.010)
    assert np.allclose(result.departure, [0.0, 0.010, 0.010, 0.050])
    assert np.allclose(result.wait, [0.0, 0.009, 0.008, 0.0])
    assert np.allclose(result.ttft, [0.010, 0.019, 0.018, 0.010])
    assert np.allclose(result.latency, [0.010, 0.019, 0.038, 0.010])
    assert result.steps == 3 and math.isclose(result.utilisation, 4 / 6)


def test_fixed_interval_latency_by_hand():
    requests = schedule.Requests(arrival=np.array([0.004]), input_tokens=np.array([500]),
                                 output_tokens=np.array([10]), rate=1.0)
    result = simulate_fixed_interval(requests, 0.020, 4, prefill_seconds_per_token=1e-5)
    assert math.isclose(result.wait[0], 0.016)
    assert math.isclose(result.ttft[0], 0.016 + 0.020 + 0.005)
    assert math.isclose(result.latency[0], 0.016 + 0.020 + 0.005 + 9 * 0.020)


# --- queueing theory ----------------------------------------------------------------------------------
@pytest.mark.parametrize("load", [0.3, 0.6, 0.8])
def test_mean_wait_is_half_the_interval_below_saturation(load):
    interval, capacity = 0.020, 64
    requests = make_requests(load * capacity / interval, 200_000, seed=11)
    result = simulate_fixed_interval(requests, interval, capacity)
    assert result.wait.mean() == pytest.approx(interval / 2, rel=0.02)
    assert result.utilisation == pytest.approx(load, rel=0.02)
    assert not result.overloaded and result.message == ""


def test_the_wait_for_the_next_departure_is_uniform():
    # Whatever the load, the time to the next timetabled departure is uniform on [0, T):
    # its quartiles sit at T/4, T/2, 3T/4.
    interval = 0.020
    arrival = make_requests(5000.0, 100_000, seed=3).arrival
    to_next = np.ceil(arrival / interval) * interval - arrival
    assert np.percentile(to_next, [25, 50, 75]) == pytest.approx([0.005, 0.010, 0.015], rel=0.02)


@pytest.mark.parametrize("load", [0.3, 0.5, 0.8, 0.9])
def test_bulk_queue_solver_agrees_with_its_closed_form_for_one_seat(load):
    # With one seat, Q' = max(Q + A - 1, 0), A ~ Poisson(load). Taking means and squares of
    # the stationary recursion gives E[Q] = load^2 / (2 (1 - load)), so the mean wait is
    # T/2 + E[Q] / rate = T/2 + T load / (2 (1 - load)).
    interval = 0.02
    queue = timetable_queue(load / interval, interval, 1)
    assert queue["mean_left_behind"] == pytest.approx(load ** 2 / (2 * (1 - load)), rel=1e-6)
    assert queue["mean_wait"] == pytest.approx(interval / 2 + interval * load / (2 * (1 - load)), rel=1e-6)
    assert queue["p_left_behind"] < load


@pytest.mark.parametrize("capacity, load, mean_burst, count, rel", [
    (8, 0.8, 1.0, 200_000, 0.02),
    (16, 0.9, 1.0, 200_000, 0.02),
    (1, 0.7, 1.0, 300_000, 0.02),
    (8, 0.8, 4.0, 400_000, 0.04),  # bursts: fewer independent events, more noise
])
def test_simulated_mean_wait_matches_the_bulk_queue(capacity, load, mean_burst, count, rel):
    interval = 0.020
    rate = load * capacity / interval
    requests = make_requests(rate, count, mean_burst=mean_burst, seed=0)
    simulated = simulate_fixed_interval(requests, interval, capacity).wait.mean()
    assert simulated == pytest.approx(timetable_queue(rate, interval, capacity, mean_burst)["mean_wait"],
                                      rel=rel)


def test_queueing_adds_wait_only_near_saturation_for_big_trains():
    interval = 0.02
    waits = [timetable_queue(load * 64 / interval, interval, 64)["mean_wait"] / interval
             for load in (0.5, 0.8, 0.95)]
    assert waits[0] == pytest.approx(0.5, abs=1e-3)
    assert waits[1] < 0.51 < waits[2]
    assert timetable_queue(0.8 / interval, interval, 1)["mean_wait"] > 4 * waits[1] * interval


@pytest.mark.parametrize("load", [1.1, 1.5])
def test_overload_wait_grows_at_the_predicted_slope(load):
    interval, capacity = 0.020, 16
    requests = make_requests(load * capacity / interval, 100_000, seed=5)
    result = simulate_fixed_interval(requests, interval, capacity)
    slope = np.polyfit(requests.arrival, result.wait, 1)[0]
    # The slope is load - 1, so a 0.3 % wobble in the realised rate moves it by 3 % at
    # load 1.1: compare with the rate this sample actually had.
    realised_rate = len(requests) / requests.arrival[-1]
    assert slope == pytest.approx(overload_wait_slope(realised_rate, interval, capacity), rel=0.02)
    assert result.overloaded and "overloaded" in result.message and "grows" in result.message
    assert result.utilisation > 0.99


def test_overload_is_flagged_for_the_continuous_server_too():
    requests = make_requests(5000.0, 20_000, seed=1)
    result = simulate_continuous(requests, 8, 0.010)
    assert result.offered_load == pytest.approx(5000 * 0.010 / 8)
    assert result.overloaded and "overloaded" in result.message
    assert overload_wait_slope(100.0, 0.01, 8) == 0.0


def test_near_saturation_is_mentioned():
    result = simulate_fixed_interval(make_requests(0.97 * 8 / 0.02, 5000, seed=0), 0.02, 8)
    assert not result.overloaded and "near saturation" in result.message


def test_continuous_batching_waits_less_only_when_the_server_would_idle():
    interval, capacity = 0.020, 32
    # One request per ten intervals: the continuous server is idle on most arrivals and
    # starts at once; the timetable still makes everyone wait T/2 on average.
    sparse = make_requests(0.1 / interval, 20_000, seed=2)
    assert (simulate_continuous(sparse, capacity, interval).wait.mean()
            < 0.2 * simulate_fixed_interval(sparse, interval, capacity).wait.mean())
    # Three requests per interval: steps run back to back, an arrival waits for the running
    # step to end, and with equal step times the two servers wait alike (residual T/2).
    busy = make_requests(3.0 / interval, 50_000, seed=2)
    continuous = simulate_continuous(busy, capacity, interval)
    assert continuous.wait.mean() == pytest.approx(interval / 2, rel=0.05)
    # If a smaller batch makes a shorter step (the roofline), the continuous server runs
    # short steps and waits less.
    table = schedule.step_table("llama-3.1-8b", "H100-SXM", capacity, 1024)
    quick = simulate_continuous(busy, capacity, table)
    assert quick.wait.mean() < 0.5 * table[capacity]
    assert quick.utilisation < continuous.utilisation


# --- arrivals and lengths ---------------------------------------------------------------------------------
def test_arrivals_are_reproducible_and_have_the_asked_rate():
    a = make_requests(250.0, 50_000, mean_burst=3.0, seed=7)
    b = make_requests(250.0, 50_000, mean_burst=3.0, seed=7)
    c = make_requests(250.0, 50_000, mean_burst=3.0, seed=8)
    assert np.array_equal(a.arrival, b.arrival) and np.array_equal(a.output_tokens, b.output_tokens)
    assert not np.array_equal(a.arrival, c.arrival)
    assert np.all(np.diff(a.arrival) >= 0)
    assert len(a) / a.arrival[-1] == pytest.approx(250.0, rel=0.03)


@pytest.mark.parametrize("mean_burst", [1.0, 2.0, 5.0])
def test_counts_per_interval_have_the_theoretical_mean_and_variance(mean_burst):
    # A Poisson number of geometric bursts: mean = rate T, variance = rate T (2 m - 1).
    rate, interval = 400.0, 0.02
    pmf = arrivals_per_interval(rate, interval, mean_burst)
    k = np.arange(len(pmf))
    assert pmf.sum() == pytest.approx(1.0, abs=1e-10)
    assert (k * pmf).sum() == pytest.approx(rate * interval, rel=1e-9)
    variance = (k ** 2 * pmf).sum() - (rate * interval) ** 2
    assert variance == pytest.approx(rate * interval * (2 * mean_burst - 1), rel=1e-8)
    arrival = make_requests(rate, 200_000, mean_burst=mean_burst, seed=4).arrival
    counts = np.bincount(np.ceil(arrival / interval).astype(int)[:-100])[1:]
    assert counts.var() / counts.mean() == pytest.approx(2 * mean_burst - 1, rel=0.06)


def test_length_distributions():
    requests = make_requests(10.0, 40_000, input_tokens=[100, 300],
                             output_tokens=schedule.geometric_lengths(200), seed=0)
    assert set(np.unique(requests.input_tokens)) == {100, 300}
    assert requests.output_tokens.mean() == pytest.approx(200, rel=0.03)
    assert requests.output_tokens.min() >= 1
    lognormal = make_requests(10.0, 40_000, output_tokens=schedule.lognormal_lengths(150, 0.8, maximum=2000))
    assert np.median(lognormal.output_tokens) == pytest.approx(150, rel=0.03)
    assert lognormal.output_tokens.max() <= 2000
    fixed = make_requests(10.0, 10, input_tokens=7, output_tokens=1)
    assert fixed.input_tokens.tolist() == [7] * 10


# --- economics and the roofline ----------------------------------------------------------------------------
def test_utilisation_tokens_and_cost():
    interval, capacity = 0.020, 10
    requests = make_requests(200.0, 100_000, seed=9)  # asks for 200 of 500 seats per second
    result = simulate_fixed_interval(requests, interval, capacity)
    assert result.utilisation == pytest.approx(0.4, rel=0.02)
    assert result.tokens_per_second == pytest.approx(200.0, rel=0.02)
    price = 3.0
    by_hand = price / 3600 * result.span_seconds / len(requests) * 1e6
    assert result.cost_per_million_tokens(price) == pytest.approx(by_hand)
    # Full trains cost seats x interval; a 40 % full timetable costs 1 / 0.4 as much.
    full = economics.cost_per_million_tokens(interval, capacity, price)
    assert result.cost_per_million_tokens(price) == pytest.approx(full / 0.4, rel=0.02)
    assert result.cost_per_million_tokens() == pytest.approx(
        result.cost_per_million_tokens(economics.gpu_hour_price("H100-SXM")))


def test_stats_and_summary():
    result = simulate_fixed_interval(make_requests(100.0, 10_000, output_tokens=50, seed=0), 0.02, 8)
    stats = result.stats("latency")
    assert stats["p50"] <= stats["p95"] <= stats["p99"]
    assert stats["p50"] >= 50 * 0.02  # at least one interval per output token
    assert set(result.summary()) >= {"wait mean", "ttft p99", "latency p95", "utilisation"}
    with pytest.raises(ValueError, match="what"):
        result.stats("speed")


def test_step_table_and_hbm_drain_come_from_the_roofline():
    table = schedule.step_table("llama-3.1-8b", "H100-SXM", 64, 2048)
    assert len(table) == 65
    assert table[64] == pytest.approx(float(il.decode_step("llama-3.1-8b", "H100-SXM", 64, 2048).seconds))
    assert table[0] == table[1] and np.all(np.diff(table[1:]) >= 0)
    assert table[1] > il.latency_floor("llama-3.1-8b", "H100-SXM")
    assert schedule.hbm_drain_seconds("H100-SXM") == pytest.approx(81_559 * 2**20 / 3.35e12, rel=0.01)  # usable bytes


# --- bad input ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("call, name", [
    (lambda: make_requests(0, 10), "rate"),
    (lambda: make_requests(-5.0, 10), "rate"),
    (lambda: make_requests(float("nan"), 10), "rate"),
    (lambda: make_requests(10.0, 0), "count"),
    (lambda: make_requests(10.0, 2.5), "count"),
    (lambda: make_requests(10.0, 10, mean_burst=0.5), "mean_burst"),
    (lambda: make_requests(10.0, 10, output_tokens=0), "output_tokens"),
    (lambda: make_requests(10.0, 10, input_tokens=[10, -1]), "input_tokens"),
    (lambda: simulate_fixed_interval(make_requests(10.0, 10), 0, 8), "interval"),
    (lambda: simulate_fixed_interval(make_requests(10.0, 10), float("inf"), 8), "interval"),
    (lambda: simulate_fixed_interval(make_requests(10.0, 10), 0.02, 0), "capacity"),
    (lambda: simulate_fixed_interval(make_requests(10.0, 10), 0.02, 2.5), "capacity"),
    (lambda: simulate_fixed_interval([0.1, 0.2], 0.02, 2), "requests"),
    (lambda: simulate_continuous(make_requests(10.0, 10), 4, -1.0), "step_seconds"),
    (lambda: simulate_continuous(make_requests(10.0, 10), 4, [0.0, 0.01]), "step_seconds"),
    (lambda: simulate_continuous(make_requests(10.0, 10), 4, 0.01, prefill_seconds_per_token=-1),
     "prefill_seconds_per_token"),
    (lambda: timetable_queue(500.0, 0.02, 8), "offered load"),
    (lambda: timetable_queue(100.0, 0.02, 0), "capacity"),
    (lambda: arrivals_per_interval(100.0, -0.02), "interval"),
    (lambda: schedule.geometric_lengths(0.5), "mean"),
])
def test_bad_input_names_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()


# --- seats held for a whole answer -----------------------------------------------------------
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("capacity", [1, 3, 64])
def test_seat_holding_with_one_token_answers_is_the_timetable(seed, capacity):
    requests = make_requests((0.5 + 0.3 * seed) * capacity / 0.01, 2000, output_tokens=1, seed=seed)
    held = schedule.simulate_seat_holding(requests, 0.01, capacity)
    timetable = simulate_fixed_interval(requests, 0.01, capacity)
    assert np.array_equal(held.departure, timetable.departure)
    for field in ("utilisation", "offered_load", "steps", "span_seconds", "tokens_per_second", "overloaded"):
        assert getattr(held, field) == pytest.approx(getattr(timetable, field))


def test_seat_holding_by_hand():
    # One seat, a departure every second. A 3-token answer arriving at 0.5 s boards the 1 s
    # train and keeps the seat for the steps at 1, 2 and 3 s; a 1-token request arriving at
    # 0.6 s must wait for the 4 s train (3.4 s), where the plain timetable seats it at 2 s.
    requests = schedule.Requests(arrival=np.array([0.5, 0.6]), input_tokens=np.array([10, 10]),
                                 output_tokens=np.array([3, 1]), rate=1.0)
    held = schedule.simulate_seat_holding(requests, 1.0, 1)
    assert held.departure.tolist() == [1.0, 4.0]
    assert held.wait == pytest.approx([0.5, 3.4])
    assert held.latency == pytest.approx([3.5, 4.4])  # last tokens at the ends of steps 3 and 4
    assert held.span_seconds == 5.0 and held.tokens_per_second == pytest.approx(4 / 5)
    assert held.utilisation == pytest.approx(4 / 4)  # departures 1..4, every seat-step used
    assert simulate_fixed_interval(requests, 1.0, 1).departure.tolist() == [1.0, 2.0]


def test_long_answers_queue_like_the_seats_freed_per_step():
    # 64 seats and answers of 8 tokens on average free about 8 seats a step: near saturation
    # the wait is far above that of 64 fresh seats per departure, and near that of 8.
    seats, interval, load = 64, 0.02, 0.9
    requests = make_requests(load * seats / (8 * interval), 60_000,
                             output_tokens=schedule.geometric_lengths(8), seed=3)
    held = schedule.simulate_seat_holding(requests, interval, seats)
    assert held.offered_load == pytest.approx(load, rel=0.03)
    wait = held.wait.mean()
    fresh_64 = timetable_queue(load * seats / interval, interval, seats)["mean_wait"]
    fresh_8 = timetable_queue(load * 8 / interval, interval, 8)["mean_wait"]
    assert wait > 1.4 * fresh_64
    assert 0.6 * fresh_8 < wait < 1.6 * fresh_8
    assert held.tokens_per_second == pytest.approx(requests.output_tokens.sum() / held.span_seconds)


def test_seat_holding_rejects_bad_input():
    requests = make_requests(10.0, 10)
    with pytest.raises(ValueError, match="seats"):
        schedule.simulate_seat_holding(requests, 0.01, 0)
    with pytest.raises(ValueError, match="interval"):
        schedule.simulate_seat_holding(requests, -1.0, 4)
    with pytest.raises(ValueError, match="requests"):
        schedule.simulate_seat_holding([0.1, 0.2], 0.01, 4)


# --- the explorer's "seat held for" control -------------------------------------------------------
def test_explorer_answer_length_holds_seats_for_every_option():
    import re

    import matplotlib
    matplotlib.use("Agg")
    from inferlab.explorers.train_schedule import TrainScheduleExplorer

    explorer = TrainScheduleExplorer()
    explorer.widget()
    controls = explorer._controls
    assert [value for _, value in controls["answer_tokens"].options] == [1, 16, 64, 300]
    one_seat = explorer.values()
    controls["rate"].value = 2000.0
    controls["rate"].value = one_seat["rate"]  # redraw the default with the live figure
    default_summary, default_knee = explorer._summary.value, explorer._knee.get_ydata().copy()
    assert "holds its seat" not in default_summary
    for answer in (16, 64, 300):
        controls["answer_tokens"].value = answer
        summary = explorer._summary.value
        assert "holds its seat for its whole answer" in summary
        # 2400/s x 16 tokens x 20 ms / 64 seats = 12: far past saturation for every long answer
        assert "overloaded" in summary
    controls["rate"].value = 10 ** 0.9  # 7.94/s x 300 x 20 ms / 64 seats = 0.74 (geometric answers)
    summary = explorer._summary.value
    load = float(re.search(r"interval / seats = .*?<b>([\d.]+)</b>", summary).group(1))
    assert load == pytest.approx(10 ** 0.9 * 300 * 0.020 / 64, rel=0.05)
    assert "overloaded" not in summary and "Cannot draw" not in summary
    held_knee = explorer._knee.get_ydata()
    at_09 = list(TrainScheduleExplorer.knee_loads).index(0.9)
    assert held_knee[at_09] > 5 * default_knee[at_09]  # about B/L seats turn over, not B
    for seats in (1, 512):  # every seat count still draws with held seats
        controls["capacity"].value = seats
        assert "holds its seat" in explorer._summary.value
    controls["capacity"].value = one_seat["capacity"]
    controls["rate"].value = one_seat["rate"]
    controls["answer_tokens"].value = 1  # back to the one-seat timetable, exactly as before
    assert explorer._summary.value == default_summary
    np.testing.assert_allclose(explorer._knee.get_ydata(), default_knee)
