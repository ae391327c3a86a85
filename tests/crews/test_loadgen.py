"""The open-loop load generator against real aiohttp servers on loopback."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from aiohttp import web

from venturegate.crews.stage19.faultproxy import FaultProxy, ServedApp, serve_app
from venturegate.crews.stage19.loadgen import (
    LoadProfile,
    NonLoopbackTargetError,
    ensure_loopback,
    parse_retry_after,
    percentile,
    run_profile,
    run_profile_sync,
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _serve(handler: Handler) -> ServedApp:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    return serve_app(app)


def delayed(seconds: float) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        await asyncio.sleep(seconds)
        return web.Response(text="ok")

    return handle


@pytest.fixture
def stalling() -> Iterator[ServedApp]:
    """Serves one request at a time in 2 ms, except the 30th, which holds the server for 0.5 s."""
    with _stalling() as served:
        yield served


@contextmanager
def _stalling() -> Iterator[ServedApp]:
    lock = asyncio.Lock()
    counter = itertools.count(1)

    async def handle(request: web.Request) -> web.Response:
        async with lock:
            await asyncio.sleep(0.5 if next(counter) == 30 else 0.002)
        return web.Response(text="ok")

    with _serve(handle) as served:
        yield served


def test_slow_server_does_not_slow_the_sender() -> None:
    with _serve(delayed(0.2)) as served:
        result = run_profile_sync(served.base_url + "/", LoadProfile.constant(60, 1.0))
    assert result.requests == 60 and result.responses == 60
    # A closed-loop client with one connection would manage 5 req/s against a 200 ms server.
    assert result.send_rate == pytest.approx(60, rel=0.1)
    assert result.throughput == pytest.approx(60, rel=0.15)
    assert result.p50_ms is not None and 200 <= result.p50_ms < 300
    assert result.api_reliability == 100.0 and result.api_error_rate == 0.0


def test_a_stall_shows_in_latency_from_schedule_while_the_rate_holds() -> None:
    with _stalling() as served:
        result = run_profile_sync(served.base_url + "/", LoadProfile.constant(100, 1.5))
    if result.lag_p99_ms is not None and result.lag_p99_ms >= 100:
        # A sender that waits for the stalled server lags on every run. A client lag on one run only is the
        # machine stalling this process (a fresh-clone CI run measured 626 ms once): measure once more.
        with _stalling() as served:
            result = run_profile_sync(served.base_url + "/", LoadProfile.constant(100, 1.5))
    assert result.requests == 150
    assert result.send_rate == pytest.approx(100, rel=0.1)
    assert result.throughput == pytest.approx(100, rel=0.2)
    assert result.lag_p99_ms is not None and result.lag_p99_ms < 100
    # Requests scheduled during the stall queue at the server: their latency grows.
    assert result.p99_ms is not None and result.p99_ms >= 400
    assert result.p50_ms is not None and result.p50_ms < 100


def test_with_one_connection_send_latency_hides_the_stall_but_scheduled_latency_does_not(
    stalling: ServedApp,
) -> None:
    result = run_profile_sync(stalling.base_url + "/", LoadProfile.constant(100, 1.0), connections=1)
    assert result.send_p95_ms is not None and result.send_p95_ms < 100  # coordinated omission
    assert result.p95_ms is not None and result.p95_ms >= 200  # what users arriving on time saw
    assert result.lag_p99_ms is not None and result.lag_p99_ms >= 300


def test_percentiles_against_known_latencies() -> None:
    counter = itertools.count(1)

    async def handle(request: web.Request) -> web.Response:
        # Every tenth request takes 250 ms, the rest 20 ms.
        await asyncio.sleep(0.25 if next(counter) % 10 == 0 else 0.02)
        return web.Response(text="ok")

    with _serve(handle) as served:
        result = run_profile_sync(served.base_url + "/", LoadProfile.constant(100, 1.0))
    assert result.responses == 100
    assert result.p50_ms is not None and 20 <= result.p50_ms < 60
    # 10% take 250 ms, so the 95th and 99th percentiles are slow ones and the 90th-ranked value is not.
    assert result.p95_ms is not None and 250 <= result.p95_ms < 330
    assert result.p99_ms is not None and result.max_ms is not None
    assert 250 <= result.p99_ms <= result.max_ms < 400


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 95) == 95.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([3.0, 7.0], 50) == 3.0
    assert percentile([3.0, 7.0], 51) == 7.0
    assert percentile([], 95) is None


def test_rate_limit_is_found_with_retry_after() -> None:
    with _serve(delayed(0.0)) as served, FaultProxy(served.base_url) as proxy:
        proxy.set_mode("rate_limit", rate=60.0, burst=5, retry_after_s=3)
        result = run_profile_sync(proxy.url("/"), LoadProfile.ramp([30, 120], 1.0))
    limit = result.rate_limit
    assert limit is not None
    assert limit.first_429_rate == 120
    assert limit.highest_clean_rate == 30
    assert limit.retry_after_s == 3.0 and limit.retry_after_header == "3"
    assert limit.first_429_after_s >= 1.0
    assert 40 <= limit.sustainable_rate <= 90  # 60/s plus the burst, give or take scheduling
    assert limit.count_429 == result.errors_by_status["429"] > 0
    clean, limited = result.steps
    assert clean.errors_by_status == {} and clean.requests == 30
    assert limited.errors_by_status["429"] == limit.count_429 and limited.requests == 120
    assert result.api_error_rate == pytest.approx(100 * limit.count_429 / 150, abs=0.01)
    assert result.max_sustained_rate(p95_max_ms=1000, max_error_rate=1.0) == 30


def test_transport_errors_are_counted_as_timeout_and_connection() -> None:
    with _serve(delayed(1.0)) as served:
        result = run_profile_sync(served.base_url + "/", LoadProfile.constant(20, 0.25), timeout=0.2)
    assert result.errors_by_status == {"timeout": 5}
    assert result.responses == 0 and result.p95_ms is None and result.api_reliability == 0.0
    with _serve(delayed(0.0)) as gone:
        url = gone.base_url + "/"
    refused = run_profile_sync(url, LoadProfile.constant(20, 0.25))
    assert refused.errors_by_status == {"connection": 5}


def test_profiles_and_bounds() -> None:
    ramp = LoadProfile.ramp([50, 100, 150], 1.0)
    assert [s.rate for s in ramp.steps] == [50, 100, 150] and ramp.seconds == 3.0
    assert len(ramp.schedule(max_requests=10_000, max_seconds=60)) == 300
    spike = LoadProfile.spike(10, 40, 3.0, repeats=1)
    assert [(s.rate, s.seconds) for s in spike.steps] == [(10, 1.0), (40, 1.0), (10, 1.0)]
    assert len(LoadProfile.spike(10, 40, 5.0, repeats=2).steps) == 5
    assert len(ramp.schedule(max_requests=70, max_seconds=60)) == 70
    cut = ramp.schedule(max_requests=10_000, max_seconds=1.5)
    assert len(cut) == 50 + 50 and max(offset for offset, _ in cut) < 1.5
    with pytest.raises(ValueError):
        LoadProfile.constant(0, 1)
    with pytest.raises(ValueError):
        LoadProfile.ramp([], 1)


def test_runs_are_bounded_and_split_by_step() -> None:
    with _serve(delayed(0.0)) as served:
        result = run_profile_sync(
            served.base_url + "/", LoadProfile.spike(20, 80, 0.9), max_requests=25, max_seconds=10
        )
    assert result.requests == 25 and result.truncated
    assert [s.label for s in result.steps] == ["base", "spike 1"]
    assert [s.requests for s in result.steps] == [6, 19]
    assert sum(result.status_counts.values()) == 25


def test_async_entry_point_and_post_body() -> None:
    seen: list[bytes] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append(await request.read())
        return web.Response(status=500 if len(seen) % 2 else 200)

    with _serve(handle) as served:
        result = asyncio.run(
            run_profile(
                served.base_url + "/x",
                LoadProfile.constant(40, 0.25),
                method="POST",
                body=b'{"a": 1}',
                headers={"Content-Type": "application/json"},
            )
        )
    assert seen == [b'{"a": 1}'] * 10
    assert result.errors_by_status == {"500": 5} and result.api_reliability == 50.0


@pytest.mark.parametrize(
    "url", ["http://example.com/", "http://10.0.0.1:8080/", "http://169.254.169.254/", "ftp://127.0.0.1/"]
)
def test_non_loopback_targets_are_refused(url: str) -> None:
    with pytest.raises(NonLoopbackTargetError):
        run_profile_sync(url, LoadProfile.constant(1, 1))


def test_loopback_forms_are_accepted() -> None:
    assert ensure_loopback("http://127.0.0.2:9/x") == "127.0.0.2"
    assert ensure_loopback("http://[::1]:9/") == "::1"
    assert ensure_loopback("https://localhost/") == "localhost"


def test_retry_after_forms() -> None:
    assert parse_retry_after("120") == 120.0
    now = datetime(2026, 1, 1, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(later, now=now.timestamp()) == pytest.approx(30.0)
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
