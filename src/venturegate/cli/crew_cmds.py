"""Crew commands: run a stage's crew (inline or on the worker), list and cancel jobs, list crews."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn
from rich.table import Table

from venturegate.cli.context import STATE, emit_json, err, handled, out
from venturegate.cli.escape import safe
from venturegate.crews.base import CancelToken
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
    stage: Annotated[
        int, typer.Option("--stage", help="The stage whose crew runs (the venture's current stage).", min=1, max=10_000)
    ],
    option: Annotated[
        list[str] | None, typer.Option("--option", "-o", help="Crew option KEY=VALUE (repeatable).")
    ] = None,
    crew: Annotated[str | None, typer.Option("--crew", help="A crew by name, when several serve the stage.")] = None,
    queue: Annotated[bool, typer.Option("--queue", help="Queue the job for `venturegate worker` instead.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help=f"Print the job as JSON: {JOB_KEYS}.")] = False,
) -> None:
    """Run a stage's crew for a venture as a job: inline with a progress bar, or queued for the worker.

    Exit codes: 0 completed, 1 failed, 3 sent back (recursed; stage 30: rolled back), 4 waiting (for an
    approval), 5 cancelled (SIGTERM, Ctrl-C or `job cancel`: the crew stops cleanly).
    """
    from venturegate.crews.runner import queue_job, run_job

    engine = STATE.engine()
    job = queue_job(engine, venture, stage, _options(option or []), actor=STATE.who("run_crews"), crew=crew)
    if queue:
        from venturegate.worker import make_huey, register_jobs

        register_jobs(make_huey(), lambda: engine)(job.id)
        _show(engine.job(job.id), as_json, "queued for the worker")
        return
    cancel = CancelToken()
    with _stop_on_signals(cancel):
        if as_json:
            finished = run_job(engine, job.id, cancel=cancel)
            _show(finished, True, "")
        else:
            columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn())
            with Progress(*columns, console=out, transient=True) as bar:
                task = bar.add_task(f"job {job.id}", total=None)

                def sink(step: str, done: int, total: int, message: str) -> None:
                    bar.update(task, completed=done, total=total, description=safe(f"{step}: {message}"))

                finished = run_job(engine, job.id, sink=sink, cancel=cancel)
            _show(finished, False, "")
    code = exit_code(finished)
    if code:
        raise typer.Exit(code)


EXIT_CODES = {"completed": 0, "failed": 1, "recursed": 3, "waiting": 4, "cancelled": 5}
"""`venturegate run`'s exit code by how the crew run ended (a job that failed outright: 1)."""


def exit_code(job: Job) -> int:
    """0 only when the crew completed its stage's work (for stage 30: the release reached 100 % and was verified)."""
    if job.status == "cancelled":
        return EXIT_CODES["cancelled"]
    if job.status != "succeeded":
        return 1
    return EXIT_CODES.get(str((job.result or {}).get("status", "failed")), 1)


@contextlib.contextmanager
def _stop_on_signals(cancel: CancelToken) -> Iterator[None]:
    """SIGTERM and SIGINT ask the run to stop (it cleans up: stage 30 moves traffic back to blue, stops green);
    a second one stops at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def ask(signum: int, frame: object) -> None:
        if cancel.cancelled_locally:
            raise KeyboardInterrupt
        cancel.cancel()
        err.print(f"{signal.Signals(signum).name}: stopping the run cleanly (again to stop at once)")

    previous = {sig: signal.signal(sig, ask) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _show(job: Job, as_json: bool, note: str) -> None:
    if as_json:
        emit_json(job.as_dict())
        return
    summary = (job.result or {}).get("summary", {})
    out.print(safe(f"job {job.id} ({job.crew}, stage {job.stage}): {job.status}" + (f" — {note}" if note else "")))
    if summary.get("outcome"):
        out.print(f"  outcome: {safe(summary['outcome'])}")
    for failure in summary.get("failures", []):
        out.print(f"  found: {safe(failure)}")
    for fired in (job.result or {}).get("fired", []):
        out.print(f"  trigger: {safe(fired)}")
    if summary.get("production_url"):
        out.print(f"  production: {safe(summary['production_url'])}")
    if summary.get("out_dir"):
        out.print(f"  report: {safe(summary['out_dir'])}/report.md")
    if job.error:
        out.print(f"  error: {safe(job.error)}")


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
        table.add_row(
            str(j.id), str(j.venture_id), str(j.stage), safe(j.crew), j.status, safe(prog), safe((j.error or "")[:60])
        )
    out.print(table)


@job_app.command("cancel")
@handled
def cancel(
    job_id: Annotated[int, typer.Argument(metavar="ID", help="The job's id.", min=1, max=2**62)],
    as_json: Annotated[bool, typer.Option("--json", help=f"Print the job as JSON: {JOB_KEYS}.")] = False,
) -> None:
    """Cancel a job: a queued one at once, a running one at its next step."""
    job = STATE.engine().cancel_job(job_id, actor=STATE.who("run_crews"))
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
            cells = (name, crew.name, crew.stage, agent.name, ", ".join(agent.substages), agent.role)
            table.add_row(*map(safe, cells))
    out.print(table)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `venturegate` command tree."""
    app.command("run")(run)
    app.command("jobs")(jobs)
    app.command("crews")(crews)
    app.add_typer(job_app, name="job")
