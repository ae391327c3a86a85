"""Canary cutover under open-loop load through a real HAProxy: zero failed requests, and a timed rollback."""

from __future__ import annotations

import asyncio
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


@pytest.fixture
def driver() -> Iterator[LocalDriver]:
    with LocalDriver(command(), overrides={"v2-bad": command(error_rate=0.1)}) as d:
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
