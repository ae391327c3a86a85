"""A worker starting up fails the running jobs of dead workers on its host and queues the queued jobs again."""

from __future__ import annotations

import os
import socket
import subprocess

from tests.conftest import LEAD
from venturegate.engine import Engine
from venturegate.worker import recover_jobs, worker_gone, worker_name


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_worker_gone_only_for_a_dead_process_on_this_host() -> None:
    host = socket.gethostname()
    assert worker_name() == f"huey:{host}:{os.getpid()}"
    assert not worker_gone(worker_name())
    assert worker_gone(f"huey:{host}:{_dead_pid()}")
    assert not worker_gone(f"huey:elsewhere.example:{_dead_pid()}")  # another host: only the lease can tell
    assert not worker_gone("huey:1234") and not worker_gone("inline") and not worker_gone("huey:h:x")


def test_start_up_fails_orphaned_jobs_and_queues_the_queued_again(engine: Engine) -> None:
    host = socket.gethostname()
    workers = {
        "dead": f"huey:{host}:{_dead_pid()}",
        "alive": f"huey:{host}:{os.getpid()}",
        "remote": f"huey:elsewhere.example:{_dead_pid()}",
    }
    jobs = {}
    for name, worker in workers.items():
        v = engine.create_venture(name, "b2b_smb", actor=LEAD)
        jobs[name] = engine.create_job(v.id, 1, "quick1", actor=LEAD).id
        assert engine.claim_job(jobs[name], worker=worker) is not None
    waiting = engine.create_job(engine.create_venture("waiting", "b2b_smb", actor=LEAD).id, 1, "quick1", actor=LEAD)
    queued: list[int] = []
    assert recover_jobs(engine, queued.append) == (1, 1)
    assert queued == [waiting.id]  # its message may have died with a worker; a second claim of it does nothing
    dead = engine.job(jobs["dead"])
    assert dead.status == "failed" and dead.error is not None and workers["dead"] in dead.error
    assert "gone" in dead.error and "re-run" in dead.error
    assert engine.job(jobs["alive"]).status == "running"
    assert engine.job(jobs["remote"]).status == "running"  # failed only when its lease runs out
    assert [e.kind for e in engine.events("dead", kind="job.")] == ["job.queued", "job.started", "job.failed"]
