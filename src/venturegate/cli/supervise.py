"""Commands that watch ventures over time: triggers, escalations, timers, the worker, figures."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from venturegate.cli.context import STATE, emit_json, handled, out
from venturegate.cli.data import fired_lines, parse_time
from venturegate.cli.escape import safe
from venturegate.core.durations import format_duration, format_time

escalation_app = typer.Typer(help="Resolve escalations.", no_args_is_help=True)
JSON = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@handled
def triggers(
    venture: Annotated[str, typer.Argument(help="Venture id or name.")],
    as_json: JSON = False,
) -> None:
    """Show each trigger of the venture's current stage: state, since, last value, times fired."""
    rows = STATE.engine().trigger_status(venture)
    if as_json:
        emit_json(rows)
        return
    table = Table(title="Triggers")
    for col in ("trigger", "kind", "mode", "state", "since", "last value", "fired", "acted", "max"):
        table.add_column(col, overflow="fold")
    for r in rows:
        last = r["last_value"]
        value = "—" if not last else f"{last.get('verdict', last.get('value'))}: {last.get('reason', '')}".strip(": ")
        table.add_row(
            r["trigger"],
            r["kind"],
            r["mode"],
            r["state"],
            r["since"] or "",
            safe(value),
            str(r["fired"]),
            str(r["acted"]),
            str(r["max"] or "—"),
        )
    out.print(table)


@handled
def escalations(
    status: Annotated[str | None, typer.Option("--status", help="open or resolved.")] = None,
    as_json: JSON = False,
) -> None:
    """List escalations, newest first."""
    rows = STATE.engine().escalations(status)
    if as_json:
        emit_json([e.as_dict() for e in rows])
        return
    table = Table(title="Escalations")
    for col in ("code", "venture", "stage", "trigger", "role", "status", "reason"):
        table.add_column(col, overflow="fold")
    for e in rows:
        table.add_row(
            e.code, str(e.venture_id), str(e.stage), e.trigger_id or "", safe(e.role), e.status, safe(e.reason)
        )
    out.print(table)


@escalation_app.command("resolve")
@handled
def resolve(
    ident: Annotated[
        str, typer.Argument(metavar="ID", help="Escalation id or code (SD-28-ESCALATION-1).", min=1, max=2**62)
    ],
    resume_at: Annotated[str, typer.Option("--resume-at", help="Stage (14) or substage of its stage (28.2).")],
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded).")] = "",
    as_json: JSON = False,
) -> None:
    """Close an escalation and resume the venture at a stage or substage."""
    e = STATE.engine().resolve_escalation(ident, resume_at, actor=STATE.who("resolve_escalations"), reason=reason)
    if as_json:
        emit_json(e.as_dict())
    else:
        out.print(f"{e.code} resolved by {safe(e.resolved_by)}; venture {e.venture_id} resumes at {safe(e.resume_at)}")


@handled
def tick(
    now: Annotated[str | None, typer.Option("--now", help="Pretend it is this time (ISO 8601).")] = None,
    as_json: JSON = False,
) -> None:
    """Run whatever timers are due (for cron-less setups and tests)."""
    STATE.who("operate")
    report = STATE.engine().tick(now=parse_time(now, "--now") if now else None)
    if as_json:
        emit_json(report.as_dict())
        return
    out.print(f"ran {report.timers} timers; {len(report.expired)} approvals expired; {len(report.stale)} stale metrics")
    fired_lines(report.fired)
    if report.next_due:
        out.print(f"next timer due {format_time(report.next_due)}")


@handled
def worker(workers: Annotated[int, typer.Option("--workers", help="Consumer threads.", min=1, max=64)] = 1) -> None:
    """Run the job-queue consumer that wakes the engine when timers fall due (VENTUREGATE_QUEUE_URL)."""
    from venturegate.worker import run_worker

    run_worker(STATE.url(), workers, STATE.workflow)  # its notification routes and channels come from the workflow


@handled
def stats(
    stage: Annotated[int | None, typer.Option("--stage", help="Only this stage.", min=1, max=10_000)] = None,
    as_json: JSON = False,
) -> None:
    """Automation level, execution time, recursions and escalations per stage, from the event log."""
    rows = STATE.engine().stats(stage)
    if as_json:
        emit_json([r.as_dict() for r in rows])
        return
    table = Table(title="Stage figures")
    for col in ("stage", "mode", "visits", "done", "automation", "mean time", "recursions", "rate", "escalations"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(
            str(r.stage),
            r.mode,
            str(r.visits),
            str(r.completed_visits),
            "—" if r.automation_level is None else f"{r.automation_level:.0%}",
            "—" if r.mean_execution_hours is None else format_duration(round(r.mean_execution_hours * 3600)),
            str(r.recursions),
            "—" if r.recursion_rate is None else f"{r.recursion_rate:.2f}",
            str(r.escalations),
        )
    out.print(table)


progression_app = typer.Typer(help="Progression modes (manual → assisted → auto) per stage.", no_args_is_help=True)


@progression_app.command("show")
@handled
def progression_show(
    stage: Annotated[int | None, typer.Option("--stage", help="Only this stage.", min=1, max=10_000)] = None,
    as_json: JSON = False,
) -> None:
    """Show stage-wide and per-venture modes with their successful and failed runs."""
    rows = STATE.engine().progression(stage)
    if as_json:
        emit_json(rows)
        return
    table = Table(title="Progression modes (stages not listed use their definition's mode)")
    for col in ("stage", "venture", "mode", "successes", "failures"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            str(r["stage"]), str(r["venture_id"] or "all"), r["mode"], str(r["successes"]), str(r["failures"])
        )
    out.print(table)


@progression_app.command("set")
@handled
def progression_set(
    stage: Annotated[int, typer.Argument(help="Stage number.", min=1, max=10_000)],
    mode: Annotated[str, typer.Argument(help="manual, assisted, auto; or 'default' to drop a venture's override.")],
    venture: Annotated[str | None, typer.Option("--venture", help="Only for this venture.")] = None,
) -> None:
    """Set a stage's progression mode, stage-wide or for one venture."""
    STATE.engine().set_progression(
        stage, None if mode == "default" else mode, actor=STATE.who("change_config"), venture=venture
    )
    out.print(f"stage {stage} {'for ' + venture if venture else 'stage-wide'}: {mode}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `venturegate` command tree."""
    app.command("triggers")(triggers)
    app.command("escalations")(escalations)
    app.add_typer(escalation_app, name="escalation")
    app.command("tick")(tick)
    app.command("worker")(worker)
    app.command("stats")(stats)
    app.add_typer(progression_app, name="progression")
