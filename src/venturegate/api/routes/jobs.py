"""Crews and their jobs: list the crews; start a stage's crew for a venture (queued), list, show and cancel jobs.

A started job is queued on the app's queue (`app.state.queue_url`; None: `VENTUREGATE_QUEUE_URL` or
the workspace's SQLite queue, as `venturegate worker` and `venturegate run --queue` use), so the
in-process worker of `venturegate serve`, or a separate `venturegate worker`, runs it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Path, Query, Request, Response
from starlette.exceptions import HTTPException

from venturegate.api import schemas as s
from venturegate.api.deps import EngineDep, Reader, VentureQuery, VentureRef, require
from venturegate.crews import registry
from venturegate.crews.runner import queue_job
from venturegate.engine import Actor, Engine
from venturegate.engine.jobs import Job

log = logging.getLogger("venturegate.api")
router = APIRouter(prefix="/api", tags=["jobs"])
JobId = Annotated[int, Path(ge=1, le=s.MAX_ID, description="Job id.")]
CrewRunner = Annotated[Actor, require("run_crews")]
_QUEUE_LOCK = threading.Lock()


class QueueUnavailable(Exception):
    """The job queue refused a started job (the job is failed, not left queued for ever)."""


def _job_task(app: FastAPI, engine: Engine) -> Callable[[int], Any]:
    """The app's `venturegate.run_job` task, made on first use on the app's queue."""
    with _QUEUE_LOCK:
        task: Callable[[int], Any] | None = getattr(app.state, "job_task", None)
        if task is None:
            from venturegate.worker import make_huey, register_jobs

            task = register_jobs(make_huey(getattr(app.state, "queue_url", None)), lambda: engine)
            app.state.job_task = task
    return task


def start_crew(
    app: FastAPI,
    engine: Engine,
    venture: str | int,
    stage: int | None = None,
    crew: str | None = None,
    options: Mapping[str, Any] | None = None,
    *,
    actor: Actor,
) -> Job:
    """Create a job for the crew serving the venture's stage (default: its current one); queue it on the app's queue."""
    v = engine.venture(venture)
    stage = v.stage if stage is None else stage
    job = queue_job(engine, v.id, stage, dict(options or {}), actor=actor, crew=crew)
    try:
        _job_task(app, engine)(job.id)
    except Exception as exc:
        log.exception("could not queue job %s", job.id)
        engine.finish_job(job.id, "failed", error=f"could not queue the job: {type(exc).__name__}: {exc}")
        raise QueueUnavailable(f"the job queue refused job {job.id} ({type(exc).__name__}); it is failed") from exc
    return job


@router.post(
    "/ventures/{venture}/jobs",
    response_model=s.Job,
    status_code=202,
    responses={503: {"description": "The job queue is unreachable; the job is failed, not left queued."}},
)
def start_job(
    venture: VentureRef,
    request: Request,
    response: Response,
    engine: EngineDep,
    actor: CrewRunner,
    body: s.JobStart | None = None,
) -> dict[str, Any]:
    """Run the crew serving the venture's current stage as a job, queued for the worker (202 with the queued job)."""
    body = body or s.JobStart()
    try:
        job = start_crew(request.app, engine, venture, body.stage, body.crew, body.options, actor=actor)
    except QueueUnavailable as exc:
        raise HTTPException(503, str(exc)) from None
    response.headers["Location"] = f"/api/jobs/{job.id}"
    return job.as_dict()


@router.get("/crews", response_model=list[s.Crew])
def list_crews(_: Reader) -> list[dict[str, Any]]:
    """The crews installed (as `venturegate crews`): entry point, stage served and agents."""
    return [{"entry_point": name, **crew.describe()} for name, crew in sorted(registry.discover().items())]


@router.get("/jobs", response_model=list[s.Job])
def list_jobs(
    engine: EngineDep,
    _: Reader,
    venture: VentureQuery = None,
    status: Annotated[s.JobStatus | None, Query(description="Only this status.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Most jobs, newest first.")] = 100,
) -> list[dict[str, Any]]:
    """Crew jobs, newest first: crew, stage, status, progress, result, error."""
    return [j.as_dict() for j in engine.jobs(venture, status, limit)]


@router.get("/jobs/{job_id}", response_model=s.Job)
def show_job(job_id: JobId, engine: EngineDep, _: Reader) -> dict[str, Any]:
    """One job with its latest progress and, once it ended, its result or error."""
    return engine.job(job_id).as_dict()


@router.post("/jobs/{job_id}/cancel", response_model=s.Job)
def cancel_job(job_id: JobId, engine: EngineDep, actor: CrewRunner) -> dict[str, Any]:
    """Cancel a job: a queued one at once, a running one at its crew's next step; 409 once it has ended."""
    return engine.cancel_job(job_id, actor=actor).as_dict()
