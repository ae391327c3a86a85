"""Blue-green cutover in canary steps, watched by a RollbackCoordinator that sends traffic back to blue.

`RollbackCoordinator` is pure: it is fed green's cumulative counters with the time they were read
(`observe(now, counters)`) and says when the error rate over its rolling window has stayed above the
threshold for the configured duration; tests drive it with made-up times. `cutover` runs the canary
steps against a `DeploymentDriver` on the event loop (driver calls go to a worker thread so a load
generator in the same loop keeps its schedule).

The error rate judged is green's own (failed / requests green got in the window), not the whole
frontend's: at a 10% canary step a green failing 10% of its requests is only 1% of all traffic, and
would hide below a 5% line until the 50% step.

Latency is judged from the crew's own probes (`traffic.Prober`): open-loop GETs sent straight to
green over every route in turn, whose p95 over the same rolling window must stay under
`response_time_threshold`; HAProxy's counters carry only averages. Each route is judged on its own
too (`RouteWindow`: the probes plus every request HAProxy logged for green): a route whose error rate
or p95 stays above its line for the duration rolls back even when the aggregate does not.

Besides the rules, the cutover ends at once when HAProxy's health check marks green down, even once
between two readings (its `chkdown` counter; cause `green_down`), when green's weight was set to 0 by
someone else - the `traffic` rollback handler run by an engine rollback (cause `ordered`) - or when
`cancelled()` says so (cause `cancelled`). A step whose figures stay under the rollback lines but
reach their targets (1 % errors, 500 ms p95 by default) ends the cutover `held` at that step.

What clients saw comes from HAProxy's front end: every request and every 5xx, including the 503/504
HAProxy generated itself; `downtime_s` adds up the readings in which the front end served nobody.
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
from venturegate.crews.stage30.haproxy import RequestLog
from venturegate.crews.stage30.routes import OTHER, Route, RouteStats, RouteWindow
from venturegate.crews.stage30.traffic import Load, Prober

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
    """Seconds between two readings of HAProxy (at most 1 s by default, so a `for:` window holds to a reading)."""
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
    target_error_rate: float = 1.0
    """Percent: a step whose error rate (green's, or one route's) reaches it is held, not passed."""
    target_p95_ms: float = 500.0
    """A step whose p95 (green's, or one route's) reaches it is held, not passed."""

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
        if "monitoring.metrics_sampling_interval" in config:  # a coarser setting never slows the watch below 1/s
            values["sample_interval"] = min(1.0, float(config["monitoring.metrics_sampling_interval"]))
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
        self._routes: dict[str, tuple[_Persistence, _Persistence]] = {}
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

    def observe_routes(self, now: float, stats: list[RouteStats]) -> tuple[str, RouteStats, float] | None:
        """Per-route rules: a route above the error-rate or p95 line for the duration; (cause, stats, for)."""
        found = None
        for st in stats:
            err, lat = self._routes.setdefault(st.route, (_Persistence(), _Persistence()))
            err_for = err.update(now, st.error_rate, self.config.error_rate_threshold)
            lat_for = lat.update(now, st.p95_ms, self.config.response_time_threshold)
            if found is None and err.since is not None and err_for >= self.config.error_rate_duration:
                found = ("route_error_rate", st, err_for)
            elif found is None and lat.since is not None and lat_for >= self.config.error_rate_duration:
                found = ("route_latency", st, lat_for)
        return found

    @property
    def pending(self) -> bool:
        """A reading is above its rollback line and its duration has not run out yet."""
        routes = any(e.since is not None or lat.since is not None for e, lat in self._routes.values())
        return self._errors.since is not None or self._latency.since is not None or routes

    def reset(self) -> None:
        """Forget the window (after a weight change the counters before it describe another split)."""
        self._samples.clear()
        self._errors = _Persistence()
        self._latency = _Persistence()
        self._routes = {}


@dataclass(frozen=True)
class RouteStep:
    """One route's figures for green over one canary step."""

    route: str
    requests: int
    failed: int
    error_rate: float
    p95_ms: float | None


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
    routes: tuple[RouteStep, ...] = ()
    """Green's figures per route over the whole step (HAProxy's log and the probes)."""
    client_failed: int = 0
    """Requests the front end answered >= 500 during the step (HAProxy's frontend counter)."""
    passed: bool = True
    """Every figure of the step under its target (error rate, p95; per route too)."""
    held_because: tuple[str, ...] = ()


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
    """error_rate, latency, route_error_rate, route_latency, green_down, ordered (someone else moved green's
    weight to 0) or cancelled (the job was cancelled or the process told to stop)."""
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
    """How the cutover ended: `completed` (green at 100%, every step under target), `held` (a step's figures
    were above target but under the rollback lines: traffic stays at that step for a person to decide),
    or `rolled_back` (all traffic back on blue)."""

    status: str
    green_percent: int
    steps: tuple[StepLog, ...]
    rollback: RollbackReport | None = None
    seconds: float = 0.0
    verdicts: int = field(default=0)
    unanswered: int = 0
    """Requests HAProxy could not get any answer for during the cutover (connection or response errors)."""
    client_requests: int = 0
    """Requests the front end received during the cutover (every client: the crew's and production's)."""
    client_failed: int = 0
    """Of those, answered >= 500 by HAProxy or a server (HAProxy's frontend counter, its own 503/504 too)."""
    refused: int = 0
    """The crew's own front-end requests that got no HTTP answer at all (HAProxy cannot count those)."""
    downtime_s: float = 0.0
    """Seconds of readings in which the front end answered only failures (nobody was served)."""
    green_down_transitions: int = 0
    """Times HAProxy's health check marked green down during the cutover."""
    probe_failures: tuple[str, ...] = ()
    """The last failures the probes saw, in words."""
    routes: tuple[str, ...] = ()
    """The routes exercised and judged."""
    held_because: tuple[str, ...] = ()

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


class GreenUnhealthy(RuntimeError):
    """Green failed its health check before any traffic moved."""


@dataclass
class _Reading:
    """What one reading of HAProxy changed: front-end deltas, and downtime when nobody was served."""

    at: float
    front: TrafficCounters | None


async def cutover(
    driver: DeploymentDriver,
    blue: str,
    green: str,
    config: CanaryConfig,
    *,
    on_step: Callable[[StepLog], None] | None = None,
    clock: Clock = time.monotonic,
    probe_url: str | None = None,
    routes: tuple[Route, ...] = (),
    route_of: Callable[[str], str] | None = None,
    request_log: RequestLog | None = None,
    green_server: str | None = None,
    load_rate: float = 0.0,
    after_rollback_s: float = 0.0,
    cancelled: Callable[[], bool] | None = None,
) -> CutoverResult:
    """Walk `green` (already started and healthy) through the canary steps; roll back to `blue` when told to.

    `probe_url` (green's own address, not the switch's) turns on the probes over `routes` (default `/`):
    the p95 rule and per-route judging. `request_log` with `green_server` (green's name in it) adds every
    request clients sent green through the front end to the per-route figures (`route_of` maps a path to
    its route). `load_rate` > 0 sends that many requests per second over the routes through the front end
    (kept up `after_rollback_s` after a rollback, to show blue serving). `cancelled` is asked at every
    reading; when it says yes, traffic goes back to blue and the cutover ends `cancelled`.
    """
    if not await asyncio.to_thread(driver.health, green):
        raise GreenUnhealthy(f"green version {green!r} is not healthy; no traffic was moved")
    chosen = routes or (Route("/", "/"),)
    # Each route gets 1/len(routes) of the probes: its window is long enough for `min_requests` of them.
    span = max(config.window_seconds, 1.5 * config.min_requests * len(chosen) * config.probe_interval)
    window = RouteWindow(span, config.min_requests, config.min_probes)
    prober = (
        Prober(probe_url, chosen, window, config.probe_interval, max(2.0, config.response_time_threshold / 250), clock)
        if probe_url
        else None
    )
    load = Load(driver.url, chosen, load_rate) if load_rate > 0 else None
    tasks = [asyncio.create_task(x.run()) for x in (prober, load) if x is not None]
    try:
        result = await _walk(driver, blue, green, config, on_step, clock, prober, window, cancelled,
                             (request_log, green_server, route_of or (lambda p: p)), load)  # fmt: skip
        if result.rollback is not None and after_rollback_s > 0:
            await asyncio.sleep(after_rollback_s)
        return result
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _step_routes(window: RouteWindow, before: dict[str, list[int]], now: float) -> tuple[RouteStep, ...]:
    p95s = {st.route: st.p95_ms for st in window.stats(now)}
    out = []
    for route, (requests, failed) in sorted(window.totals.items()):
        r0, f0 = before.get(route, (0, 0))
        n, f = requests - r0, failed - f0
        if n:
            out.append(RouteStep(route, n, f, 100.0 * f / n, p95s.get(route)))
    return tuple(out)


def _held_because(step: StepLog, config: CanaryConfig) -> tuple[str, ...]:
    """The step's figures at or above their targets (and under the rollback lines, or it had rolled back)."""
    why = []
    if step.green_requests >= config.min_requests and step.error_rate >= config.target_error_rate:
        why.append(f"green error rate {step.error_rate:.2f}% >= target {config.target_error_rate:g}%")
    if step.p95_ms is not None and step.p95_ms >= config.target_p95_ms:
        why.append(f"green p95 {step.p95_ms:.0f} ms >= target {config.target_p95_ms:g} ms")
    for r in step.routes:
        if r.requests >= config.min_requests and r.error_rate >= config.target_error_rate:
            why.append(f"route {r.route} error rate {r.error_rate:.2f}% ({r.failed}/{r.requests}) "
                       f">= target {config.target_error_rate:g}%")  # fmt: skip
        if r.p95_ms is not None and r.p95_ms >= config.target_p95_ms:
            why.append(f"route {r.route} p95 {r.p95_ms:.0f} ms >= target {config.target_p95_ms:g} ms")
    return tuple(why)


async def _walk(
    driver: DeploymentDriver,
    blue: str,
    green: str,
    config: CanaryConfig,
    on_step: Callable[[StepLog], None] | None,
    clock: Clock,
    prober: Prober | None,
    window: RouteWindow,
    cancelled: Callable[[], bool] | None,
    log: tuple[RequestLog | None, str | None, Callable[[str], str]],
    load: Load | None,
) -> CutoverResult:
    coordinator = RollbackCoordinator(config)
    request_log, green_server, route_of = log
    errors_before = (await asyncio.to_thread(_backend_counters, driver, blue, green)).errors
    front0 = await asyncio.to_thread(driver.frontend_counters)
    prev = _Reading(clock(), front0)
    started = prev.at
    downtime = 0.0
    logs: list[StepLog] = []
    verdicts = 0
    green_first = await asyncio.to_thread(driver.counters, green)

    def p95(at: float) -> float | None:
        return prober.p95(at, config.window_seconds, config.min_probes) if prober is not None else None

    def end_step(percent: int, step_start: float, first: TrafficCounters, last: TrafficCounters,
                 routes0: dict[str, list[int]], front_start: TrafficCounters | None) -> StepLog:  # fmt: skip
        now = clock()
        requests, failed = last.requests - first.requests, last.failed - first.failed
        client_failed = (prev.front.failed - front_start.failed) if prev.front and front_start else 0
        step = StepLog(percent, now - step_start, requests, failed, 100.0 * failed / requests if requests else 0.0,
                       p95(now), _step_routes(window, routes0, now), client_failed)  # fmt: skip
        held = _held_because(step, config)
        step = StepLog(**{**step.__dict__, "passed": not held, "held_because": held})
        logs.append(step)
        if on_step is not None:
            on_step(step)
        return step

    async def finish(
        status: str, percent: int, report: RollbackReport | None, held: tuple[str, ...] = ()
    ) -> CutoverResult:
        front1 = await asyncio.to_thread(driver.frontend_counters)
        unanswered = (
            report.backend_at_switch.errors if report is not None
            else (await asyncio.to_thread(_backend_counters, driver, blue, green)).errors
        ) - errors_before  # fmt: skip
        green_now = await asyncio.to_thread(driver.counters, green)
        return CutoverResult(
            status, percent, tuple(logs), report, clock() - started, verdicts, unanswered,
            client_requests=front1.requests - front0.requests, client_failed=front1.failed - front0.failed,
            refused=load.refused if load is not None else 0, downtime_s=downtime,
            green_down_transitions=green_now.down_transitions - green_first.down_transitions,
            probe_failures=tuple(prober.failures) if prober is not None else (),
            routes=tuple(prober.routes[i].template for i in range(len(prober.routes))) if prober else (),
            held_because=held,
        )  # fmt: skip

    for percent in config.steps:
        await asyncio.to_thread(driver.set_weights, 100 - percent, percent)
        coordinator.reset()
        first = await asyncio.to_thread(driver.counters, green)
        step_start = clock()
        coordinator.observe(step_start, first)
        routes0 = {k: list(v) for k, v in window.totals.items()}
        front_start = prev.front
        last = first
        # A step lasts its soak; a breach still running its duration at the end keeps it watched until
        # the rule decides (bounded by the duration and one reading).
        limit = config.soak_seconds + config.error_rate_duration + config.sample_interval
        while (now := clock()) - step_start < config.soak_seconds or (coordinator.pending and now - step_start < limit):
            await asyncio.sleep(max(0.001, min(config.sample_interval, config.soak_seconds - (now - step_start))))
            last = await asyncio.to_thread(driver.counters, green)
            front = await asyncio.to_thread(driver.frontend_counters)
            at = clock()
            if prev.front is not None:
                served = (front.requests - prev.front.requests) - (front.failed - prev.front.failed)
                if front.failed > prev.front.failed and served <= 0:
                    downtime += at - prev.at
            prev = _Reading(at, front)
            if request_log is not None and green_server is not None:
                for r in await asyncio.to_thread(request_log.read):
                    if r.server == green_server:
                        window.add(at, route_of(r.path), r.status >= 500, r.server_ms)
            verdict = coordinator.observe(at, last, p95(at))
            by_route = coordinator.observe_routes(at, [s for s in window.stats(at) if s.route != OTHER])
            verdicts += 1
            report: RollbackReport | None = None
            flaps = last.down_transitions - first.down_transitions
            if cancelled is not None and await asyncio.to_thread(cancelled):
                report = await roll_back(
                    driver, blue, green, f"cancelled at the {percent}% step: traffic back on blue",
                    drain_timeout=config.drain_timeout, cause="cancelled", decided_at=at,
                )  # fmt: skip
            elif last.weight == 0:
                report = await roll_back(
                    driver, blue, green, f"green's weight was set to 0 from outside at the {percent}% step "
                    "(an ordered rollback)", drain_timeout=config.drain_timeout, switch=False, cause="ordered",
                    decided_at=at,
                )  # fmt: skip
            elif not last.up or flaps > 0:
                what = "is down" if not last.up else f"was marked down {flaps} time(s)"
                report = await roll_back(
                    driver, blue, green, f"green {what} (HAProxy's health check) at the {percent}% step",
                    drain_timeout=config.drain_timeout, cause="green_down", decided_at=at,
                )  # fmt: skip
            elif verdict.rollback:
                if verdict.cause == "latency":
                    value, line, above, unit, what = (verdict.p95_ms, config.response_time_threshold,
                                                      verdict.latency_above_for, "ms", "p95")  # fmt: skip
                else:
                    value, line, above, unit = verdict.error_rate, config.error_rate_threshold, verdict.above_for, "%"
                    what = "error rate"
                report = await roll_back(
                    driver, blue, green,
                    f"green {what} {value or 0:.1f}{unit} > {line:g}{unit} for {above:.2f} s at the {percent}% step",
                    drain_timeout=config.drain_timeout, cause=verdict.cause or "error_rate", value=value,
                    above_since=coordinator.above_since, first_value=coordinator.first_value, decided_at=at,
                )  # fmt: skip
            elif by_route is not None:
                cause, st, above = by_route
                if cause == "route_latency":
                    value, text = st.p95_ms, f"p95 {st.p95_ms or 0:.0f} ms > {config.response_time_threshold:g} ms"
                else:
                    value = st.error_rate
                    text = (f"error rate {st.error_rate or 0:.1f}% ({st.failed}/{st.requests}) > "
                            f"{config.error_rate_threshold:g}%")  # fmt: skip
                report = await roll_back(
                    driver, blue, green, f"route {st.route} on green: {text} for {above:.2f} s at the {percent}% step",
                    drain_timeout=config.drain_timeout, cause=cause, value=value, decided_at=at,
                )  # fmt: skip
            if report is not None:
                end_step(percent, step_start, first, last, routes0, front_start)
                return await finish("cancelled" if report.cause == "cancelled" else "rolled_back", 0, report)
        step = end_step(percent, step_start, first, last, routes0, front_start)
        if step.held_because:
            return await finish("held", percent, None, step.held_because)
    return await finish("completed", config.steps[-1], None)
