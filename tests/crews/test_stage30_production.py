"""Production that outlives the run: the persistent local driver, and rollback handlers that find it from state."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from venturegate.crews.stage30.demo_service import command
from venturegate.crews.stage30.haproxy import STATE_FILE, LocalDriver
from venturegate.crews.stage30.live import Deployment, production_dir
from venturegate.engine import Actor, Engine

LEAD = Actor("lee", "lead")


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _reaped(pid: int) -> bool:
    """Gone altogether: not running and not a zombie left for this process to reap."""
    return not Path(f"/proc/{pid}").exists()


def _get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=5) as r:
        r.read()
        return int(r.status)


def test_a_detached_production_keeps_serving_and_another_process_attaches_to_it(tmp_path: Path) -> None:
    folder = tmp_path / "prod"
    driver = LocalDriver(command(), state_dir=folder).open()
    driver.start_version("v1")
    driver.start_version("v2")
    driver.set_weights(50, 50)
    url, pids = driver.url, driver.pids()
    driver.detach()
    assert all(_alive(p) for p in pids) and _get(url + "/") == 200
    # Another process sees the same production (the CLI, a worker, a timer's rollback handler).
    script = (
        "import json, sys; from pathlib import Path; from venturegate.crews.stage30.haproxy import LocalDriver; "
        "d = LocalDriver.attach(Path(sys.argv[1])); print(json.dumps(d.status())); d.set_weights(100, 0); d.detach()"
    )
    shown = json.loads(subprocess.run([sys.executable, "-c", script, str(folder)], capture_output=True, text=True,
                                      check=True, timeout=30).stdout)  # fmt: skip
    assert shown["url"] == url and shown["running"]
    assert {r: v["version"] for r, v in shown["roles"].items()} == {"blue": "v1", "green": "v2"}
    assert shown["roles"]["green"]["weight"] == 50
    again = LocalDriver.attach(folder)
    assert again.weights() == {"blue": 100, "green": 0} and again.attached
    # After a cutover green becomes the serving version; the old one is stopped.
    again.set_weights(0, 100)
    again.promote("v2")
    assert again.versions() == {"blue": "v2"} and again.weights()["blue"] == 100
    assert _get(url + "/") == 200
    again.start_version("v3")  # the next release takes the free slot as green
    assert again.versions() == {"blue": "v2", "green": "v3"}
    every = again.pids()
    again.close()
    assert not any(_alive(p) for p in [*pids, *every])
    assert all(_reaped(p) for p in [*pids, *every])  # children detached earlier were taken back and reaped
    assert not (folder / STATE_FILE).exists()


def test_detached_children_stopped_by_another_process_are_reaped_at_exit(tmp_path: Path) -> None:
    folder = tmp_path / "prod"
    stop = (
        "import sys; from pathlib import Path; from venturegate.crews.stage30.haproxy import LocalDriver; "
        "LocalDriver.attach(Path(sys.argv[1])).close()"
    )
    script = (
        "import subprocess, sys; from pathlib import Path; from venturegate.crews.stage30.demo_service import command; "
        "from venturegate.crews.stage30.haproxy import LocalDriver; "
        "d = LocalDriver(command(), state_dir=Path(sys.argv[1])).open(); d.start_version('v1'); d.detach(); "
        "subprocess.run([sys.executable, '-c', sys.argv[2], sys.argv[1]], check=True, timeout=30)"
    )
    argv = [sys.executable, "-X", "dev", "-W", "error::ResourceWarning", "-c", script, str(folder), stop]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "ResourceWarning" not in done.stderr, done.stderr


def test_a_production_whose_haproxy_died_is_cleaned_up_not_attached(tmp_path: Path) -> None:
    folder = tmp_path / "prod"
    driver = LocalDriver(command(), state_dir=folder).open()
    driver.start_version("v1")
    pids = driver.pids()
    driver.detach()
    os.kill(pids[0], 9)  # HAProxy
    deadline = time.monotonic() + 5
    while _alive(pids[0]) and time.monotonic() < deadline:
        time.sleep(0.02)
    fresh = LocalDriver(command(), state_dir=folder).open()
    try:
        assert not fresh.attached and fresh.versions() == {}
        assert not _alive(pids[1])  # the orphaned version was stopped
    finally:
        fresh.close()


def test_rollback_handlers_act_on_production_found_from_its_state(
    bundled: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The handlers the crew declares, installed by the engine itself: they find production from ids.
    monkeypatch.setenv("VENTUREGATE_WORKSPACE", str(tmp_path))
    bundled.create_venture("acme", "b2b_smb", 30, actor=LEAD)
    vid = bundled.venture("acme").id
    quiet = bundled.rollback("acme", cause="green_unrecoverable", actor=LEAD, reason="nothing runs")
    assert all("nothing" in h.detail or "no deployment" in h.detail for h in quiet.handlers), quiet.handlers
    folder = production_dir(tmp_path, vid)
    assert folder == tmp_path / ".venturegate" / "deploy" / f"v{vid}"
    driver = LocalDriver(command(), state_dir=folder).open()
    try:
        driver.start_version("v1")
        driver.start_version("v2")
        driver.set_weights(90, 10)
        Deployment("v1", "v2", state="cutover", release="v2").save(folder)
        assert oct((folder / "deployment.json").stat().st_mode & 0o777) == "0o600"
        record = bundled.rollback("acme", cause="traffic_only", actor=LEAD, reason="the Chairman says so")
        assert record.outcome == "completed", record.handlers
        assert driver.weights() == {"blue": 100, "green": 0}
        saved = Deployment.load(folder)
        assert saved is not None and saved.state == "rolled_back"
        full = bundled.rollback("acme", cause="green_unrecoverable", actor=LEAD, reason="green is beyond saving")
        details = {h.scope: h.detail for h in full.handlers}
        assert details["green"] == "green (v2) stopped", details
        assert "no migration ran" in details["database"]
        driver.refresh()
        assert driver.versions() == {"blue": "v1"}
        assert _get(driver.url + "/") == 200
    finally:
        driver.close()


def test_the_crews_rollback_restores_only_its_own_keys(bundled: Engine) -> None:
    bundled.create_venture("acme", "b2b_smb", 30, actor=LEAD)
    bundled.set_config("acme", "traffic.canary_monitoring_duration", 120, actor=LEAD, reason="shorter steps")
    plan = bundled.rollback_plan("acme", "traffic_only")  # shows, before acting, what a full restore reverts
    assert [e.key for e in plan.diff] == ["traffic.canary_monitoring_duration"]
    own = bundled.rollback("acme", cause="traffic_only", actor=LEAD, reason="crew: traffic back", keys=[])
    assert own.outcome == "completed" and own.diff == [] and own.to_version is None
    assert [h.scope for h in own.handlers] == ["traffic"]  # the scope's handler still ran
    assert bundled.setting("acme", "traffic.canary_monitoring_duration").value == 120  # kept
    full = bundled.rollback("acme", cause="traffic_only", actor=LEAD, reason="restore the snapshot")
    assert [e.key for e in full.diff] == ["traffic.canary_monitoring_duration"]
    assert bundled.setting("acme", "traffic.canary_monitoring_duration").value == 300
