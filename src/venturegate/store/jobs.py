"""Crew jobs in the store: queued, claimed, heart-beating, ended; read back as typed rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, NamedTuple

from sqlalchemy import Connection, insert, select, update

from venturegate.store.schema import jobs

JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
"""Where a job stands; the last three are final."""


class JobRow(NamedTuple):
    """A `jobs` row, typed (the column order of `select(jobs)`)."""

    id: int
    venture_id: int
    stage: int
    crew: str
    status: JobStatus
    options: dict[str, Any] | None
    progress: dict[str, Any] | None
    result: dict[str, Any] | None
    cancel_requested: bool
    actor: str
    worker: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    error: str | None


def job(conn: Connection, job_id: int) -> JobRow | None:
    """One job, or None."""
    found = conn.execute(select(jobs).where(jobs.c.id == job_id)).first()
    return None if found is None else JobRow._make(found)


def busy_job(conn: Connection, venture_id: int, stage: int) -> int | None:
    """The id of a queued or running job of the venture's stage, if any."""
    found: int | None = conn.execute(
        select(jobs.c.id).where(
            jobs.c.venture_id == venture_id, jobs.c.stage == stage, jobs.c.status.in_(("queued", "running"))
        )
    ).scalar()
    return found


def insert_job(
    conn: Connection, *, venture_id: int, stage: int, crew: str, options: dict[str, Any], actor: str, now: datetime
) -> int:
    """Queue a job; returns its id."""
    job_id: int = conn.execute(
        insert(jobs)
        .values(
            venture_id=venture_id,
            stage=stage,
            crew=crew,
            status="queued",
            options=options,
            progress={},
            cancel_requested=False,
            actor=actor,
            created_at=now,
        )
        .returning(jobs.c.id)
    ).scalar_one()
    return job_id


def start(conn: Connection, job_id: int, worker: str, now: datetime) -> bool:
    """queued → running, unless another worker got there first; whether this call started it."""
    done = conn.execute(
        update(jobs)
        .where(jobs.c.id == job_id, jobs.c.status == "queued")
        .values(status="running", started_at=now, heartbeat_at=now, worker=worker)
    ).rowcount
    return done == 1


def beat(conn: Connection, job_id: int, now: datetime, progress: dict[str, Any] | None) -> bool | None:
    """A running job's heartbeat (and progress, when given); whether cancellation was requested, None: no job."""
    values: dict[str, Any] = {"heartbeat_at": now}
    if progress is not None:
        values["progress"] = progress
    conn.execute(update(jobs).where(jobs.c.id == job_id, jobs.c.status == "running").values(**values))
    found: bool | None = conn.execute(select(jobs.c.cancel_requested).where(jobs.c.id == job_id)).scalar()
    return found


def update_job(conn: Connection, job_id: int, **values: Any) -> None:
    """Set columns of one job."""
    conn.execute(update(jobs).where(jobs.c.id == job_id).values(**values))


def job_rows(conn: Connection, venture_id: int | None, status: str | None, limit: int) -> list[JobRow]:
    """Jobs, newest first (one venture's, of one status), at most `limit`."""
    query = select(jobs).order_by(jobs.c.id.desc()).limit(limit)
    if venture_id is not None:
        query = query.where(jobs.c.venture_id == venture_id)
    if status is not None:
        query = query.where(jobs.c.status == status)
    return [JobRow._make(r) for r in conn.execute(query)]


def running(conn: Connection) -> list[JobRow]:
    """Every running job."""
    return [JobRow._make(r) for r in conn.execute(select(jobs).where(jobs.c.status == "running"))]
