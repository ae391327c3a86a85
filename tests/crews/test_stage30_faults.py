"""Releases that are bad in realistic ways, cut over behind a real HAProxy with a client of the test's own.

Each scenario runs the demo service with one fault (a route that fails, a slowdown after a delay, a
flapping health check, a 200 with the wrong body, a leak), sends its own traffic through the front end,
and checks that the cutover catches it, and that the client-visible failures it reports are the ones
HAProxy counted and the ones the test's client got.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from venturegate.crews.stage30.demo_service import Faults, command, make_server, spec
from venturegate.crews.stage30.haproxy import DriverError, LocalDriver, parse_log_line
from venturegate.crews.stage30.orchestrator import CanaryConfig, CutoverResult, cutover
from venturegate.crews.stage30.routes import (
    OTHER,
    RouteError,
    RouteWindow,
    routes_from_openapi,
    routes_from_paths,
)
from venturegate.crews.stage30.traffic import Load

RATE = 120.0
BASE = CanaryConfig(
    soak_seconds=1.2,
    error_rate_duration=0.3,
    window_seconds=1.0,
    sample_interval=0.05,
    probe_interval=0.04,
    min_requests=8,
    min_probes=4,
    response_time_threshold=250,
)
SPEC = routes_from_openapi(spec("x"))


def test_routes_from_the_openapi_document_and_from_a_list() -> None:
    assert SPEC.templates == ["/", "/items/{id}", "/orders", "/health"]
    assert [r.path for r in SPEC.routes] == ["/", "/items/7", "/orders", "/health"]
    assert SPEC.match("/items/42?x=1") == "/items/{id}" and SPEC.match("/nope") == OTHER
    item = SPEC.routes[1]
    assert item.check_body(b'{"id": 1, "name": "a"}') is None
    assert "'name' is a required property" in (item.check_body(b'{"id": 1}') or "")
    listed = routes_from_paths(["/a/{x}/b", "/c"])
    assert [r.path for r in listed.routes] == ["/a/1/b", "/c", "/health"]
    with pytest.raises(RouteError, match="absolute path"):
        routes_from_paths(["http://evil.example/"])
    with pytest.raises(RouteError, match="space"):
        routes_from_paths(["/a b"])
    param = {"name": "id", "in": "path", "schema": {"type": "object"}}
    doc = {"paths": {"/w": {"post": {}}, "/x/{id}": {"get": {"parameters": [param]}}}}
    with pytest.raises(RouteError) as exc:
        routes_from_openapi(doc, health="")
    assert "no GET route" in str(exc.value)
    partial = routes_from_openapi(doc)
    assert partial.templates == ["/health"]
    assert any("POST /w" in s for s in partial.skipped) and any("GET /x/{id}" in s for s in partial.skipped)


def test_route_window_judges_each_route_over_its_window() -> None:
    w = RouteWindow(window_seconds=1.0, min_requests=4, min_timed=2)
    for i in range(10):
        w.add(i * 0.1, "/a", i % 2 == 0, 10.0 + i)
        w.add(i * 0.1, "/b", False, 5.0)
    stats = {s.route: s for s in w.stats(0.95)}
    assert stats["/a"].error_rate == 50.0 and stats["/b"].error_rate == 0.0
    assert stats["/a"].p95_ms == 19.0
    assert {s.route: s.requests for s in w.stats(1.55)} == {"/a": 4, "/b": 4}
    assert w.totals["/a"] == [10, 5]


def test_haproxy_log_lines_parse() -> None:
    line = parse_log_line("1796611015.091|green|404|27|28|GET|/abc|d")
    assert line is not None and (line.server, line.status, line.server_ms, line.path) == ("green", 404, 27.0, "/abc|d")
    own = parse_log_line("1796611011.997|<NOSRV>|503|-1|3012|GET|/x")
    assert own is not None and own.server_ms is None
    assert parse_log_line("[WARNING] something") is None


def _scenario(faults: Faults, config: CanaryConfig = BASE) -> tuple[CutoverResult, Load, int, LocalDriver]:
    """Cut over to a release with `faults` under the test's own client; return what HAProxy's front end counted."""
    with LocalDriver(command(), overrides={"v2": command(faults=faults)}) as driver:
        driver.start_version("v1")
        address = driver.start_version("v2")
        client = Load(driver.url, SPEC.routes, RATE)

        async def run() -> CutoverResult:
            sending = asyncio.create_task(client.run())
            await asyncio.sleep(0.2)
            try:
                return await cutover(
                    driver, "v1", "v2", config, probe_url=f"http://{address}", routes=SPEC.routes,
                    route_of=SPEC.match, request_log=driver.request_log(), green_server=driver.slot_of("v2"),
                )  # fmt: skip
            finally:
                await asyncio.sleep(0.2)
                client.stop()
                await sending

        front0 = driver.frontend_counters()
        result = asyncio.run(run())
        haproxy_failed = driver.frontend_counters().failed - front0.failed
        return result, client, haproxy_failed, driver


def test_a_good_release_goes_to_100_with_every_route_exercised_and_nothing_failed() -> None:
    # A healthy release must not be rolled back. Latency is not what this checks (the slow faults below do, at
    # 250 ms): on a CI machine running the whole suite a healthy server's probe p95 can pass 250 ms for a moment,
    # and one fresh-clone run rolled this release back. The line here is 1 s; every failure rule stays as it is.
    config = CanaryConfig(**{**BASE.__dict__, "response_time_threshold": 1000})
    result, client, haproxy_failed, _ = _scenario(Faults(), config)
    assert result.status == "completed", (result.rollback, [s.held_because for s in result.steps])
    assert haproxy_failed == client.failed_5xx == client.refused == result.client_failed == 0
    assert result.downtime_s == 0.0 and result.green_down_transitions == 0
    for step in result.steps:
        assert step.passed and {r.route for r in step.routes} >= set(SPEC.templates), step
        assert all(r.failed == 0 for r in step.routes)


def test_a_release_failing_on_one_route_is_rolled_back_though_the_aggregate_stays_under_the_line() -> None:
    # /orders fails 15%: one request in four goes there, so green's aggregate is ~4%, under the 5% line.
    # (Probes every 20 ms: enough requests per route in a 1 s window at the 10% step.)
    config = CanaryConfig(**{**BASE.__dict__, "probe_interval": 0.02})
    result, client, haproxy_failed, _ = _scenario(Faults(fail_route="/orders", fail_rate=0.15), config)
    assert result.status == "rolled_back", result
    assert result.rollback is not None and result.rollback.cause == "route_error_rate", result.rollback
    assert "route /orders" in result.rollback.reason
    # Whether green's aggregate over this short run stayed under the line is chance (the rollback can come after a
    # dozen requests, one of them failed); that the route rule decides though the aggregate is under the line is
    # checked without chance in test_stage30_switch.py. Here: green was judged per route and the fault was seen.
    assert any(r.route == "/orders" and r.failed > 0 for s in result.steps for r in s.routes), result.steps
    assert haproxy_failed == client.failed_5xx  # the client saw what HAProxy counted
    assert result.client_failed <= haproxy_failed


def test_a_release_that_slows_down_after_a_delay_is_rolled_back_on_p95() -> None:
    result, client, haproxy_failed, _ = _scenario(Faults(latency_ms=400, slow_after=2.5))
    assert result.status == "rolled_back", result
    assert result.rollback is not None and result.rollback.cause in ("latency", "route_latency"), result.rollback
    assert result.steps[0].passed  # fast during the first step
    assert len(result.steps) >= 2
    assert haproxy_failed == client.failed_5xx == 0


def test_a_flapping_health_check_rolls_back_at_the_first_flap_and_its_503s_are_counted() -> None:
    faults = Faults(flap_period=1.5, flap_down=0.5, flap_routes=1)
    result, client, haproxy_failed, _ = _scenario(faults)
    assert result.status == "rolled_back", result
    # Every route answers 503 while green is down: HAProxy's health check usually marks it down first
    # (green_down), but on a loaded machine a route's error rate can cross its line before the check runs.
    # Either is the rollback at the first flap; neither may wait for a later one.
    assert result.rollback is not None, result
    assert result.rollback.cause in ("green_down", "route_error_rate", "error_rate"), result.rollback
    if result.rollback.cause == "green_down":
        assert result.green_down_transitions >= 1
    assert len(result.steps) == 1 or result.steps[-2].passed  # caught within the step it flapped in
    # What clients got before HAProxy marked green down are client-visible failures, all counted.
    assert haproxy_failed == client.failed_5xx
    assert result.client_failed <= haproxy_failed


def test_a_route_answering_200_with_the_wrong_body_is_rolled_back() -> None:
    result, client, _, _ = _scenario(Faults(wrong_body_route="/items/{id}"))
    assert result.status == "rolled_back", result
    assert result.rollback is not None and result.rollback.cause == "route_error_rate"
    assert "/items/{id}" in result.rollback.reason
    assert any("body off its schema" in f for f in result.probe_failures)
    assert client.failed_5xx == 0  # invisible to status counters: only the body check sees it


def test_a_leaking_release_that_slows_under_load_is_rolled_back() -> None:
    result, _, _, _ = _scenario(Faults(leak_ms=4.0))
    assert result.status == "rolled_back", result
    assert result.rollback is not None and result.rollback.cause in ("latency", "route_latency"), result.rollback


def test_a_release_above_target_but_under_the_rollback_line_is_held_not_passed() -> None:
    config = CanaryConfig(**{**BASE.__dict__, "error_rate_threshold": 40.0})
    result, _, _, _ = _scenario(Faults(fail_route="/", fail_rate=0.1), config)
    assert result.status == "held", result
    assert result.green_percent < 100 and result.green_percent == result.steps[-1].green_percent
    assert not result.steps[-1].passed and all(s.passed for s in result.steps[:-1])
    assert any(r.startswith("route / error rate") for r in result.held_because), result.held_because


def test_a_release_that_crashes_at_start_shows_its_exit_code_and_output(tmp_path: Path) -> None:
    with LocalDriver(command(), overrides={"v2": command(faults=Faults(crash_at_start=3))}) as d:
        d.start_version("v1")
        with pytest.raises(DriverError) as exc:
            d.start_version("v2")
    assert "exited with code 3" in str(exc.value)
    assert "DATABASE_URL is missing" in str(exc.value)


def test_demo_service_faults_answer_as_documented() -> None:
    import threading
    import urllib.error
    import urllib.request

    server = make_server(0, "v9", faults=Faults(fail_route="/orders", fail_rate=0.5, wrong_body_route="/"))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"

    def get(path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(url + path, timeout=5) as r:
                return int(r.status), r.read()
        except urllib.error.HTTPError as e:
            e.close()
            return int(e.code), b""

    try:
        assert [get("/orders")[0] for _ in range(4)].count(500) == 2
        assert json.loads(get("/")[1]) == {"unexpected": True, "version": "v9"}
        assert get("/items/3")[0] == 200 and get("/nope")[0] == 404
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
