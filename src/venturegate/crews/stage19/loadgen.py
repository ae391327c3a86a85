"""An open-loop (fixed-rate) HTTP load generator on aiohttp, for loopback targets only.

Every request has a send time computed from the start of the run (step start + i / rate), not from
the previous response. A slow server therefore cannot slow the generator down and hide its own
latency (coordinated omission): requests that cannot get a connection wait for one, and that wait
counts. Each request's latency is measured twice:

- from its **scheduled** send time (what a user arriving on schedule would see; the headline
  `p50_ms`…`max_ms`), and
- from its **actual** send time, once it held a connection (`send_p50_ms`…: the server's service
  time as a closed-loop tool would report it).

Percentiles are exact, not estimated: all latencies are kept (a run is bounded by `max_requests`)
and the p-th percentile is the nearest-rank value, the ⌈p/100 · n⌉-th smallest, so it is always a
latency that was observed. They cover requests that got an HTTP answer (any status); requests that
timed out or failed in transport have no latency and are counted in `errors_by_status` instead.
"""

from __future__ import annotations

import asyncio
import ipaddress
import math
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp

# Leave the scheduler a moment to start all bookkeeping before the first send is due.
_START_LEAD_S = 0.005


class NonLoopbackTargetError(ValueError):
    """A load or fault target that is not on this machine's loopback interface."""


def ensure_loopback(url: str) -> str:
    """Return the host of `url` if it is a loopback address (127.0.0.0/8, ::1, `localhost`), else raise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise NonLoopbackTargetError(f"target {url!r}: only http:// or https:// URLs can be load tested")
    host = parts.hostname or ""
    if host == "localhost":
        return host
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise NonLoopbackTargetError(
            f"target {url!r}: host {host!r} is not a loopback address; load and fault tests only run against "
            "127.0.0.1, ::1 or localhost (run the service, or a proxy to its sandbox, on this machine)"
        )
    return host


@dataclass(frozen=True)
class LoadStep:
    """A stretch of the profile at one fixed request rate."""

    rate: float
    seconds: float
    label: str


@dataclass(frozen=True)
class LoadProfile:
    """A sequence of fixed-rate steps (constant, ramp or spike)."""

    kind: str
    steps: tuple[LoadStep, ...]

    def __post_init__(self) -> None:
        if not self.steps:
            raise ValueError("a load profile needs at least one step")
        for step in self.steps:
            if not (step.rate > 0 and math.isfinite(step.rate)) or not (
                step.seconds > 0 and math.isfinite(step.seconds)
            ):
                raise ValueError(f"step {step.label!r}: rate and seconds must be positive numbers")

    @classmethod
    def constant(cls, rate: float, seconds: float) -> LoadProfile:
        """`rate` requests per second for `seconds`."""
        return cls("constant", (LoadStep(rate, seconds, f"constant {rate:g}/s"),))

    @classmethod
    def ramp(cls, rates: list[float], seconds_each: float) -> LoadProfile:
        """One step per rate, each `seconds_each` long (e.g. 50 → 100 → 150 req/s)."""
        return cls("ramp", tuple(LoadStep(r, seconds_each, f"ramp {r:g}/s") for r in rates))

    @classmethod
    def spike(cls, base: float, peak: float, seconds: float, *, repeats: int = 1) -> LoadProfile:
        """`base`, then `repeats` times (`peak`, `base`): 2·repeats + 1 equal steps over `seconds` in total."""
        if repeats < 1:
            raise ValueError("a spike profile needs at least one spike")
        each = seconds / (2 * repeats + 1)
        steps = [LoadStep(base, each, "base")]
        for n in range(1, repeats + 1):
            steps += [LoadStep(peak, each, f"spike {n}"), LoadStep(base, each, f"recovery {n}")]
        return cls("spike", tuple(steps))

    @property
    def seconds(self) -> float:
        """Nominal length of the whole profile."""
        return sum(s.seconds for s in self.steps)

    def schedule(self, *, max_requests: int, max_seconds: float) -> list[tuple[float, int]]:
        """Send offsets from the start (seconds) with their step index, cut at `max_requests` and `max_seconds`."""
        out: list[tuple[float, int]] = []
        start = 0.0
        for index, step in enumerate(self.steps):
            count = math.ceil(step.rate * step.seconds - 1e-9)
            for i in range(count):
                offset = start + i / step.rate
                if offset >= max_seconds or len(out) >= max_requests:
                    return out
                out.append((offset, index))
            start += step.seconds
        return out


def percentile(sorted_values: list[float], p: float) -> float | None:
    """Nearest-rank percentile of an ascending list (None when empty): the ⌈p/100 · n⌉-th smallest value."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100.0 * len(sorted_values) - 1e-9))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delay-seconds or HTTP-date); None if absent or unreadable."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000.0, 3)


@dataclass(frozen=True)
class RateLimitInfo:
    """Where the target started answering 429, what it asked for, and how much it let through."""

    first_429_rate: float
    """Scheduled rate (req/s) of the step in which the first 429 came."""
    first_429_after_s: float
    """Scheduled offset of the first request answered 429."""
    count_429: int
    retry_after_s: float | None
    """Largest `Retry-After` seen, in seconds (None when no 429 carried one)."""
    retry_after_header: str | None
    """The first `Retry-After` header as sent."""
    highest_clean_rate: float | None
    """Highest step rate (before the first limited step) with no 429; None when the first step was limited."""
    sustainable_rate: float
    """Estimate of the allowed rate: non-429 answers per second during the first limited step."""


@dataclass(frozen=True)
class StepResult:
    """One step of the profile: its requests are those scheduled within it, wherever they completed."""

    label: str
    rate: float
    seconds: float
    requests: int
    responses: int
    throughput: float
    """Answers with a 2xx/3xx status per second of the step (the step's sustained good rate)."""
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    errors_by_status: dict[str, int]
    api_error_rate: float
    """Percent of the step's requests that failed (4xx/5xx or transport)."""


@dataclass(frozen=True)
class LoadResult:
    """The outcome of one run; latencies in milliseconds, rates per second, error rates in percent."""

    url: str
    profile: str
    requests: int
    """Requests scheduled and launched."""
    responses: int
    """Requests that got an HTTP answer (any status)."""
    duration_s: float
    """From the first scheduled send to the last completion."""
    throughput: float
    """Answers per second over the span in which they arrived (≈ the rate when the target keeps up)."""
    send_rate: float
    """Requests actually sent per second."""
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    send_p50_ms: float | None
    send_p95_ms: float | None
    send_p99_ms: float | None
    send_max_ms: float | None
    lag_p99_ms: float | None
    """99th percentile of how late requests were sent after their scheduled time (waiting for a connection)."""
    errors_by_status: dict[str, int]
    """Failed requests by HTTP status (`"503"`) or transport failure (`"timeout"`, `"connection"`)."""
    status_counts: dict[str, int]
    api_error_rate: float
    """Percent of requests answered 4xx/5xx or failing in transport."""
    api_reliability: float
    """Percent of requests answered 2xx/3xx."""
    rate_limit: RateLimitInfo | None
    steps: tuple[StepResult, ...] = field(default=())
    truncated: bool = False
    """The profile was cut by `max_requests` or `max_seconds`."""

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        return asdict(self)

    def max_sustained_rate(self, *, p95_max_ms: float, max_error_rate: float) -> float | None:
        """Highest step rate whose p95 and error rate stayed within the limits (None when none did)."""
        good = [
            s.rate
            for s in self.steps
            if s.p95_ms is not None and s.p95_ms <= p95_max_ms and s.api_error_rate <= max_error_rate
        ]
        return max(good) if good else None


@dataclass
class _Record:
    """Per-request outcomes, indexed like the schedule."""

    n: int
    outcome: list[str] = field(default_factory=list)
    sched_latency: list[float] = field(default_factory=list)
    send_latency: list[float] = field(default_factory=list)
    lag: list[float] = field(default_factory=list)
    sent_at: list[float] = field(default_factory=list)
    done_at: list[float] = field(default_factory=list)
    retry_after: list[str | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        nan = math.nan
        self.outcome = ["timeout"] * self.n
        self.sched_latency = [nan] * self.n
        self.send_latency = [nan] * self.n
        self.lag = [nan] * self.n
        self.sent_at = [nan] * self.n
        self.done_at = [nan] * self.n
        self.retry_after = [None] * self.n


def _is_error(outcome: str) -> bool:
    return not (outcome.isdigit() and 200 <= int(outcome) < 400)


def _summarise_latency(values: list[float]) -> tuple[float | None, float | None, float | None, float | None]:
    ordered = sorted(v for v in values if not math.isnan(v))
    return (
        _ms(percentile(ordered, 50)),
        _ms(percentile(ordered, 95)),
        _ms(percentile(ordered, 99)),
        _ms(ordered[-1] if ordered else None),
    )


async def run_profile(
    url: str,
    profile: LoadProfile,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    max_requests: int = 10_000,
    max_seconds: float = 60.0,
    timeout: float = 5.0,
    connections: int = 100,
) -> LoadResult:
    """Run `profile` against a loopback `url`; at most `max_requests`, sent within `max_seconds` (+ `timeout`)."""
    ensure_loopback(url)
    if max_requests < 1 or max_seconds <= 0 or timeout <= 0 or connections < 1:
        raise ValueError("max_requests and connections must be >= 1, max_seconds and timeout > 0")
    schedule = profile.schedule(max_requests=max_requests, max_seconds=max_seconds)
    nominal = sum(math.ceil(s.rate * s.seconds - 1e-9) for s in profile.steps)
    offsets = [offset for offset, _ in schedule]
    rec = _Record(len(schedule))
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(connections)
    connector = aiohttp.TCPConnector(limit=connections, limit_per_host=connections)
    client_timeout = aiohttp.ClientTimeout(total=timeout)

    async with aiohttp.ClientSession(connector=connector, timeout=client_timeout, auto_decompress=False) as session:
        start = loop.time() + _START_LEAD_S

        async def one(i: int) -> None:
            scheduled = start + offsets[i]
            async with gate:
                sent = loop.time()
                rec.sent_at[i] = sent - start
                rec.lag[i] = sent - scheduled
                try:
                    async with session.request(
                        method, url, headers=headers, data=body, allow_redirects=False
                    ) as response:
                        await response.read()
                        outcome = str(response.status)
                        if response.status == 429:
                            rec.retry_after[i] = response.headers.get("Retry-After")
                except TimeoutError:
                    outcome = "timeout"
                except (aiohttp.ClientError, OSError):
                    outcome = "connection"
                done = loop.time()
            rec.outcome[i] = outcome
            rec.done_at[i] = done - start
            if outcome.isdigit():
                rec.sched_latency[i] = done - scheduled
                rec.send_latency[i] = done - sent

        tasks: list[asyncio.Task[None]] = []
        i, n = 0, len(offsets)
        while i < n:
            now = loop.time()
            due = start + offsets[i]
            if due > now:
                await asyncio.sleep(due - now)
                continue
            # Launch everything that is due now: at high rates one wake-up serves several sends.
            while i < n and start + offsets[i] <= now:
                tasks.append(loop.create_task(one(i)))
                i += 1
        if tasks:
            deadline = start + max_seconds + timeout + 1.0
            _, pending = await asyncio.wait(tasks, timeout=max(0.0, deadline - loop.time()))
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
    return _result(url, profile, schedule, rec, truncated=len(schedule) < nominal)


def run_profile_sync(
    url: str,
    profile: LoadProfile,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    max_requests: int = 10_000,
    max_seconds: float = 60.0,
    timeout: float = 5.0,
    connections: int = 100,
) -> LoadResult:
    """`run_profile` on a fresh event loop (for callers without one)."""
    return asyncio.run(
        run_profile(
            url,
            profile,
            method=method,
            headers=headers,
            body=body,
            max_requests=max_requests,
            max_seconds=max_seconds,
            timeout=timeout,
            connections=connections,
        )
    )


def _step_results(profile: LoadProfile, schedule: list[tuple[float, int]], rec: _Record) -> tuple[StepResult, ...]:
    out: list[StepResult] = []
    for index, step in enumerate(profile.steps):
        members = [i for i, (_, s) in enumerate(schedule) if s == index]
        if not members:
            continue
        outcomes = [rec.outcome[i] for i in members]
        errors = Counter(o for o in outcomes if _is_error(o))
        good = len(outcomes) - sum(errors.values())
        seconds = len(members) / step.rate  # the part of the step that was scheduled
        p50, p95, p99, top = _summarise_latency([rec.sched_latency[i] for i in members])
        out.append(
            StepResult(
                label=step.label,
                rate=step.rate,
                seconds=round(seconds, 6),
                requests=len(members),
                responses=sum(1 for o in outcomes if o.isdigit()),
                throughput=round(good / seconds, 3),
                p50_ms=p50,
                p95_ms=p95,
                p99_ms=p99,
                max_ms=top,
                errors_by_status=dict(sorted(errors.items())),
                api_error_rate=round(100.0 * sum(errors.values()) / len(members), 4),
            )
        )
    return tuple(out)


def _rate_limit(profile: LoadProfile, schedule: list[tuple[float, int]], rec: _Record) -> RateLimitInfo | None:
    limited = [i for i, o in enumerate(rec.outcome) if o == "429"]
    if not limited:
        return None
    first = min(limited, key=lambda i: schedule[i][0])
    step_index = schedule[first][1]
    step = profile.steps[step_index]
    members = [i for i, (_, s) in enumerate(schedule) if s == step_index]
    allowed = sum(1 for i in members if rec.outcome[i].isdigit() and rec.outcome[i] != "429")
    clean = [profile.steps[s].rate for s in range(step_index)]
    headers = [rec.retry_after[i] for i in limited if rec.retry_after[i] is not None]
    waits = [w for w in (parse_retry_after(h) for h in headers) if w is not None]
    return RateLimitInfo(
        first_429_rate=step.rate,
        first_429_after_s=round(schedule[first][0], 6),
        count_429=len(limited),
        retry_after_s=max(waits) if waits else None,
        retry_after_header=headers[0] if headers else None,
        highest_clean_rate=max(clean) if clean else None,
        sustainable_rate=round(min(step.rate, allowed / (len(members) / step.rate)), 3),
    )


def _result(
    url: str, profile: LoadProfile, schedule: list[tuple[float, int]], rec: _Record, *, truncated: bool
) -> LoadResult:
    n = rec.n
    statuses = Counter(rec.outcome)
    errors = {k: v for k, v in statuses.items() if _is_error(k)}
    answered = [i for i in range(n) if rec.outcome[i].isdigit()]
    done = sorted(rec.done_at[i] for i in answered)
    sent = sorted(t for t in rec.sent_at if not math.isnan(t))
    span = done[-1] - done[0] if len(done) > 1 else 0.0
    send_span = sent[-1] - sent[0] if len(sent) > 1 else 0.0
    finished = [t for t in rec.done_at if not math.isnan(t)]
    p50, p95, p99, top = _summarise_latency(rec.sched_latency)
    s50, s95, s99, stop = _summarise_latency(rec.send_latency)
    lags = sorted(v for v in rec.lag if not math.isnan(v))
    failed = sum(errors.values())
    return LoadResult(
        url=url,
        profile=profile.kind,
        requests=n,
        responses=len(answered),
        duration_s=round(max(finished) if finished else 0.0, 6),
        # n answers arriving one per 1/rate span n - 1 gaps.
        throughput=round((len(done) - 1) / span, 3) if span > 0 else float(len(done)),
        send_rate=round((len(sent) - 1) / send_span, 3) if send_span > 0 else float(len(sent)),
        p50_ms=p50,
        p95_ms=p95,
        p99_ms=p99,
        max_ms=top,
        send_p50_ms=s50,
        send_p95_ms=s95,
        send_p99_ms=s99,
        send_max_ms=stop,
        lag_p99_ms=_ms(percentile(lags, 99)),
        errors_by_status=dict(sorted(errors.items())),
        status_counts=dict(sorted(statuses.items())),
        api_error_rate=round(100.0 * failed / n, 4) if n else 0.0,
        api_reliability=round(100.0 * (n - failed) / n, 4) if n else 0.0,
        rate_limit=_rate_limit(profile, schedule, rec),
        steps=_step_results(profile, schedule, rec),
        truncated=truncated,
    )
