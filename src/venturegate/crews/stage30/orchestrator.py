"""Blue-green cutover in canary steps, watched by a RollbackCoordinator that sends traffic back to blue.

`RollbackCoordinator` is pure: it is fed green's cumulative counters with the time they were read
(`observe(now, counters)`) and says when the error rate over its rolling window has stayed above the
threshold for the configured duration; tests drive it with made-up times. `cutover` runs the canary
steps against a `DeploymentDriver` on the event loop (driver calls go to a worker thread so a load
generator in the same loop keeps its schedule).

The error rate judged is green's own (failed / requests green got in the window), not the whole
frontend's: at a 10% canary step a green failing 10% of its requests is only 1% of all traffic, and
would hide below a 5% line until the 50% step.

Latency is judged from the orchestrator's own probes (`Prober`): open-loop GETs sent straight to
green at a fixed interval, whose p95 over the same rolling window must stay under
`response_time_threshold`; HAProxy's counters carry only averages. Besides the two rules, the
cutover ends at once when HAProxy sees green down (cause `green_down`) or when green's weight was
set to 0 by someone else - the `traffic` rollback handler run by an engine rollback the Chairman
ordered (cause `ordered`).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import aiohttp

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
    response_time_threshold: float = 500.0
    """p95 in ms above which, for `error_rate_duration`, traffic goes back (`rollback.response_time_threshold`)."""
    probe_interval: float = 0.1
    """Seconds between two latency probes sent straight to green."""
    min_probes: int = 5
    """Fewer answered probes than this in the window say nothing about p95 yet."""

    def __post_init__(self) -> None:
        if not self.steps or any(not 1 <= s <= 100 for s in self.steps) or list(self.steps) != sorted(self.steps):
            raise ValueError(f"canary steps must rise within 1..100 (got {list(self.steps)})")
        if min(self.soak_seconds, self.window_seconds, self.sample_interval, self.drain_timeout) <= 0:
            raise ValueError("soak, window, sample interval and drain timeout must be > 0")
        if self.response_time_threshold <= 0 or self.probe_interval <= 0:
            raise ValueError("response_time_threshold and probe_interval must be > 0")
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
        if "rollback.response_time_threshold" in config:
            values["response_time_threshold"] = float(config["rollback.response_time_threshold"])
        if "monitoring.metrics_sampling_interval" in config:
            values["sample_interval"] = float(config["monitoring.metrics_sampling_interval"])
        values.update(overrides)
        return cls(**values)


def _seconds(value: Any) -> float:
    """A duration setting: seconds as a number, or text such as `2m` or `90s`."""
    return float(value) if isinstance(value, int | float) else parse_duration(str(value))


@dataclass(frozen=True)
class Verdict:
    """One observation's reading: the window's error rate and p95, and whether the rollback is due."""

    error_rate: float | None
    """Percent over the window; None while it holds fewer than `min_requests`."""
    requests: int
    above_for: float
    """Seconds the error rate has been continuously above the threshold (0 when it is not)."""
    rollback: bool
    p95_ms: float | None = None
    """Green's probe p95 over the window; None without enough probes."""
    latency_above_for: float = 0.0
    cause: str | None = None
    """`error_rate` or `latency` when the rollback is due."""


class _Persistence:
    """How long a reading has stayed above its line (unknown readings neither start nor reset the clock)."""

    def __init__(self) -> None:
        self.since: float | None = None
        self.first: float | None = None
        """The reading when it went above (what a trigger fed the same data saw first)."""

    def update(self, now: float, value: float | None, line: float) -> float:
        if value is not None and value > line:
            if self.since is None:
                self.since, self.first = now, value
        elif value is not None:
            self.since = self.first = None
        return 0.0 if self.since is None else now - self.since


class RollbackCoordinator:
    """Decides a rollback when green's windowed error rate, or its p95, stays above its line for the duration."""

    def __init__(self, config: CanaryConfig) -> None:
        self.config = config
        self._samples: deque[tuple[float, int, int]] = deque()
        self._errors = _Persistence()
        self._latency = _Persistence()
        self.decided_at: float | None = None
        self.cause: str | None = None

    @property
    def above_since(self) -> float | None:
        """When the reading that decided (or the error rate, before a decision) went above its line."""
        return self._latency.since if self.cause == "latency" else self._errors.since

    @property
    def first_value(self) -> float | None:
        """That reading's value at `above_since`."""
        return self._latency.first if self.cause == "latency" else self._errors.first

    def observe(self, now: float, counters: TrafficCounters, p95_ms: float | None = None) -> Verdict:
        """Take green's cumulative counters (and probe p95, if any) read at `now` (seconds, monotonic)."""
        self._samples.append((now, counters.requests, counters.failed))
        while len(self._samples) > 2 and self._samples[1][0] <= now - self.config.window_seconds:
            self._samples.popleft()
        _, req0, fail0 = self._samples[0]
        requests, failed = counters.requests - req0, counters.failed - fail0
        rate = 100.0 * failed / requests if requests >= max(1, self.config.min_requests) else None
        above_for = self._errors.update(now, rate, self.config.error_rate_threshold)
        slow_for = self._latency.update(now, p95_ms, self.config.response_time_threshold)
        cause = None
        if self._errors.since is not None and above_for >= self.config.error_rate_duration:
            cause = "error_rate"
        elif self._latency.since is not None and slow_for >= self.config.error_rate_duration:
            cause = "latency"
        if cause is not None and self.decided_at is None:
            self.decided_at, self.cause = now, cause
        return Verdict(rate, requests, above_for, cause is not None, p95_ms, slow_for, cause)

    def reset(self) -> None:
        """Forget the window (after a weight change the counters before it describe another split)."""
        self._samples.clear()
        self._errors = _Persistence()
        self._latency = _Persistence()


def nearest_rank(values: list[float], pct: float) -> float:
    """The nearest-rank percentile: the ceil(pct/100 * n)-th smallest value (always an observed one)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


class Prober:
    """Open-loop GETs straight to green every `interval` seconds; p95 of those answered within the window."""

    def __init__(self, url: str, config: CanaryConfig, clock: Clock = time.monotonic) -> None:
        self.url = url
        self.config = config
        self.clock = clock
        self._done: deque[tuple[float, float]] = deque()
        self.sent = 0
        self.failed = 0

    def p95(self, now: float) -> float | None:
        """p95 (ms) of the probes answered in the last `window_seconds`; None with fewer than `min_probes`."""
        while self._done and self._done[0][0] <= now - self.config.window_seconds:
            self._done.popleft()
        if len(self._done) < self.config.min_probes:
            return None
        return nearest_rank([ms for _, ms in self._done], 95)

    async def run(self) -> None:
        """Probe until cancelled (at most 32 probes in flight: a stalled green cannot pile them up)."""
        timeout = aiohttp.ClientTimeout(total=max(2.0, self.config.response_time_threshold / 1000 * 4))
        in_flight: set[asyncio.Task[None]] = set()
        async with aiohttp.ClientSession(timeout=timeout) as session:
            try:
                start = time.perf_counter()
                while True:
                    if len(in_flight) < 32:
                        task = asyncio.create_task(self._probe(session))
                        in_flight.add(task)
                        task.add_done_callback(in_flight.discard)
                    self.sent += 1
                    next_at = start + self.sent * self.config.probe_interval
                    await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
            finally:
                for task in list(in_flight):
                    task.cancel()
                await asyncio.gather(*in_flight, return_exceptions=True)

    async def _probe(self, session: aiohttp.ClientSession) -> None:
        t0 = time.perf_counter()
        try:
            async with session.get(self.url) as response:
                await response.read()
        except (aiohttp.ClientError, OSError, TimeoutError):
            self.failed += 1
            return
        self._done.append((self.clock(), (time.perf_counter() - t0) * 1000))


@dataclass(frozen=True)
class StepLog:
    """One canary step as watched: green's share, its requests, failures and error rate."""

    green_percent: int
    seconds: float
    green_requests: int
    green_failed: int
    error_rate: float
    """Percent of green's requests in the step that failed."""
    p95_ms: float | None = None
    """Green's probe p95 at the end of the step (None without probes)."""


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
    cause: str = "error_rate"
    """error_rate, latency, green_down or ordered (someone else moved green's weight to 0)."""
    value: float | None = None
    """The reading that decided (percent or ms), when a rule decided."""
    above_since: float | None = None
    """Clock time the reading went above its line (the cutover's `clock`)."""
    first_value: float | None = None
    """The reading at `above_since`."""
    decided_at: float | None = None
    """Clock time of the decision."""


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
    driver: DeploymentDriver,
    blue: str,
    green: str,
    reason: str,
    *,
    drain_timeout: float,
    switch: bool = True,
    **facts: Any,
) -> RollbackReport:
    """All traffic to blue now (unless already done: `switch=False`); time the switch and the drain."""
    t0 = time.perf_counter()
    if switch:
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
    return RollbackReport(reason, switch_s, drain_s, healthy, green_now.failed, backend, **facts)


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
    probe_url: str | None = None,
) -> CutoverResult:
    """Walk `green` (already started and healthy) through the canary steps; roll back to `blue` when told to.

    `probe_url` (green's own address, not the switch's) turns on the latency probes and the p95 rule.
    """
    if not await asyncio.to_thread(driver.health, green):
        raise RuntimeError(f"green version {green!r} is not healthy; no traffic was moved")
    prober = Prober(probe_url, config, clock) if probe_url else None
    probing = asyncio.create_task(prober.run()) if prober is not None else None
    try:
        return await _walk(driver, blue, green, config, on_step, clock, prober)
    finally:
        if probing is not None:
            probing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await probing


async def _walk(
    driver: DeploymentDriver,
    blue: str,
    green: str,
    config: CanaryConfig,
    on_step: Callable[[StepLog], None] | None,
    clock: Clock,
    prober: Prober | None,
) -> CutoverResult:
    coordinator = RollbackCoordinator(config)
    errors_before = (await asyncio.to_thread(_backend_counters, driver, blue, green)).errors
    started = clock()
    logs: list[StepLog] = []
    verdicts = 0

    def end_step(percent: int, step_start: float, first: TrafficCounters, last: TrafficCounters) -> None:
        p95 = prober.p95(clock()) if prober is not None else None
        logs.append(_step(percent, clock() - step_start, first, last, p95))
        if on_step is not None:
            on_step(logs[-1])

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
            at = clock()
            verdict = coordinator.observe(at, last, prober.p95(at) if prober is not None else None)
            verdicts += 1
            report: RollbackReport | None = None
            if last.weight == 0:
                report = await roll_back(
                    driver, blue, green, f"green's weight was set to 0 from outside at the {percent}% step "
                    "(an ordered rollback)", drain_timeout=config.drain_timeout, switch=False, cause="ordered",
                    decided_at=at,
                )  # fmt: skip
            elif not last.up:
                report = await roll_back(
                    driver, blue, green, f"green is down (HAProxy's health check) at the {percent}% step",
                    drain_timeout=config.drain_timeout, cause="green_down", decided_at=at,
                )  # fmt: skip
            elif verdict.rollback:
                if verdict.cause == "latency":
                    value, line, above, unit = (
                        verdict.p95_ms,
                        config.response_time_threshold,
                        verdict.latency_above_for,
                        "ms",
                    )
                    what = "p95"
                else:
                    value, line, above, unit = verdict.error_rate, config.error_rate_threshold, verdict.above_for, "%"
                    what = "error rate"
                report = await roll_back(
                    driver, blue, green,
                    f"green {what} {value or 0:.1f}{unit} > {line:g}{unit} for {above:.2f} s at the {percent}% step",
                    drain_timeout=config.drain_timeout, cause=verdict.cause or "error_rate", value=value,
                    above_since=coordinator.above_since, first_value=coordinator.first_value, decided_at=at,
                )  # fmt: skip
            if report is not None:
                end_step(percent, step_start, first, last)
                unanswered = report.backend_at_switch.errors - errors_before
                return CutoverResult("rolled_back", 0, tuple(logs), report, clock() - started, verdicts, unanswered)
        end_step(percent, step_start, first, last)
    unanswered = (await asyncio.to_thread(_backend_counters, driver, blue, green)).errors - errors_before
    return CutoverResult("completed", config.steps[-1], tuple(logs), None, clock() - started, verdicts, unanswered)


def _step(percent: int, seconds: float, first: TrafficCounters, last: TrafficCounters, p95_ms: float | None) -> StepLog:
    requests, failed = last.requests - first.requests, last.failed - first.failed
    return StepLog(percent, seconds, requests, failed, 100.0 * failed / requests if requests else 0.0, p95_ms)
