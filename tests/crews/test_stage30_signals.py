"""SIGTERM, SIGINT and `job cancel` sent to a real `venturegate run` in the middle of a canary step.

Each leads to the same state: traffic on blue (the last known-good version), green stopped, the job
`cancelled`, the run's exit code 5, and no process left behind once production is stopped; checked with
the process table and HAProxy's own stats. A job whose process died is ended at once by the next sweep.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from venturegate.crews.runner import queue_job
from venturegate.crews.stage30 import demo
from venturegate.crews.stage30.haproxy import STATE_FILE, RuntimeAPI
from venturegate.crews.stage30.live import production_dir
from venturegate.engine import Actor, Engine

pytestmark = pytest.mark.slow  # deployments under load, interrupted

LEAD = Actor("lee", "lead")
CHAIR = Actor("cho", "chairman")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _ps(pids: list[int]) -> list[int]:
    """The pids `ps` still lists (zombies excluded)."""
    found = subprocess.run(["ps", "-o", "pid=,stat=", "-p", ",".join(map(str, pids))], capture_output=True,
                           text=True, check=False).stdout  # fmt: skip
    return [int(line.split()[0]) for line in found.splitlines() if line.split() and "Z" not in line.split()[1]]


def _venture(engine: Engine) -> int:
    engine.create_venture("acme", "b2b_smb", 30, actor=LEAD)
    for name, content in (("release_candidate", demo.release("2.0.0", "abc1234")), ("deployment_plan", demo.PLAN),
                          ("rollback_strategy", demo.STRATEGY)):  # fmt: skip
        engine.put_artifact("acme", name, content, actor=LEAD)
    engine.request_approval("acme", "chairman", actor=LEAD, reason="release 2.0.0", payload={"release": "2.0.0"})
    (pending,) = engine.approvals("acme", "pending")
    engine.decide_approval(pending.id, True, actor=CHAIR, reason="go")
    return engine.venture("acme").id


def _mid_canary(folder: Path, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> dict[str, Any]:
    """Wait until green takes part of the traffic (HAProxy's weights), return the production state."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else b""
        try:
            state = json.loads((folder / STATE_FILE).read_text())
            rows = RuntimeAPI(Path(state["socket"])).show_stat()
        except (OSError, ValueError, KeyError):
            time.sleep(0.1)
            continue
        green = state["roles"]["green"]
        weight = next((int(r["weight"] or 0) for r in rows if r["svname"] == green), 0)
        if weight > 0 and state["slots"][green]["pid"]:
            return dict(state)
        time.sleep(0.1)
    raise AssertionError("the canary never started")


@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT", "job cancel"])
def test_a_signal_or_cancel_mid_canary_leaves_traffic_on_blue_and_nothing_orphaned(
    sqlite_engine: Engine, tmp_path: Path, how: str
) -> None:
    vid = _venture(sqlite_engine)
    db = str(sqlite_engine.db.url)
    env = {**os.environ, "VENTUREGATE_WORKSPACE": str(tmp_path), "VENTUREGATE_CREW_ROOT": str(tmp_path / "crews"),
           "VENTUREGATE_ACTOR": "lee:lead"}  # fmt: skip
    options = ["soak_seconds=30", "sample_interval=0.1", "probe_interval=0.1", "health_check_interval=0.05",
               "load_rate=20"]  # fmt: skip
    argv = [sys.executable, "-m", "venturegate.cli.app", "--db", db, "run", "acme", "--stage", "30", "--json"]
    for o in options:
        argv += ["-o", o]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    folder = production_dir(tmp_path, vid)
    try:
        state = _mid_canary(folder, proc)
        pids = {role: int(state["slots"][slot]["pid"]) for role, slot in state["roles"].items()}
        haproxy_pid = int(state["haproxy"]["pid"])
        if how == "job cancel":
            (job,) = sqlite_engine.jobs("acme", "running")
            subprocess.run([sys.executable, "-m", "venturegate.cli.app", "--db", db, "job", "cancel", str(job.id)],
                           env=env, check=True, capture_output=True, timeout=30)  # fmt: skip
        else:
            proc.send_signal(getattr(signal, how))
        output = proc.communicate(timeout=60)[0].decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 5, output
    (job,) = sqlite_engine.jobs("acme")
    assert job.status == "cancelled", job
    # Green stopped, blue and HAProxy serve: all traffic on blue, as HAProxy sees it.
    assert not _alive(pids["green"]) and _ps([pids["green"]]) == []
    assert _ps([pids["blue"], haproxy_pid]) == sorted([pids["blue"], haproxy_pid])
    after = json.loads((folder / STATE_FILE).read_text())
    rows = {r["svname"]: r for r in RuntimeAPI(Path(after["socket"])).show_stat() if r["pxname"] == "be"}
    blue, green = after["roles"]["blue"], after["roles"]["green"]
    assert int(rows[blue]["weight"]) == 100 and int(rows[green]["weight"]) == 0
    assert rows[blue]["status"].startswith("UP")
    # `deploy stop` then leaves nothing running.
    subprocess.run([sys.executable, "-m", "venturegate.cli.app", "--db", db, "deploy", "stop", "acme"], env=env,
                   check=True, capture_output=True, timeout=30)  # fmt: skip
    assert _ps([*pids.values(), haproxy_pid]) == []


def test_a_job_whose_process_died_is_ended_at_once_and_does_not_block_a_rerun(sqlite_engine: Engine) -> None:
    _venture(sqlite_engine)
    job = queue_job(sqlite_engine, "acme", 30, {}, actor=LEAD)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    sqlite_engine.claim_job(job.id, worker=f"inline:{dead.pid}@{socket.gethostname()}")
    again = queue_job(sqlite_engine, "acme", 30, {}, actor=LEAD)  # the sweep ends the dead one first
    assert sqlite_engine.job(job.id).status == "failed"
    assert "ended without finishing" in (sqlite_engine.job(job.id).error or "")
    sqlite_engine.claim_job(again.id, worker=f"inline:{dead.pid}@{socket.gethostname()}")
    cancelled = sqlite_engine.cancel_job(again.id, actor=LEAD)  # `job cancel` clears a dead job at once
    assert cancelled.status == "cancelled"
    with pytest.raises(Exception, match="unknown option"):
        queue_job(sqlite_engine, "acme", 30, {"soak_secs": "1"}, actor=LEAD)
