"""Canary cutover under open-loop load through a real HAProxy: zero failed requests, and a timed rollback."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator

import pytest

from venturegate.crews.stage19.loadgen import LoadProfile, LoadResult, run_profile
from venturegate.crews.stage30.demo_service import command
from venturegate.crews.stage30.driver import TrafficCounters
from venturegate.crews.stage30.haproxy import LocalDriver
from venturegate.crews.stage30.orchestrator import (
    CanaryConfig,
    CutoverResult,
    RollbackCoordinator,
    StepLog,
    cutover,
)
from venturegate.crews.stage30.routes import RouteStats, nearest_rank

RATE = 200.0
FAST = CanaryConfig(
    soak_seconds=1.0,
    error_rate_threshold=5.0,
    error_rate_duration=0.3,
    window_seconds=1.0,
    sample_interval=0.05,
    min_requests=10,
)


def _c(requests: int, failed: int) -> TrafficCounters:
    return TrafficCounters(requests=requests, responses_5xx=failed, errors=0, in_flight=0, weight=10, up=True)


def test_coordinator_needs_the_rate_above_for_the_whole_duration() -> None:
    rc = RollbackCoordinator(CanaryConfig(error_rate_duration=2.0, window_seconds=1.0, min_requests=10))
    assert rc.observe(0.0, _c(0, 0)).error_rate is None
    assert rc.observe(0.5, _c(5, 5)).error_rate is None  # too few requests to judge
    v = rc.observe(1.0, _c(20, 6))
    assert v.error_rate == pytest.approx(30.0) and not v.rollback
    assert not rc.observe(2.0, _c(40, 8)).rollback  # 2/20 = 10% in the window, above for 1 s
    v = rc.observe(3.0, _c(60, 10))
    assert v.rollback and v.above_for == pytest.approx(2.0)
    assert rc.decided_at == 3.0


def test_coordinator_restarts_the_clock_when_the_rate_drops() -> None:
    rc = RollbackCoordinator(CanaryConfig(error_rate_duration=2.0, window_seconds=1.0, min_requests=10))
    rc.observe(0.0, _c(0, 0))
    rc.observe(1.0, _c(20, 4))  # 20%
    assert rc.observe(2.0, _c(40, 4)).above_for == 0.0  # 0% in the window: not above any more
    rc.observe(3.0, _c(60, 8))
    assert not rc.observe(4.5, _c(90, 12)).rollback
    assert rc.observe(5.0, _c(100, 14)).rollback


def test_config_from_the_stage_keys() -> None:
    cfg = CanaryConfig.from_config(
        {
            "traffic.canary_steps": [5, 25, 100],
            "traffic.canary_monitoring_duration": 300,
            "rollback.error_rate_threshold": 1,
            "rollback.error_rate_duration": 120.0,
        },
        soak_seconds=1.0,
    )
    assert (cfg.steps, cfg.soak_seconds, cfg.error_rate_threshold, cfg.error_rate_duration) == (
        (5, 25, 100),
        1.0,
        1.0,
        120.0,
    )
    studio = CanaryConfig.from_config({"rollback.error_rate_duration": "2m", "rollback.error_rate_threshold": 5})
    assert (studio.steps, studio.error_rate_duration, studio.error_rate_threshold) == ((10, 50, 100), 120.0, 5.0)
    with pytest.raises(ValueError, match="rise"):
        CanaryConfig(steps=(50, 10))


def test_coordinator_rolls_back_on_a_p95_that_stays_above_its_line() -> None:
    rc = RollbackCoordinator(
        CanaryConfig(error_rate_duration=1.0, window_seconds=1.0, min_requests=10, response_time_threshold=200)
    )
    rc.observe(0.0, _c(0, 0), None)
    assert rc.observe(0.5, _c(10, 0), 250.0).latency_above_for == 0.0  # above from now on
    assert not rc.observe(1.0, _c(20, 0), None).rollback  # no probe answer in the window: the clock keeps running
    v = rc.observe(1.5, _c(30, 0), 300.0)
    assert v.rollback and v.cause == "latency" and v.latency_above_for == pytest.approx(1.0)
    assert (rc.above_since, rc.first_value) == (0.5, 250.0)
    rc2 = RollbackCoordinator(CanaryConfig(error_rate_duration=1.0, window_seconds=1.0, response_time_threshold=200))
    rc2.observe(0.0, _c(0, 0), 250.0)
    rc2.observe(0.6, _c(10, 0), 150.0)  # back under the line: the clock restarts
    assert not rc2.observe(1.2, _c(20, 0), 260.0).rollback


def test_a_route_above_its_line_decides_though_the_aggregate_stays_under_it() -> None:
    # 400 requests a second, 4 % of them failing (under the 5 % line); one route of four takes a quarter of them
    # and carries every failure: 16 % on that route. Only the per-route rule may decide, after its duration.
    rc = RollbackCoordinator(
        CanaryConfig(error_rate_threshold=5.0, error_rate_duration=1.0, window_seconds=1.0, min_requests=10)
    )
    orders = [RouteStats("/orders", 100, 16, 16.0, 20.0), RouteStats("/", 100, 0, 0.0, 10.0)]
    for second in range(3):
        verdict = rc.observe(float(second), _c(400 * second, 16 * second))
        assert not verdict.rollback and (second == 0 or verdict.error_rate == pytest.approx(4.0))
    assert rc.observe_routes(0.0, orders) is None  # above, but not yet for the duration
    assert rc.pending
    found = rc.observe_routes(1.0, orders)
    assert found is not None and found[0] == "route_error_rate" and found[1].route == "/orders"
    assert found[2] == pytest.approx(1.0)
    calm = RollbackCoordinator(CanaryConfig(error_rate_duration=1.0))
    calm.observe_routes(0.0, orders)
    assert calm.observe_routes(0.5, [RouteStats("/orders", 100, 0, 0.0, 20.0)]) is None  # back under: clock restarts
    assert calm.observe_routes(2.0, orders) is None and calm.pending  # above again from 2.0: a new clock
    assert calm.observe_routes(3.0, orders) is not None


def test_nearest_rank_percentile_is_an_observed_value() -> None:
    values = [float(v) for v in range(1, 21)]
    assert nearest_rank(values, 95) == 19.0
    assert nearest_rank([7.0], 95) == 7.0


@pytest.fixture
def driver() -> Iterator[LocalDriver]:
    with LocalDriver(
        command(),
        overrides={"v2-bad": command(error_rate=0.1), "v2-slow": command(latency_ms=300)},
    ) as d:
        d.start_version("v1")
        yield d


async def _under_load(
    driver: LocalDriver, green: str, seconds: float
) -> tuple[CutoverResult, LoadResult, list[StepLog]]:
    steps: list[StepLog] = []
    load = asyncio.create_task(
        run_profile(
            driver.url + "/",
            LoadProfile.constant(RATE, seconds),
            max_requests=int(RATE * seconds) + 10,
            max_seconds=seconds + 1,
            timeout=5.0,
            connections=50,
        )
    )
    await asyncio.sleep(0.3)  # steady traffic on blue before anything moves
    result = await cutover(driver, "v1", green, FAST, on_step=steps.append)
    return result, await load, steps


def test_good_green_reaches_100_percent_with_zero_failed_requests(driver: LocalDriver) -> None:
    driver.start_version("v2")
    result, load, steps = asyncio.run(_under_load(driver, "v2", 3.8))
    assert result.status == "completed" and result.green_percent == 100
    assert [s.green_percent for s in steps] == [10, 50, 100]
    assert all(s.green_failed == 0 and s.green_requests > 0 for s in steps)
    assert load.requests >= int(RATE * 3.8) - 1
    assert load.errors_by_status == {}, load.errors_by_status
    assert load.responses == load.requests
    assert driver.weights() == {"blue": 0, "green": 100}
    # Traffic really moved: green took most of it, and blue none at the end.
    assert driver.counters("v2").requests > load.requests // 3


def test_bad_green_is_rolled_back_fast_and_nothing_fails_afterwards(driver: LocalDriver) -> None:
    driver.start_version("v2-bad")
    result, load, _ = asyncio.run(_under_load(driver, "v2-bad", 3.0))
    assert result.status == "rolled_back", result
    report = result.rollback
    assert report is not None and report.blue_healthy
    assert "10% step" in report.reason
    assert report.drain_s < 1.0, report
    assert driver.weights() == {"blue": 100, "green": 0}
    after = driver.counters("v1")
    green = driver.counters("v2-bad")
    # Green got nothing after the switch, and every request after it was answered by blue without error.
    assert green.failed == report.green_failed_before
    assert green.requests + after.requests - report.backend_at_switch.requests > 100
    assert after.failed == 0
    # The only failures the clients saw are green's injected 500s before the switch.
    assert load.errors_by_status == {"500": report.green_failed_before}
    assert load.responses == load.requests


def test_a_slow_green_is_rolled_back_on_its_probe_p95() -> None:
    config = CanaryConfig(
        soak_seconds=3.0,
        error_rate_duration=0.5,
        window_seconds=1.0,
        sample_interval=0.05,
        response_time_threshold=200,
        probe_interval=0.05,
        min_probes=3,
    )
    with LocalDriver(command(), overrides={"v2-slow": command(latency_ms=300)}) as d:
        d.start_version("v1")
        addr = d.start_version("v2-slow")
        result = asyncio.run(cutover(d, "v1", "v2-slow", config, probe_url=f"http://{addr}/"))
        assert result.status == "rolled_back", result
        report = result.rollback
        assert report is not None and report.cause == "latency", report
        assert report.value is not None and report.value >= 300
        assert report.above_since is not None and report.decided_at is not None
        assert report.decided_at - report.above_since >= 0.5
        assert "p95" in report.reason and "10% step" in report.reason
        assert d.weights() == {"blue": 100, "green": 0}


def test_a_green_that_dies_is_rolled_back_at_once(driver: LocalDriver) -> None:
    driver.start_version("v2")

    async def scenario() -> CutoverResult:
        task = asyncio.create_task(cutover(driver, "v1", "v2", FAST))
        await asyncio.sleep(0.3)
        slot = driver._slots[driver.slot_of("v2")]
        assert slot.proc is not None
        os.kill(slot.proc.pid, signal.SIGKILL)
        return await task

    result = asyncio.run(scenario())
    assert result.status == "rolled_back"
    assert result.rollback is not None and result.rollback.cause == "green_down", result.rollback
    assert driver.weights() == {"blue": 100, "green": 0}


def test_weights_moved_from_outside_end_the_cutover_as_an_ordered_rollback(driver: LocalDriver) -> None:
    driver.start_version("v2")

    async def scenario() -> CutoverResult:
        task = asyncio.create_task(cutover(driver, "v1", "v2", FAST))
        await asyncio.sleep(0.3)
        await asyncio.to_thread(driver.set_weights, 100, 0)  # what the engine's `traffic` handler does
        return await task

    result = asyncio.run(scenario())
    assert result.status == "rolled_back"
    assert result.rollback is not None and result.rollback.cause == "ordered"
    assert result.rollback.switch_s < 0.01  # nothing left to switch
