"""The circuit breaker's state machine and the retry policy, on a fake clock: no test sleeps."""

from __future__ import annotations

import asyncio
import random

import pytest

from venturegate.crews.stage19.breaker import (
    BreakerConfig,
    BreakerState,
    CircuitBreaker,
    CircuitOpenError,
    Guard,
    Retrier,
    RetryPolicy,
    StaleCache,
    Transition,
)


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Boom(Exception):
    """A failing provider call."""


class Target:
    """An async callable that fails while `failing` is set, counting its calls."""

    def __init__(self) -> None:
        self.failing = False
        self.calls = 0

    async def __call__(self, value: int = 1) -> int:
        self.calls += 1
        if self.failing:
            raise Boom("provider down")
        return value


def state(breaker: CircuitBreaker) -> BreakerState:
    """The breaker's state, read afresh (not narrowed by earlier assertions)."""
    return breaker.state


def call(breaker: CircuitBreaker, target: Target) -> int | str:
    """One call through the breaker: its value, or the exception's class name."""
    try:
        return asyncio.run(breaker.call(target, 7))
    except (Boom, CircuitOpenError, TimeoutError) as exc:
        return type(exc).__name__


def test_opens_after_exactly_five_consecutive_failures_then_half_opens_and_closes() -> None:
    clock, target = FakeClock(), Target()
    seen: list[Transition] = []
    breaker = CircuitBreaker(BreakerConfig(open_seconds=30), clock=clock, on_transition=seen.append)
    assert call(breaker, target) == 7
    target.failing = True
    for n in range(1, 5):
        assert call(breaker, target) == "Boom"
        assert state(breaker) is BreakerState.CLOSED, f"opened after {n} failures"
    assert call(breaker, target) == "Boom"
    assert state(breaker) is BreakerState.OPEN and breaker.activations == 1
    calls = target.calls
    assert call(breaker, target) == "CircuitOpenError"
    assert target.calls == calls  # rejected without calling through
    clock.advance(29.9)
    assert state(breaker) is BreakerState.OPEN
    clock.advance(0.1)
    assert state(breaker) is BreakerState.HALF_OPEN
    target.failing = False
    assert call(breaker, target) == 7
    assert state(breaker) is BreakerState.CLOSED and breaker.consecutive_failures == 0
    assert [(t.source, t.target) for t in seen] == [
        (BreakerState.CLOSED, BreakerState.OPEN),
        (BreakerState.OPEN, BreakerState.HALF_OPEN),
        (BreakerState.HALF_OPEN, BreakerState.CLOSED),
    ]
    assert seen[0].reason == "5 consecutive failures" and seen[0].at == 1000.0


def test_a_success_resets_the_consecutive_count() -> None:
    clock, target = FakeClock(), Target()
    breaker = CircuitBreaker(BreakerConfig(failure_threshold=3), clock=clock)
    for _ in range(5):
        target.failing = True
        call(breaker, target)
        call(breaker, target)
        target.failing = False
        call(breaker, target)
    assert state(breaker) is BreakerState.CLOSED and breaker.activations == 0


def test_failed_trial_call_reopens_and_counts_an_activation() -> None:
    clock, target = FakeClock(), Target()
    breaker = CircuitBreaker(BreakerConfig(failure_threshold=2, open_seconds=10), clock=clock)
    target.failing = True
    call(breaker, target)
    call(breaker, target)
    clock.advance(10)
    assert state(breaker) is BreakerState.HALF_OPEN
    assert call(breaker, target) == "Boom"
    assert state(breaker) is BreakerState.OPEN and breaker.activations == 2
    clock.advance(9)
    assert call(breaker, target) == "CircuitOpenError"


def test_half_open_admits_only_the_configured_probes() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(BreakerConfig(failure_threshold=1, open_seconds=5, half_open_probes=2), clock=clock)
    release = asyncio.Event()

    async def slow() -> str:
        await release.wait()
        return "ok"

    async def scenario() -> list[str]:
        with pytest.raises(Boom):
            await breaker.call(_failing_target())
        clock.advance(5)
        probes = [asyncio.ensure_future(breaker.call(slow)) for _ in range(2)]
        await asyncio.sleep(0)
        with pytest.raises(CircuitOpenError):
            await breaker.call(slow)
        release.set()
        return list(await asyncio.gather(*probes))

    assert asyncio.run(scenario()) == ["ok", "ok"]
    assert state(breaker) is BreakerState.CLOSED


def _failing_target() -> Target:
    target = Target()
    target.failing = True
    return target


def test_failure_rate_window_opens_and_forgets_old_calls() -> None:
    clock, target = FakeClock(), Target()
    config = BreakerConfig(failure_threshold=100, failure_rate_percent=50, window_seconds=60, minimum_calls=10)
    breaker = CircuitBreaker(config, clock=clock)
    # Alternate: 50% failures but never two in a row.
    for i in range(9):
        target.failing = i % 2 == 0
        call(breaker, target)
        clock.advance(1)
    assert state(breaker) is BreakerState.CLOSED  # 9 calls: under minimum_calls
    clock.advance(120)  # the window forgets them
    for i in range(9):
        target.failing = i % 2 == 1
        call(breaker, target)
    assert state(breaker) is BreakerState.CLOSED
    target.failing = True
    call(breaker, target)  # 10 calls in the window, 5 failed
    assert state(breaker) is BreakerState.OPEN
    assert breaker.transitions[-1].reason == "failure rate >= 50%"


def test_call_timeout_counts_as_a_failure() -> None:
    breaker = CircuitBreaker(BreakerConfig(failure_threshold=1, call_timeout=0.01))

    async def hang() -> None:
        await asyncio.sleep(5)

    with pytest.raises(TimeoutError):
        asyncio.run(breaker.call(hang))
    assert state(breaker) is BreakerState.OPEN


def test_exceptions_that_are_not_failures_do_not_count() -> None:
    breaker = CircuitBreaker(BreakerConfig(failure_threshold=1), is_failure=lambda exc: not isinstance(exc, KeyError))

    async def missing() -> None:
        raise KeyError("404 is the caller's problem")

    with pytest.raises(KeyError):
        asyncio.run(breaker.call(missing))
    assert state(breaker) is BreakerState.CLOSED


@pytest.mark.parametrize(
    "bad",
    [
        {"failure_threshold": 0},
        {"half_open_probes": 0},
        {"open_seconds": -1},
        {"failure_rate_percent": 0},
        {"failure_rate_percent": 101},
        {"call_timeout": 0},
    ],
)
def test_invalid_breaker_config(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        BreakerConfig(**bad)  # type: ignore[arg-type]


def test_retry_delays_are_full_jitter_under_the_exponential_ceiling() -> None:
    policy = RetryPolicy()
    assert (policy.max_retries, policy.base_delay, policy.multiplier) == (3, 1.0, 2.0)
    assert [policy.ceiling(k) for k in (1, 2, 3, 4, 10)] == [1.0, 2.0, 4.0, 8.0, 30.0]
    rng = random.Random(7)
    draws = [policy.delay(2, rng) for _ in range(2000)]
    assert 0.0 <= min(draws) < 0.1 and 1.9 < max(draws) <= 2.0
    assert sum(draws) / len(draws) == pytest.approx(1.0, abs=0.08)


def test_retrier_retries_then_gives_up_after_max_retries() -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    target = _failing_target()
    retrier = Retrier(RetryPolicy(max_retries=3, base_delay=1.0), sleep=sleep, rng=random.Random(1))
    with pytest.raises(Boom):
        asyncio.run(retrier.call(target))
    assert target.calls == 4 and len(slept) == 3 and slept == retrier.delays
    assert all(0 <= d <= c for d, c in zip(slept, [1.0, 2.0, 4.0], strict=True))


def test_retrier_succeeds_after_transient_failures_and_honours_retry_after() -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    class Throttled(Exception):
        retry_after = 5.0

    attempts = 0

    async def flaky() -> str:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise Throttled
        return "done"

    assert asyncio.run(Retrier(sleep=sleep).call(flaky)) == "done"
    assert slept == [5.0, 5.0]


def test_guard_does_not_retry_an_open_breaker() -> None:
    async def sleep(seconds: float) -> None:
        return None

    clock, target = FakeClock(), _failing_target()
    guard = Guard(CircuitBreaker(BreakerConfig(failure_threshold=2), clock=clock), Retrier(sleep=sleep))
    with pytest.raises(CircuitOpenError):
        asyncio.run(guard.call(target))
    assert target.calls == 2  # two failures opened it; the third attempt was rejected, not retried
    with pytest.raises(CircuitOpenError):
        asyncio.run(guard.call(target))
    assert target.calls == 2


def test_stale_cache_serves_the_last_answer_within_its_ttl() -> None:
    clock, target = FakeClock(), Target()
    cache = StaleCache(300, clock=clock)
    assert asyncio.run(cache.call("k", target, 3)) == 3
    target.failing = True
    clock.advance(299)
    assert asyncio.run(cache.call("k", target, 4)) == 3 and cache.served_stale == 1
    clock.advance(2)
    with pytest.raises(Boom):
        asyncio.run(cache.call("k", target, 4))
    with pytest.raises(Boom):
        asyncio.run(cache.call("other", target, 4))
