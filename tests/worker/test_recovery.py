"""A worker starting up fails the running jobs of dead workers on its host and queues the queued jobs again."""

from __future__ import annotations

import os
import socket
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from tests.conftest import LEAD
from venturegate.engine import Engine
from venturegate.engine.jobs import process_gone
from venturegate.worker import make_huey, recover_jobs, register_jobs, requeue_stale, settle_job, worker_name


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_worker_gone_only_for_a_dead_process_on_this_host() -> None:
    host = socket.gethostname()
    assert worker_name() == f"huey:{os.getpid()}@{host}"
    assert not process_gone(worker_name())
    assert process_gone(f"huey:{_dead_pid()}@{host}")
    assert not process_gone(f"huey:{_dead_pid()}@elsewhere.example")  # another host: only the lease can tell
    assert not process_gone("huey:1234") and not process_gone("inline") and not process_gone("huey:x@h")


def test_start_up_fails_orphaned_jobs_and_queues_the_queued_again(engine: Engine) -> None:
    host = socket.gethostname()
    workers = {
        "dead": f"huey:{_dead_pid()}@{host}",
        "alive": f"huey:{os.getpid()}@{host}",
        "remote": f"huey:{_dead_pid()}@elsewhere.example",
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
    assert "ended" in dead.error and "re-run" in dead.error
    assert engine.job(jobs["alive"]).status == "running"
    assert engine.job(jobs["remote"]).status == "running"  # failed only when its lease runs out
    assert [e.kind for e in engine.events("dead", kind="job.")] == ["job.queued", "job.started", "job.failed"]


def test_the_sweep_queues_again_a_job_whose_message_was_lost(engine: Engine) -> None:
    """An API process killed between writing a job and queueing its message: the minute sweep sends it again."""
    fresh = engine.create_job(engine.create_venture("fresh", "b2b_smb", actor=LEAD).id, 1, "quick1", actor=LEAD)
    claimed = engine.create_job(engine.create_venture("claimed", "b2b_smb", actor=LEAD).id, 1, "quick1", actor=LEAD)
    engine.claim_job(claimed.id, worker=worker_name())
    sent: list[int] = []
    now = fresh.created_at
    assert requeue_stale(engine, sent.append, now=now + timedelta(seconds=59)) == [] and sent == []
    assert requeue_stale(engine, sent.append, now=now + timedelta(minutes=1)) == [fresh.id]
    assert sent == [fresh.id]  # the running one is not queued again; a second message of a job is harmless


def test_a_job_left_running_by_this_worker_is_failed(engine: Engine) -> None:
    me, other = worker_name(), f"huey:{os.getpid() + 1}@{socket.gethostname()}"
    ids = {}
    for name, worker in (("mine", me), ("theirs", other), ("done", me)):
        v = engine.create_venture(name, "b2b_smb", actor=LEAD)
        ids[name] = engine.create_job(v.id, 1, "quick1", actor=LEAD).id
        engine.claim_job(ids[name], worker=worker)
    engine.finish_job(ids["done"], "succeeded", result={})
    for job_id in ids.values():
        settle_job(engine, job_id, me)
    mine = engine.job(ids["mine"])
    assert mine.status == "failed" and mine.error is not None and "outcome" in mine.error
    assert engine.job(ids["theirs"]).status == "running"  # another worker's: not this one's to judge
    assert engine.job(ids["done"]).status == "succeeded"


def test_a_claim_whose_answer_was_lost_leaves_no_job_running(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = engine.claim_job

    def committed_then_cut(job_id: int, **kw: Any) -> Any:
        real(job_id, **kw)  # the claim commits; the connection dies before the answer arrives
        raise OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr(engine, "claim_job", committed_then_cut)
    task = register_jobs(make_huey(f"sqlite:///{tmp_path / 'queue.db'}", immediate=True), lambda: engine)
    job = engine.create_job(engine.create_venture("acme", "b2b_smb", actor=LEAD).id, 1, "quick1", actor=LEAD)
    task(job.id)
    after = engine.job(job.id)
    assert after.status == "failed" and after.worker == worker_name(), after
