"""Running a crew as a job: queue it, claim it, run it with progress and cancellation, record how it ended."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from venturegate.crews.base import Cancelled, CancelToken, CrewContext, CrewResult, ProgressSink
from venturegate.crews.registry import crew_for_stage, crews_serving
from venturegate.engine.actors import Actor
from venturegate.engine.exceptions import BadInput, Conflict, Forbidden
from venturegate.engine.jobs import Job, worker_id

if TYPE_CHECKING:
    from venturegate.engine import Engine

log = logging.getLogger("venturegate.crews")


def queue_job(
    engine: Engine,
    venture: str | int,
    stage: int,
    options: dict[str, Any] | None = None,
    *,
    actor: Actor,
    crew: str | None = None,
) -> Job:
    """Queue a run of the crew serving `stage` (checked to exist and serve that stage now, not in the worker).

    A crew of another stage than the venture's is a `Conflict` (the request is well formed; the venture's
    state makes it inapplicable); a crew of the venture's stage asked to run another stage is `BadInput`.
    """
    name, found = crew_for_stage(stage, crew)
    if found.stage != stage:
        current = engine.venture(venture)
        if found.stage != current.stage:
            raise Conflict(
                f"crew '{name}' serves stage {found.stage}; venture '{current.name}' is at stage {current.stage}",
                hint=f"crews of stage {current.stage}: {', '.join(crews_serving(current.stage)) or 'none'}",
                where="--crew",
            )
        raise BadInput(
            f"crew '{name}' serves stage {found.stage}, not {stage}",
            where="--crew",
            hint=f"crews of stage {stage}: {', '.join(crews_serving(stage)) or 'none'}",
        )
    known = getattr(found, "options", None)
    unknown = sorted(set(options or {}) - set(known)) if isinstance(known, Mapping) else []
    if unknown:
        raise BadInput(
            f"unknown option(s) for crew '{name}': {', '.join(unknown)}",
            where="--option",
            hint=f"known options: {', '.join(sorted(known or {}))}",
        )
    operator_only = sorted(set(options or {}) & getattr(found, "operator_options", frozenset()))
    if operator_only and actor.kind == "agent":
        raise Forbidden(
            f"--option: option(s) {', '.join(operator_only)} of crew '{name}' name code the worker runs or a "
            f"database it changes: an agent may not set them ({actor.name} is an agent; a person starts such a run)"
        )
    engine.sweep_jobs()  # a job whose process died must not block this run
    return engine.create_job(venture, stage, name, options, actor=actor)


def run_job(
    engine: Engine,
    job_id: int,
    *,
    worker: str | None = None,
    sink: ProgressSink | None = None,
    cancel: CancelToken | None = None,
    output_root: Path | None = None,
) -> Job:
    """Claim a queued job and run its crew to the end; the job's row says how it ended (never raises for it).

    `cancel` lets the caller stop the run (a signal handler, say); the job's own cancel flag is polled too.
    `output_root` is the crew root of this run (the server's choice; default `crews.paths.crew_root`).
    """
    job = engine.claim_job(job_id, worker=worker or worker_id("inline"))
    if job is None:
        return engine.job(job_id)
    try:
        name, crew = crew_for_stage(job.stage, job.crew)
        venture = engine.venture(job.venture_id)
        ctx = CrewContext(
            engine=engine,
            venture=venture.name,
            stage=job.stage,
            actor=Actor(name, "agent", "agent"),
            options=dict(job.options),
            job_id=job.id,
            sink=sink,
            cancel=cancel if cancel is not None else CancelToken(),
            output_root=output_root,
        )
        ctx.cancel.poll_with(lambda: engine.heartbeat_job(job_id))
        ctx.checkpoint()
        result: CrewResult = crew.run(ctx)
    except Cancelled as exc:
        return engine.finish_job(job_id, "cancelled", error=str(exc) or "cancelled at a step boundary")
    except Exception as exc:
        log.error("job %s failed:\n%s", job_id, traceback.format_exc())
        return engine.finish_job(job_id, "failed", error=f"{type(exc).__name__}: {exc}")
    status = "failed" if result.status == "failed" else "succeeded"
    return engine.finish_job(job_id, status, result=result.as_dict(), error=result.summary.get("error"))
