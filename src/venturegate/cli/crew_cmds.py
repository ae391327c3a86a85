"""Crew commands: run a stage's crew (inline or on the worker), list and cancel jobs, list crews."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn
from rich.table import Table

from venturegate.cli.context import STATE, emit_json, handled, out
from venturegate.engine import BadInput
from venturegate.engine.jobs import Job

job_app = typer.Typer(help="Manage crew jobs.", no_args_is_help=True)
JOB_KEYS = (
    "id, venture_id, stage, crew, status, options, progress, result, cancel_requested, actor, worker, "
    "created_at, started_at, finished_at, heartbeat_at, error"
)


def _options(pairs: list[str]) -> dict[str, Any]:
    opts: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise BadInput(f"option '{pair}' must look like KEY=VALUE", where="--option", hint="e.g. max_examples=5")
        opts[key.strip()] = value.strip()
    return opts


@handled
def run(
    venture: Annotated[str, typer.Argument(help="Venture id or name.")],
    stage: Annotated[int, typer.Option("--stage", help="The stage whose crew runs (the venture's current stage).")],
    option: Annotated[
        list[str] | None, typer.Option("--option", "-o", help="Crew option KEY=VALUE (repeatable).")
    ] = None,
    crew: Annotated[str | None, typer.Option("--crew", help="A crew by name, when several serve the stage.")] = None,
    queue: Annotated[bool, typer.Option("--queue", help="Queue the job for `venturegate worker` instead.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help=f"Print the job as JSON: {JOB_KEYS}.")] = False,
) -> None:
    """Run a stage's crew for a venture as a job: inline with a progress bar, or queued for the worker.

    Exit codes (inline runs): 0 the run completed, 1 the job or the run failed, 2 the run sent the
    venture back (recursed), 3 it waits for something (an approval, a timer). `--queue` exits 0 once queued.
    """
    from venturegate.crews.runner import queue_job, run_job

    engine = STATE.engine()
    job = queue_job(engine, venture, stage, _options(option or []), actor=STATE.who(), crew=crew)
    if queue:
        from venturegate.worker import make_huey, register_jobs

        register_jobs(make_huey(), lambda: engine)(job.id)
        _show(engine.job(job.id), as_json, "queued for the worker")
        return
    if as_json:
        finished = run_job(engine, job.id)
        _show(finished, True, "")
        _exit(finished)
        return
    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn())
    with Progress(*columns, console=out, transient=True) as bar:
        task = bar.add_task(f"job {job.id}", total=None)

        def sink(step: str, done: int, total: int, message: str) -> None:
            bar.update(task, completed=done, total=total, description=f"{step}: {message}")

        finished = run_job(engine, job.id, sink=sink)
    _show(finished, False, "")
    _exit(finished)


EXIT_CODES = {"completed": 0, "recursed": 2, "waiting": 3}
"""The `run` command's exit code by the crew run's status (any other status, or a failed job: 1)."""


def _exit(job: Job) -> None:
    status = (job.result or {}).get("status") if job.status == "succeeded" else "failed"
    code = EXIT_CODES.get(str(status), 1)
    if code:
        raise typer.Exit(code)


def _show(job: Job, as_json: bool, note: str) -> None:
    if as_json:
        emit_json(job.as_dict())
        return
    summary = (job.result or {}).get("summary", {})
    out.print(f"job {job.id} ({job.crew}, stage {job.stage}): {job.status}" + (f" — {note}" if note else ""))
    if summary.get("outcome"):
        out.print(f"  outcome: {summary['outcome']}")
    for failure in summary.get("failures", []):
        out.print(f"  found: {failure}")
    for fired in (job.result or {}).get("fired", []):
        out.print(f"  trigger: {fired}")
    if summary.get("out_dir"):
        out.print(f"  report: {summary['out_dir']}/report.md")
    if job.error:
        out.print(f"  error: {job.error}")


@handled
def jobs(
    venture: Annotated[str | None, typer.Option("--venture", help="Only this venture (id or name).")] = None,
    status: Annotated[str | None, typer.Option("--status", help="Only jobs in this status.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help=f"Print a list of jobs: {JOB_KEYS}.")] = False,
) -> None:
    """List crew jobs, newest first (running jobs whose worker died are failed first, visibly)."""
    engine = STATE.engine()
    engine.sweep_jobs()
    found = engine.jobs(venture, status)
    if as_json:
        emit_json([j.as_dict() for j in found])
        return
    table = Table(title="Jobs")
    for col in ("id", "venture", "stage", "crew", "status", "progress", "error"):
        table.add_column(col)
    for j in found:
        p = j.progress
        prog = f"{p.get('step', '')} {p.get('done', '')}/{p.get('total', '')}" if p else ""
        table.add_row(str(j.id), str(j.venture_id), str(j.stage), j.crew, j.status, prog, (j.error or "")[:60])
    out.print(table)


@job_app.command("cancel")
@handled
def cancel(
    job_id: Annotated[int, typer.Argument(metavar="ID", help="The job's id.")],
    as_json: Annotated[bool, typer.Option("--json", help=f"Print the job as JSON: {JOB_KEYS}.")] = False,
) -> None:
    """Cancel a job: a queued one at once, a running one at its next step."""
    job = STATE.engine().cancel_job(job_id, actor=STATE.who())
    _show(job, as_json, "cancel requested" if job.status == "running" else "")


@handled
def crews(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON: entry_point, name, stage, agents.")] = False,
) -> None:
    """List the crews found through the `venturegate.crews` entry points, with their agents."""
    from venturegate.crews.registry import discover

    found = discover()
    if as_json:
        emit_json([{"entry_point": n, **c.describe()} for n, c in sorted(found.items())])
        return
    table = Table(title="Crews")
    for col in ("entry point", "crew", "stage", "agent", "substages", "role"):
        table.add_column(col)
    for name, crew in sorted(found.items()):
        for agent in crew.agents:
            table.add_row(name, crew.name, str(crew.stage), agent.name, ", ".join(agent.substages), agent.role)
    out.print(table)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `venturegate` command tree."""
    app.command("run")(run)
    app.command("jobs")(jobs)
    app.command("crews")(crews)
    app.add_typer(job_app, name="job")
