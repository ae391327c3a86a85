"""The `local` deployment driver against a real HAProxy and real processes on loopback."""

from __future__ import annotations

import os
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from venturegate.crews.stage30.demo_service import command, make_server
from venturegate.crews.stage30.driver import DeploymentDriver
from venturegate.crews.stage30.haproxy import DriverError, LocalDriver, render_config


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as e:
        e.close()
        return int(e.code)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def driver() -> Iterator[LocalDriver]:
    with LocalDriver(command(), overrides={"bad": command(error_rate=0.5)}) as d:
        yield d


def test_local_driver_satisfies_the_protocol(driver: LocalDriver) -> None:
    assert isinstance(driver, DeploymentDriver)
    assert driver.url.startswith("http://127.0.0.1:")


def test_config_has_both_servers_and_an_admin_socket(tmp_path: Path) -> None:
    cfg = render_config(frontend_port=8000, ports={"blue": 8001, "green": 8002}, socket_path=tmp_path / "s.sock")
    assert f"stats socket {tmp_path / 's.sock'} mode 600 level admin" in cfg
    assert "server blue 127.0.0.1:8001 weight 100 check" in cfg
    assert "server green 127.0.0.1:8002 weight 0 check" in cfg
    assert "bind 127.0.0.1:8000" in cfg


def test_weights_split_traffic_without_a_reload(driver: LocalDriver) -> None:
    assert driver.start_version("v1").startswith("127.0.0.1:")
    driver.start_version("v2")
    assert driver.versions() == {"blue": "v1", "green": "v2"}
    assert driver.health("v1") and driver.health("v2")
    pid_before = driver.api.command("show info")
    served: list[tuple[int, int]] = []
    for blue, green in ((90, 10), (50, 50), (0, 100)):
        driver.set_weights(blue, green)
        assert driver.weights() == {"blue": blue, "green": green}
        b0, g0 = driver.counters("v1").requests, driver.counters("v2").requests
        statuses = [_get(driver.url + "/") for _ in range(100)]
        assert statuses == [200] * 100
        served.append((driver.counters("v1").requests - b0, driver.counters("v2").requests - g0))
    assert 5 <= served[0][1] <= 15
    assert 40 <= served[1][1] <= 60
    assert served[2] == (0, 100)
    # Same process, counters kept: the weights changed at runtime, HAProxy was not reloaded.
    info = driver.api.command("show info")
    assert _line(info, "Pid") == _line(pid_before, "Pid")
    assert driver.counters("v2").requests == sum(g for _, g in served)


def _line(info: str, key: str) -> str:
    return next(line for line in info.splitlines() if line.startswith(key + ":"))


def test_counters_see_a_faulty_version(driver: LocalDriver) -> None:
    driver.start_version("v1")
    driver.start_version("bad")
    driver.set_weights(0, 100)
    statuses = [_get(driver.url + "/") for _ in range(20)]
    assert statuses.count(500) == 10
    bad = driver.counters("bad")
    assert (bad.requests, bad.responses_5xx, bad.failed) == (20, 10, 10)


def test_stop_drains_and_leaves_no_process() -> None:
    with LocalDriver(command()) as d:
        d.start_version("v1")
        d.start_version("v2")
        d.set_weights(0, 100)
        pids = d.pids()
        assert len(pids) == 3
        d.stop("v2")  # takes traffic: moved to blue first
        assert d.weights() == {"blue": 100, "green": 0}
        assert _get(d.url + "/") == 200
        assert d.versions() == {"blue": "v1"}
        d.start_version("v3")  # the freed slot is reused
        assert d.versions() == {"blue": "v1", "green": "v3"}
    assert not any(_alive(pid) for pid in pids)
    assert d.pids() == []


def test_refusals(driver: LocalDriver) -> None:
    with pytest.raises(ValueError, match="not both 0"):
        driver.set_weights(0, 0)
    with pytest.raises(ValueError):
        driver.set_weights(101, 0)
    driver.start_version("v1")
    with pytest.raises(DriverError, match="already running"):
        driver.start_version("v1")
    driver.start_version("v2")
    with pytest.raises(DriverError, match="both taken"):
        driver.start_version("v3")
    with pytest.raises(DriverError, match="not running"):
        driver.counters("v9")


def test_a_version_that_cannot_start_is_reported() -> None:
    with LocalDriver(["{python}", "-c", "raise SystemExit(3)"], start_timeout=5) as d:
        with pytest.raises(DriverError, match="exited"):
            d.start_version("v1")
        assert d.versions() == {}


def test_demo_service_fails_at_exactly_its_rate() -> None:
    server = make_server(0, "v9", 0.1)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        assert _get(url + "/health") == 200
        assert [_get(url + "/") for _ in range(20)].count(500) == 2
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
