"""An async circuit breaker with an injectable clock, and a retry policy with full-jitter backoff.

This module imports only the standard library: stage 19.3 ships its source, followed by the
venture's generated policies, as a file the venture copies into its own repository.

Breaker states:

- **closed**: calls go through. It opens after `failure_threshold` consecutive failures, or, when
  `failure_rate_percent` is set, once at least `minimum_calls` calls in the last `window_seconds`
  failed at that rate or more.
- **open**: calls fail at once with `CircuitOpenError`, without calling through, for `open_seconds`.
- **half-open**: up to `half_open_probes` trial calls at a time go through; the first success
  closes the breaker, a failure opens it again (another activation).

Retry: `RetryPolicy.call` makes up to 1 + `max_retries` attempts; before retry k (1-based) it
sleeps a "full jitter" delay drawn uniformly from [0, min(max_delay, base_delay · multiplier^(k-1))]
(the AWS Architecture Blog's variant: clients that fail together do not retry together), or the
server's `retry_after` when an exception carries a longer one. An open breaker is not retried.

`StaleCache` is the cached fallback: it serves the last good answer for a key, up to `ttl_seconds`
old, when the live call fails or the breaker is open.
"""

from __future__ import annotations

import asyncio
import enum
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar, cast

P = ParamSpec("P")
T = TypeVar("T")
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class BreakerState(enum.Enum):
    """Where a circuit breaker is in its cycle."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitOpenError(RuntimeError):
    """The breaker is open (or its half-open probes are all taken): the call was not made."""

    def __init__(self, name: str, retry_in: float) -> None:
        super().__init__(f"circuit breaker {name!r} is open; next trial call in {retry_in:.3f}s")
        self.name = name
        self.retry_in = retry_in


@dataclass(frozen=True)
class BreakerConfig:
    """When a breaker opens, how long it stays open and how it tries again."""

    failure_threshold: int = 5
    """Consecutive failures that open the breaker (the studio's gate: 5)."""
    open_seconds: float = 60.0
    """How long it stays open before allowing trial calls."""
    half_open_probes: int = 1
    """Trial calls allowed at the same time while half-open."""
    failure_rate_percent: float | None = None
    """Also open when this share of the calls in the window failed (None: consecutive rule only)."""
    window_seconds: float = 60.0
    """Length of the failure-rate window."""
    minimum_calls: int = 10
    """Calls the window needs before its failure rate counts."""
    call_timeout: float | None = None
    """Seconds a call may take; a slower call is cancelled and counts as a failure (None: no limit)."""

    def __post_init__(self) -> None:
        if self.failure_threshold < 1 or self.half_open_probes < 1 or self.minimum_calls < 1:
            raise ValueError("failure_threshold, half_open_probes and minimum_calls must be >= 1")
        if self.open_seconds < 0 or self.window_seconds <= 0:
            raise ValueError("open_seconds must be >= 0 and window_seconds > 0")
        if self.failure_rate_percent is not None and not 0 < self.failure_rate_percent <= 100:
            raise ValueError("failure_rate_percent must be in (0, 100]")
        if self.call_timeout is not None and self.call_timeout <= 0:
            raise ValueError("call_timeout must be > 0")


@dataclass(frozen=True)
class Transition:
    """One state change, at the breaker's clock time."""

    at: float
    source: BreakerState
    target: BreakerState
    reason: str


def _any_exception(exc: BaseException) -> bool:
    return isinstance(exc, Exception)


class CircuitBreaker:
    """A circuit breaker (module doc); one instance per integration, shared by its callers."""

    def __init__(
        self,
        config: BreakerConfig | None = None,
        *,
        name: str = "default",
        clock: Clock = time.monotonic,
        is_failure: Callable[[BaseException], bool] = _any_exception,
        on_transition: Callable[[Transition], None] | None = None,
    ) -> None:
        self.config = config or BreakerConfig()
        self.name = name
        self.activations = 0
        """Times the breaker opened (from closed or again from half-open)."""
        self.transitions: list[Transition] = []
        self._clock = clock
        self._is_failure = is_failure
        self._on_transition = on_transition
        self._state = BreakerState.CLOSED
        self._consecutive = 0
        self._opened_at = 0.0
        self._probes = 0
        self._window: deque[tuple[float, bool]] = deque()

    @property
    def state(self) -> BreakerState:
        """The current state; an open breaker whose `open_seconds` have passed reads as half-open."""
        if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self.config.open_seconds:
            self._move(BreakerState.HALF_OPEN, "open period over")
        return self._state

    @property
    def consecutive_failures(self) -> int:
        """Failures since the last success."""
        return self._consecutive

    def _move(self, target: BreakerState, reason: str) -> None:
        transition = Transition(self._clock(), self._state, target, reason)
        self._state = target
        self.transitions.append(transition)
        if target is BreakerState.OPEN:
            self.activations += 1
            self._opened_at = transition.at
        if target is not BreakerState.HALF_OPEN:
            self._probes = 0
        if target is BreakerState.CLOSED:
            self._window.clear()
        if self._on_transition is not None:
            self._on_transition(transition)

    def _admit(self) -> bool:
        """Whether a call may go through now; returns True for a half-open trial call."""
        state = self.state
        if state is BreakerState.CLOSED:
            return False
        if state is BreakerState.HALF_OPEN and self._probes < self.config.half_open_probes:
            self._probes += 1
            return True
        retry_in = max(0.0, self._opened_at + self.config.open_seconds - self._clock())
        raise CircuitOpenError(self.name, retry_in)

    def record_success(self, *, probe: bool = False) -> None:
        """Count a successful call."""
        self._consecutive = 0
        if probe or self._state is BreakerState.HALF_OPEN:
            if self._state is BreakerState.HALF_OPEN:
                self._move(BreakerState.CLOSED, "trial call succeeded")
            return
        self._observe(ok=True)

    def record_failure(self, *, probe: bool = False) -> None:
        """Count a failed call; may open the breaker."""
        self._consecutive += 1
        if probe or self._state is BreakerState.HALF_OPEN:
            if self._state is BreakerState.HALF_OPEN:
                self._move(BreakerState.OPEN, "trial call failed")
            return
        if self._state is not BreakerState.CLOSED:
            return
        self._observe(ok=False)
        if self._consecutive >= self.config.failure_threshold:
            self._move(BreakerState.OPEN, f"{self._consecutive} consecutive failures")
        elif self._rate_exceeded():
            self._move(BreakerState.OPEN, f"failure rate >= {self.config.failure_rate_percent:g}%")

    def _observe(self, *, ok: bool) -> None:
        if self.config.failure_rate_percent is None:
            return
        now = self._clock()
        self._window.append((now, ok))
        while self._window and self._window[0][0] <= now - self.config.window_seconds:
            self._window.popleft()

    def _rate_exceeded(self) -> bool:
        limit = self.config.failure_rate_percent
        if limit is None or len(self._window) < self.config.minimum_calls:
            return False
        failed = sum(1 for _, ok in self._window if not ok)
        return 100.0 * failed / len(self._window) >= limit

    async def call(self, fn: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        """Call `fn(*args, **kwargs)` through the breaker; raises CircuitOpenError without calling when open."""
        probe = self._admit()
        try:
            if self.config.call_timeout is None:
                result = await fn(*args, **kwargs)
            else:
                result = await asyncio.wait_for(fn(*args, **kwargs), self.config.call_timeout)
        except BaseException as exc:
            if self._is_failure(exc):
                self.record_failure(probe=probe)
            elif probe:
                self._probes -= 1  # not a verdict on the target (e.g. cancelled): free the trial slot
            raise
        self.record_success(probe=probe)
        return result


def _retry_on_default(exc: BaseException) -> bool:
    return isinstance(exc, Exception) and not isinstance(exc, CircuitOpenError)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter (module doc); defaults are the studio's: 3 retries, 1 s base."""

    max_retries: int = 3
    base_delay: float = 1.0
    multiplier: float = 2.0
    max_delay: float = 30.0

    def __post_init__(self) -> None:
        if self.max_retries < 0 or self.base_delay < 0 or self.multiplier < 1 or self.max_delay < 0:
            raise ValueError("max_retries, base_delay and max_delay must be >= 0 and multiplier >= 1")

    def ceiling(self, retry: int) -> float:
        """Upper bound of the delay before retry number `retry` (1-based)."""
        return min(self.max_delay, self.base_delay * self.multiplier ** (retry - 1))

    def delay(self, retry: int, rng: random.Random | None = None) -> float:
        """A full-jitter delay before retry number `retry` (1-based)."""
        return (rng or random).uniform(0.0, self.ceiling(retry))

    async def call(self, fn: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        """Call `fn`, retrying retryable exceptions (not an open breaker) after the policy's delays."""
        return await Retrier(self).call(fn, *args, **kwargs)


class Retrier:
    """Runs calls under a `RetryPolicy`, with injectable sleep, random source and retry predicate."""

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        *,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
        retry_on: Callable[[BaseException], bool] = _retry_on_default,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self.delays: list[float] = []
        """Every delay slept so far, in order."""
        self._sleep = sleep
        self._rng = rng
        self._retry_on = retry_on

    async def call(self, fn: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        """Call `fn`; on a retryable exception sleep and try again, up to 1 + `max_retries` attempts."""
        retries = self.policy.max_retries
        for attempt in range(retries + 1):
            try:
                return await fn(*args, **kwargs)
            except Exception as exc:
                if attempt == retries or not self._retry_on(exc):
                    raise
                wait = self.policy.delay(attempt + 1, self._rng)
                # A server that says when to come back (429/503 Retry-After) is not asked earlier.
                retry_after = getattr(exc, "retry_after", None)
                if isinstance(retry_after, int | float) and retry_after > wait:
                    wait = float(retry_after)
                self.delays.append(wait)
                await self._sleep(wait)
        raise AssertionError("unreachable: the loop returns or raises")


class Guard:
    """A breaker and a retrier together: each attempt goes through the breaker; an open breaker fails fast."""

    def __init__(self, breaker: CircuitBreaker, retrier: Retrier | None = None) -> None:
        self.breaker = breaker
        self.retrier = retrier or Retrier()

    async def call(self, fn: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        """Call `fn` with retries, each attempt through the breaker."""

        async def attempt() -> T:
            return await self.breaker.call(fn, *args, **kwargs)

        return await self.retrier.call(attempt)


class StaleCache:
    """The cached fallback: the last good answer per key, served for up to `ttl_seconds` when a call fails."""

    def __init__(self, ttl_seconds: float = 300.0, *, clock: Clock = time.monotonic) -> None:
        if ttl_seconds < 0:
            raise ValueError("ttl_seconds must be >= 0")
        self.ttl_seconds = ttl_seconds
        self.served_stale = 0
        """Times a cached answer stood in for a failed call."""
        self._clock = clock
        self._entries: dict[Hashable, tuple[float, object]] = {}

    async def call(self, key: Hashable, fn: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        """Call `fn`; remember a success under `key`; on failure return a fresh-enough remembered answer or re-raise."""
        try:
            result = await fn(*args, **kwargs)
        except Exception:
            entry = self._entries.get(key)
            if entry is None or self._clock() - entry[0] > self.ttl_seconds:
                raise
            self.served_stale += 1
            return cast(T, entry[1])
        self._entries[key] = (self._clock(), result)
        return result
