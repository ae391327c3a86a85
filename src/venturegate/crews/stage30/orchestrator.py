"""Blue-green cutover in canary steps, watched by a RollbackCoordinator that sends traffic back to blue.

`RollbackCoordinator` is pure: it is fed green's cumulative counters with the time they were read
(`observe(now, counters)`) and says when the error rate over its rolling window has stayed above the
threshold for the configured duration; tests drive it with made-up times. `cutover` runs the canary
steps against a `DeploymentDriver` on the event loop (driver calls go to a worker thread so a load
generator in the same loop keeps its schedule).

The error rate judged is green's own (failed / requests green got in the window), not the whole
frontend's: at a 10% canary step a green failing 10% of its requests is only 1% of all traffic, and
would hide below a 5% line until the 50% step.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from venturegate.core.durations import parse_duration
from venturegate.crews.stage30.driver import DeploymentDriver, TrafficCounters

Clock = Callable[[], float]


@dataclass(frozen=True)
class CanaryConfig:
    """The cutover's knobs; the defaults are the studio's (stage-30 configuration)."""

    steps: tuple[int, ...] = (10, 50, 100)
    soak_seconds: float = 300.0
    """How long each step is watched (`traffic.canary_monitoring_duration`)."""
    error_rate_threshold: float = 5.0
    """Percent (`rollback.error_rate_threshold`)."""
    error_rate_duration: float = 120.0
    """Seconds the error rate must stay above the line (`rollback.error_rate_duration`)."""
    window_seconds: float = 10.0
    """The rolling window the error rate is computed over."""
    sample_interval: float = 1.0
    """How often HAProxy's counters are read (`monitoring.metrics_sampling_interval`, at most)."""
    min_requests: int = 10
    """Fewer green requests than this in the window say nothing yet."""
    drain_timeout: float = 5.0
    """Bound on waiting for green's requests in flight after a rollback."""

    def __post_init__(self) -> None:
        if not self.steps or any(not 1 <= s <= 100 for s in self.steps) or list(self.steps) != sorted(self.steps):
            raise ValueError(f"canary steps must rise within 1..100 (got {list(self.steps)})")
        if min(self.soak_seconds, self.window_seconds, self.sample_interval, self.drain_timeout) <= 0:
            raise ValueError("soak, window, sample interval and drain timeout must be > 0")
        if self.error_rate_duration < 0 or not 0 <= self.error_rate_threshold <= 100:
            raise ValueError("error_rate_duration must be >= 0 and error_rate_threshold within 0..100")

    @classmethod
    def from_config(cls, config: Mapping[str, Any], **overrides: Any) -> CanaryConfig:
        """From the stage-30 configuration keys (durations in seconds), then `overrides`."""
        values: dict[str, Any] = {}
        if "traffic.canary_steps" in config:
            values["steps"] = tuple(int(s) for s in config["traffic.canary_steps"])
        if "traffic.canary_monitoring_duration" in config:
            values["soak_seconds"] = float(config["traffic.canary_monitoring_duration"])
        if "rollback.error_rate_threshold" in config:
            values["error_rate_threshold"] = float(config["rollback.error_rate_threshold"])
        if "rollback.error_rate_duration" in config:
            values["error_rate_duration"] = _seconds(config["rollback.error_rate_duration"])
        if "monitoring.metrics_sampling_interval" in config:
            values["sample_interval"] = float(config["monitoring.metrics_sampling_interval"])
        values.update(overrides)
        return cls(**values)


def _seconds(value: Any) -> float:
    """A duration setting: seconds as a number, or text such as `2m` or `90s`."""
    return float(value) if isinstance(value, int | float) else parse_duration(str(value))


@dataclass(frozen=True)
class Verdict:
    """One observation's reading: the window's error rate, and whether the rollback is due."""

    error_rate: float | None
    """Percent over the window; None while it holds fewer than `min_requests`."""
    requests: int
    above_for: float
    """Seconds the rate has been continuously above the threshold (0 when it is not)."""
    rollback: bool


class RollbackCoordinator:
    """Decides a rollback when green's windowed error rate stays above the threshold for the duration."""

    def __init__(self, config: CanaryConfig) -> None:
        self.config = config
        self._samples: deque[tuple[float, int, int]] = deque()
        self._above_since: float | None = None
        self.decided_at: float | None = None

    def observe(self, now: float, counters: TrafficCounters) -> Verdict:
        """Take green's cumulative counters read at `now` (seconds, any monotonic origin)."""
        self._samples.append((now, counters.requests, counters.failed))
        while len(self._samples) > 2 and self._samples[1][0] <= now - self.config.window_seconds:
            self._samples.popleft()
        _, req0, fail0 = self._samples[0]
        requests, failed = counters.requests - req0, counters.failed - fail0
        rate = 100.0 * failed / requests if requests >= max(1, self.config.min_requests) else None
        if rate is not None and rate > self.config.error_rate_threshold:
            if self._above_since is None:
                self._above_since = now
        elif rate is not None:
            self._above_since = None
        above_for = 0.0 if self._above_since is None else now - self._above_since
        due = self._above_since is not None and above_for >= self.config.error_rate_duration
        if due and self.decided_at is None:
            self.decided_at = now
        return Verdict(rate, requests, above_for, due)

    def reset(self) -> None:
        """Forget the window (after a weight change the counters before it describe another split)."""
        self._samples.clear()
        self._above_since = None


@dataclass(frozen=True)
class StepLog:
    """One canary step as watched: green's share, its requests, failures and error rate."""

    green_percent: int
    seconds: float
    green_requests: int
    green_failed: int
    error_rate: float
    """Percent of green's requests in the step that failed."""


@dataclass(frozen=True)
class RollbackReport:
    """Timings of a rollback to blue, from the decision (seconds)."""

    reason: str
    switch_s: float
    """Until HAProxy accepted the new weights (no new request goes to green)."""
    drain_s: float
    """Until green had no request in flight either: all traffic on blue."""
    blue_healthy: bool
    green_failed_before: int
    """Green's failed requests up to the switch."""
    backend_at_switch: TrafficCounters
    """The backend's counters when all traffic was on blue (diff later readings to count failures after)."""


@dataclass(frozen=True)
class CutoverResult:
    """How the cutover ended: `completed` (green at 100%) or `rolled_back`."""

    status: str
    green_percent: int
    steps: tuple[StepLog, ...]
    rollback: RollbackReport | None = None
    seconds: float = 0.0
    verdicts: int = field(default=0)
    unanswered: int = 0
    """Requests HAProxy could not get any answer for during the cutover (connection or response errors)."""

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return asdict(self)


async def roll_back(
    driver: DeploymentDriver, blue: str, green: str, reason: str, *, drain_timeout: float
) -> RollbackReport:
    """All traffic to blue now; time the switch and the drain of green's requests in flight."""
    t0 = time.perf_counter()
    await asyncio.to_thread(driver.set_weights, 100, 0)
    switch_s = time.perf_counter() - t0
    deadline = t0 + drain_timeout
    green_now = await asyncio.to_thread(driver.counters, green)
    while green_now.in_flight > 0 and time.perf_counter() < deadline:
        await asyncio.sleep(0.002)
        green_now = await asyncio.to_thread(driver.counters, green)
    drain_s = time.perf_counter() - t0
    backend = await asyncio.to_thread(_backend_counters, driver, blue, green)
    healthy = await asyncio.to_thread(driver.health, blue)
    return RollbackReport(reason, switch_s, drain_s, healthy, green_now.failed, backend)


def _backend_counters(driver: DeploymentDriver, blue: str, green: str) -> TrafficCounters:
    b, g = driver.counters(blue), driver.counters(green)
    return TrafficCounters(
        requests=b.requests + g.requests,
        responses_5xx=b.responses_5xx + g.responses_5xx,
        errors=b.errors + g.errors,
        in_flight=b.in_flight + g.in_flight,
        weight=b.weight + g.weight,
        up=b.up and g.up,
    )


async def cutover(
    driver: DeploymentDriver,
    blue: str,
    green: str,
    config: CanaryConfig,
    *,
    on_step: Callable[[StepLog], None] | None = None,
    clock: Clock = time.monotonic,
) -> CutoverResult:
    """Walk `green` (already started and healthy) through the canary steps; roll back to `blue` when told to."""
    if not await asyncio.to_thread(driver.health, green):
        raise RuntimeError(f"green version {green!r} is not healthy; no traffic was moved")
    coordinator = RollbackCoordinator(config)
    errors_before = (await asyncio.to_thread(_backend_counters, driver, blue, green)).errors
    started = clock()
    logs: list[StepLog] = []
    verdicts = 0
    for percent in config.steps:
        await asyncio.to_thread(driver.set_weights, 100 - percent, percent)
        coordinator.reset()
        first = await asyncio.to_thread(driver.counters, green)
        step_start = clock()
        coordinator.observe(step_start, first)
        last = first
        while (now := clock()) - step_start < config.soak_seconds:
            await asyncio.sleep(min(config.sample_interval, max(0.0, config.soak_seconds - (now - step_start))))
            last = await asyncio.to_thread(driver.counters, green)
            verdict = coordinator.observe(clock(), last)
            verdicts += 1
            if verdict.rollback:
                report = await roll_back(
                    driver,
                    blue,
                    green,
                    f"green error rate {verdict.error_rate:.1f}% > {config.error_rate_threshold:g}% "
                    f"for {verdict.above_for:.2f} s at the {percent}% step",
                    drain_timeout=config.drain_timeout,
                )
                logs.append(_step(percent, clock() - step_start, first, last))
                if on_step is not None:
                    on_step(logs[-1])
                unanswered = report.backend_at_switch.errors - errors_before
                return CutoverResult("rolled_back", 0, tuple(logs), report, clock() - started, verdicts, unanswered)
        logs.append(_step(percent, clock() - step_start, first, last))
        if on_step is not None:
            on_step(logs[-1])
    unanswered = (await asyncio.to_thread(_backend_counters, driver, blue, green)).errors - errors_before
    return CutoverResult("completed", config.steps[-1], tuple(logs), None, clock() - started, verdicts, unanswered)


def _step(percent: int, seconds: float, first: TrafficCounters, last: TrafficCounters) -> StepLog:
    requests, failed = last.requests - first.requests, last.failed - first.failed
    return StepLog(percent, seconds, requests, failed, 100.0 * failed / requests if requests else 0.0)
