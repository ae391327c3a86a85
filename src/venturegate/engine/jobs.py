"""Crew jobs: one run of a crew for a venture's stage, queued, claimed, heart-beating, finished or cancelled.

A job's row is the truth; a queue (the worker's Huey task) only says "run job N now". A running job
beats its heart on every progress report; a job whose heartbeat is older than the lease is failed
visibly by `sweep_jobs` (the worker's sweep and `venturegate jobs` run it): crews record samples and
artifacts as they go, so a half-done run cannot safely be resumed from the middle — it is re-run.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, get_args

from sqlalchemy import Connection

from venturegate.core.durations import format_duration, format_time
from venturegate.engine.actors import SYSTEM, Actor
from venturegate.engine.exceptions import BadInput, Conflict, NotFound
from venturegate.engine.plumbing import Plumbing
from venturegate.engine.records import _Record
from venturegate.store import jobs as store
from venturegate.store.jobs import JobRow
from venturegate.store.jobs import JobStatus as JobStatus  # where a job stands; the last three are final

JOB_STATUSES: tuple[JobStatus, ...] = get_args(JobStatus)
FINAL = ("succeeded", "failed", "cancelled")
DEFAULT_LEASE = timedelta(minutes=10)
"""A running job whose heartbeat is older than this is taken for dead (its worker crashed)."""


def worker_id(label: str) -> str:
    """`label:pid@host` of this process: what a running job records as its worker."""
    return f"{label}:{os.getpid()}@{socket.gethostname()}"


def process_gone(worker: str) -> bool:
    """Whether `worker` (`label:pid@host`) names a process of this machine that no longer runs."""
    who, sep, host = worker.rpartition("@")
    pid = who.rpartition(":")[2]
    if not sep or host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclass(frozen=True)
class Job(_Record):
    """One run of a crew for a venture's stage."""

    id: int
    venture_id: int
    stage: int
    crew: str
    status: JobStatus
    options: dict[str, Any]
    progress: dict[str, Any]
    result: dict[str, Any] | None
    cancel_requested: bool
    actor: str
    worker: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    error: str | None

    @property
    def final(self) -> bool:
        """Whether the job has ended (succeeded, failed or cancelled)."""
        return self.status in FINAL


def _job(r: JobRow) -> Job:
    return Job(
        r.id,
        r.venture_id,
        r.stage,
        r.crew,
        r.status,
        dict(r.options or {}),
        dict(r.progress or {}),
        None if r.result is None else dict(r.result),
        r.cancel_requested,
        r.actor,
        r.worker,
        r.created_at,
        r.started_at,
        r.finished_at,
        r.heartbeat_at,
        r.error,
    )


class Jobs:
    """Creating, claiming, heart-beating, finishing, cancelling and listing crew jobs (the engine's `crew_jobs`)."""

    def __init__(self, plumbing: Plumbing) -> None:
        self.plumbing = plumbing

    def create(
        self,
        ref: str | int,
        stage: int,
        crew: str,
        options: dict[str, Any] | None = None,
        *,
        actor: Actor,
        now: datetime | None = None,
    ) -> Job:
        """Queue a run of `crew` for the venture's `stage` (which must be its current stage)."""
        now = self.plumbing.when(now)
        opts = dict(options or {})
        bad = [k for k, v in opts.items() if not isinstance(k, str) or not isinstance(v, str | int | float | bool)]
        if bad:
            raise BadInput(f"job options must be simple values; not {bad}", where="--option", hint="KEY=VALUE")
        with self.plumbing.tx() as conn:
            row = self.plumbing._row(conn, ref, lock=True)
            if row.stage != stage:
                raise Conflict(f"venture '{row.name}' is at stage {row.stage}, not {stage}; run the crew of its stage")
            if row.status != "active":
                raise Conflict(f"venture '{row.name}' is {row.status}; a crew runs only for an active venture")
            busy = store.busy_job(conn, row.id, stage)
            if busy is not None:
                raise Conflict(
                    f"job {busy} already runs for venture '{row.name}' stage {stage}; "
                    f"wait for it, or `venturegate job cancel {busy}`"
                )
            job_id = store.insert_job(
                conn, venture_id=row.id, stage=stage, crew=crew, options=opts, actor=actor.name, now=now
            )
            self.plumbing._event(
                conn, row, "job.queued", actor, now, reason=f"job {job_id}: crew {crew}",
                data={"job": job_id, "crew": crew, "options": opts},
            )  # fmt: skip
            return self._job_row(conn, job_id)

    def claim(self, job_id: int, *, worker: str = "inline", now: datetime | None = None) -> Job | None:
        """Start a queued job (queued → running); None when it is not queued any more (another worker took it)."""
        now = self.plumbing.when(now)
        with self.plumbing.tx() as conn:
            job = self._job_row(conn, job_id)
            if job.status != "queued":
                return None
            if job.cancel_requested:
                self._end(conn, job, "cancelled", now, error="cancelled before it started")
                return None
            if not store.start(conn, job_id, worker[:200], now):
                return None
            self.plumbing._event(
                conn, job.venture_id, "job.started", SYSTEM, now, stage=job.stage,
                reason=f"job {job_id}: crew {job.crew} on {worker}", data={"job": job_id, "worker": worker},
            )  # fmt: skip
            return self._job_row(conn, job_id)

    def heartbeat(self, job_id: int, *, progress: dict[str, Any] | None = None, now: datetime | None = None) -> bool:
        """Mark a running job alive (and store its progress); returns whether cancellation was requested."""
        now = self.plumbing.when(now)
        with self.plumbing.tx() as conn:
            cancel = store.beat(conn, job_id, now, progress)
            if cancel is None:
                raise NotFound(f"no job {job_id}", where="JOB")
            return cancel

    def progress(
        self,
        job_id: int,
        step: str,
        done: int,
        total: int,
        message: str = "",
        *,
        actor: Actor,
        now: datetime | None = None,
    ) -> bool:
        """Record a crew's progress as a `crew.progress` event and the job's heartbeat; returns cancel_requested."""
        now = self.plumbing.when(now)
        if total < 0 or done < 0:
            raise BadInput(f"progress must not be negative ({done}/{total})", where="progress")
        progress = {"step": step, "done": done, "total": total, "message": message[:500], "at": now.isoformat()}
        with self.plumbing.tx() as conn:
            job = self._job_row(conn, job_id)
            if job.status == "running":
                store.update_job(conn, job_id, heartbeat_at=now, progress=progress)
            self.plumbing._event(
                conn, job.venture_id, "crew.progress", actor, now, stage=job.stage, reason=f"{step}: {message}"[:500],
                data={"job": job_id, "crew": job.crew, **progress},
            )  # fmt: skip
            return job.cancel_requested

    def finish(
        self,
        job_id: int,
        status: str,
        *,
        result: dict[str, Any] | None = None,
        error: str | None = None,
        now: datetime | None = None,
    ) -> Job:
        """End a running job as succeeded, failed or cancelled (an already-ended job is left as it is)."""
        if status not in FINAL:
            raise BadInput(f"a job ends as one of {', '.join(FINAL)}, not '{status}'", where="status")
        now = self.plumbing.when(now)
        with self.plumbing.tx() as conn:
            job = self._job_row(conn, job_id)
            if job.final:
                return job
            self._end(conn, job, status, now, error=error, result=result)
            return self._job_row(conn, job_id)

    def cancel(self, job_id: int, *, actor: Actor, now: datetime | None = None) -> Job:
        """Ask a job to stop: a queued job is cancelled at once, a running one at its next step."""
        now = self.plumbing.when(now)
        with self.plumbing.tx() as conn:
            job = self._job_row(conn, job_id)
            if job.final:
                raise Conflict(f"job {job_id} has already {job.status}")
            store.update_job(conn, job_id, cancel_requested=True)
            self.plumbing._event(
                conn, job.venture_id, "job.cancel_requested", actor, now, stage=job.stage, reason=f"job {job_id}",
                data={"job": job_id},
            )  # fmt: skip
            if job.status == "queued" or process_gone(job.worker or ""):
                self._end(conn, self._job_row(conn, job_id), "cancelled", now, error=f"cancelled by {actor.name}")
            return self._job_row(conn, job_id)

    def get(self, job_id: int) -> Job:
        """One job."""
        with self.plumbing.tx() as conn:
            return self._job_row(conn, job_id)

    def listing(self, venture: str | int | None = None, status: str | None = None, limit: int = 100) -> list[Job]:
        """Jobs, newest first."""
        if status is not None and status not in JOB_STATUSES:
            raise BadInput(f"no job status '{status}'", where="--status", hint=f"one of {', '.join(JOB_STATUSES)}")
        with self.plumbing.tx() as conn:
            vid = None if venture is None else self.plumbing._row(conn, venture).id
            return [_job(r) for r in store.job_rows(conn, vid, status, max(1, limit))]

    def sweep(self, *, lease: timedelta = DEFAULT_LEASE, now: datetime | None = None) -> list[Job]:
        """End, visibly, every running job whose worker died: its process on this machine is gone (at once),
        or its heartbeat is older than `lease`. A dead job that was asked to stop ends `cancelled`, else `failed`."""
        now = self.plumbing.when(now)
        with self.plumbing.tx() as conn:
            running = store.running(conn)
            ended = []
            for r in running:
                gone = process_gone(r.worker or "")
                if not gone and (r.heartbeat_at is None or r.heartbeat_at >= now - lease):
                    continue
                beat = format_time(r.heartbeat_at) if r.heartbeat_at else "never"
                span = format_duration(lease.total_seconds())
                why = (f"its process ({r.worker}) ended without finishing the job" if gone
                       else f"worker lost: no heartbeat since {beat} (lease {span})")  # fmt: skip
                status = "cancelled" if r.cancel_requested else "failed"
                self._end(conn, _job(r), status, now, error=f"{why}; re-run the crew")
                ended.append(r.id)
            return [self._job_row(conn, i) for i in ended]

    def alert(
        self,
        ref: str | int,
        message: str,
        *,
        severity: str,
        actor: Actor,
        data: dict[str, Any] | None = None,
        now: datetime | None = None,
    ) -> int:
        """Raise an `alert` event for a venture from a crew (a test alert, an incident); returns the event id.

        It is routed to the notification channels like any alert of that severity (P0, P1 or P2).
        """
        now = self.plumbing.when(now)
        if severity not in ("P0", "P1", "P2"):
            raise BadInput(f"no severity '{severity}'", where="severity", hint="one of P0, P1, P2")
        if not message.strip():
            raise BadInput("an alert needs a message", where="message")
        with self.plumbing.tx() as conn:
            row = self.plumbing._row(conn, ref)
            return self.plumbing._event(
                conn, row, "alert", actor, now, reason=message[:500],
                data={**(data or {}), "severity": severity, "source": actor.name},
            )  # fmt: skip

    # -- helpers -------------------------------------------------------------------------------
    def _job_row(self, conn: Connection, job_id: int) -> Job:
        found = store.job(conn, job_id)
        if found is None:
            raise NotFound(f"no job {job_id}", where="JOB", hint="`venturegate jobs` lists them")
        return _job(found)

    def _end(
        self,
        conn: Connection,
        job: Job,
        status: str,
        now: datetime,
        *,
        error: str | None = None,
        result: dict[str, Any] | None = None,
    ) -> None:
        store.update_job(
            conn, job.id, status=status, finished_at=now, error=None if error is None else error[:2000], result=result
        )
        self.plumbing._event(
            conn, job.venture_id, f"job.{status}", SYSTEM, now, stage=job.stage,
            reason=f"job {job.id}: crew {job.crew}" + (f": {error}" if error else ""),
            data={"job": job.id, "crew": job.crew, "error": error},
        )  # fmt: skip
