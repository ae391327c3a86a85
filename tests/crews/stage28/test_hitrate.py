"""The one-pass LRU hit-rate curve equals a direct simulation of every size, with and without TTL."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from venturegate.crews.stage28.hitrate import (
    INFINITE,
    hit_rate_curve,
    simulate_lru,
    stack_distances,
    stack_distances_array,
)

traces = st.lists(st.integers(min_value=0, max_value=12), max_size=120)


@given(traces, st.lists(st.integers(min_value=0, max_value=15), min_size=1, max_size=6, unique=True))
@settings(max_examples=150, deadline=None)
def test_curve_equals_simulation_at_every_size(keys: list[int], sizes: list[int]) -> None:
    curve = hit_rate_curve(keys, sizes)
    for size in sizes:
        assert curve.at(size) == pytest.approx(simulate_lru(keys, size))


@given(
    st.lists(st.tuples(st.integers(min_value=0, max_value=8), st.floats(min_value=0, max_value=5)), max_size=100),
    st.floats(min_value=0, max_value=6),
    st.lists(st.integers(min_value=0, max_value=10), min_size=1, max_size=5, unique=True),
)
@settings(max_examples=150, deadline=None)
def test_curve_with_ttl_equals_simulation(steps: list[tuple[int, float]], ttl: float, sizes: list[int]) -> None:
    keys = [k for k, _ in steps]
    times, now = [], 0.0
    for _, gap in steps:
        now += gap
        times.append(now)
    curve = hit_rate_curve(keys, sizes, times=times, ttl_seconds=ttl)
    for size in sizes:
        assert curve.at(size) == pytest.approx(simulate_lru(keys, size, times=times, ttl_seconds=ttl))


@given(traces)
@settings(max_examples=100, deadline=None)
def test_curve_is_monotone_and_bounded_by_reuse(keys: list[int]) -> None:
    sizes = list(range(0, 16))
    rates = hit_rate_curve(keys, sizes).hit_rates
    assert all(a <= b for a, b in itertools.pairwise(rates))
    cold = len(set(keys))
    assert rates[-1] <= (len(keys) - cold) / len(keys) if keys else rates[-1] == 0.0


def test_stack_distances_by_hand() -> None:
    distances, reuse = stack_distances(["a", "b", "c", "a", "a", "b"], [0, 1, 2, 3, 4, 5])
    assert distances == [INFINITE, INFINITE, INFINITE, 2, 0, 2]
    assert reuse[3:] == [3, 1, 4]


def test_a_ttl_without_times_is_refused() -> None:
    with pytest.raises(ValueError, match="TTL needs the access times"):
        hit_rate_curve([1, 2], [1], ttl_seconds=1.0)


@given(
    st.lists(st.tuples(st.integers(min_value=0, max_value=8), st.floats(min_value=0, max_value=3)), max_size=80),
    st.lists(st.integers(min_value=0, max_value=10), min_size=1, max_size=4, unique=True),
)
@settings(max_examples=100, deadline=None)
def test_per_key_ttls_equal_simulation(steps: list[tuple[int, float]], sizes: list[int]) -> None:
    keys = [k for k, _ in steps]
    times, now = [], 0.0
    for _, gap in steps:
        now += gap
        times.append(now)
    ttls = [1.0 + (k % 3) for k in keys]  # the TTL belongs to the key (its route), as in a cache design
    curve = hit_rate_curve(keys, sizes, times=times, ttl_seconds=ttls)
    for size in sizes:
        assert curve.at(size) == pytest.approx(simulate_lru(keys, size, times=times, ttl_seconds=ttls))


@given(traces, st.lists(st.floats(min_value=0, max_value=3), max_size=120))
@settings(max_examples=150, deadline=None)
def test_vectorised_distances_equal_the_fenwick_ones(keys: list[int], gaps: list[float]) -> None:
    times = [sum(gaps[: i + 1]) if i < len(gaps) else float(i) for i in range(len(keys))]
    slow_d, slow_r = stack_distances(keys, times)
    fast_d, fast_r = stack_distances_array(keys, times)
    assert list(fast_d) == slow_d
    assert list(fast_r) == pytest.approx(slow_r)
