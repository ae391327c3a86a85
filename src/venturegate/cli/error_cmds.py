"""The errors and runbook commands: the error log's figures, a manual error report, a stage's runbook."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from venturegate.cli.context import STATE, emit_json, handled, out
from venturegate.cli.escape import safe
from venturegate.cli.render import fmt
from venturegate.core.error_policy import info_from
from venturegate.engine import BadInput
from venturegate.engine.error_recovery import ErrorRecord

error_app = typer.Typer(help="Report errors by hand and read the error log.", no_args_is_help=True)
JSON_REPORT = Annotated[
    bool,
    typer.Option(
        "--json",
        help="Print JSON: errors, open, resolved_automatically, resolved_by_people, automatic_share, target, "
        "meets_target, mean_time_to_resolve_ms, by_category (each with category, the same counts, escalated, "
        "recursed, aborted).",
    ),
]
JSON_RECORD = Annotated[
    bool,
    typer.Option(
        "--json",
        help="Print JSON: id, venture_id, stage, rule_id, category, matched, why, error_type, http_status, message, "
        "operation, status, resolution, resolved_automatically, attempts, steps, escalation_code, actor, "
        "occurred_at, recorded_at, closed_at, time_to_resolve_ms (a list for `error list`).",
    ),
]


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f} ms"


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


@handled
def errors(
    venture: Annotated[str | None, typer.Option("--venture", help="Only this venture (id or name).")] = None,
    stage: Annotated[int | None, typer.Option("--stage", help="Only this stage.", min=1, max=10_000)] = None,
    as_json: JSON_REPORT = False,
) -> None:
    """Error counts by category, mean time to resolve and the share resolved without a human (target 80%)."""
    report = STATE.engine().error_report(venture, stage)
    if as_json:
        emit_json(report.as_dict())
        return
    table = Table(title="Errors by category")
    for col in ("category", "errors", "auto", "people", "escalated", "recursed", "aborted", "open", "MTTR"):
        table.add_column(col, justify="right", no_wrap=col == "category")
    for c in report.by_category:
        table.add_row(
            safe(c.category),
            str(c.errors),
            f"{c.resolved_automatically} ({_share(c.automatic_share)})",
            str(c.resolved_by_people),
            str(c.escalated),
            str(c.recursed),
            str(c.aborted),
            str(c.open),
            _ms(c.mean_time_to_resolve_ms),
        )
    out.print(table)
    verdict = {None: "", True: " — target met", False: " — below target"}[report.meets_target]
    out.print(
        f"{report.errors} errors; resolved automatically {_share(report.automatic_share)} "
        f"(target {report.target:.0%}){verdict}; mean time to resolve {_ms(report.mean_time_to_resolve_ms)}"
    )


@handled
def runbook(
    stage: Annotated[int, typer.Argument(help="Stage number.", min=1, max=10_000)],
    output: Annotated[Path | None, typer.Option("--output", help="Write the Markdown to this file.")] = None,
) -> None:
    """Write a stage's error runbook in Markdown: categories, rules, match criteria, recovery, escalation."""
    text = STATE.engine().error_runbook(stage)
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"cannot write the runbook: {exc.strerror}", where=str(output)) from None
    out.print(f"runbook of stage {stage} written to {safe(output)}")


def _print_record(r: ErrorRecord) -> None:
    automatic = "automatically" if r.resolved_automatically else "not automatically"
    out.print(safe(f"error #{r.id}: {r.rule_id} ({r.category}) — {r.status}, {automatic}; {r.resolution}"))
    out.print(safe(f"  why: {'; '.join(r.why)}"))
    for s in r.steps:
        out.print(safe(f"  {s['action']}: {s['outcome']}" + (f" — {s['detail']}" if s.get("detail") else "")))


@error_app.command("report")
@handled
def report(
    venture: Annotated[str, typer.Argument(help="Venture id or name.")],
    stage: Annotated[
        int | None, typer.Option("--stage", help="Stage whose taxonomy applies (default: current).", min=1, max=10_000)
    ] = None,
    status: Annotated[
        int | None, typer.Option("--status", help="HTTP status, if any (the engine checks the range).")
    ] = None,
    message: Annotated[str, typer.Option("--message", help="The error message.")] = "",
    types: Annotated[
        list[str] | None, typer.Option("--type", help="Exception type name (repeatable), e.g. ConnectionRefusedError.")
    ] = None,
    as_json: JSON_RECORD = False,
) -> None:
    """Report an error by hand: classify it and apply the policy (with nothing to retry, retries are skipped)."""
    if status is None and not message.strip() and not types:
        raise BadInput("say what failed", where="error report", hint="give --status, --message or --type")
    try:
        info = info_from(types or (), status, message)
    except ValueError as exc:
        raise BadInput(str(exc), where="--status") from None
    handled_error = STATE.engine().handle_error(venture, stage, info, actor=STATE.who("report_errors"))
    if as_json:
        emit_json(handled_error.record.as_dict())
    else:
        _print_record(handled_error.record)


@error_app.command("list")
@handled
def list_(
    venture: Annotated[str | None, typer.Option("--venture", help="Only this venture (id or name).")] = None,
    stage: Annotated[int | None, typer.Option("--stage", help="Only this stage.", min=1, max=10_000)] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="open, resolved, recursed, escalated or aborted.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many, newest first.", min=1, max=100_000)] = 50,
    as_json: JSON_RECORD = False,
) -> None:
    """List the error log, newest first."""
    rows = STATE.engine().error_records(venture, stage, status, limit)
    if as_json:
        emit_json([r.as_dict() for r in rows])
        return
    table = Table(title="Error log")
    for col in ("id", "venture", "stage", "rule", "category", "status", "auto", "attempts", "ms to resolve"):
        table.add_column(col, overflow="fold", no_wrap=col == "rule")
    for r in rows:
        table.add_row(
            str(r.id),
            str(r.venture_id),
            str(r.stage),
            safe(r.rule_id),
            safe(r.category),
            r.status,
            "yes" if r.resolved_automatically else "no",
            str(r.attempts),
            fmt(r.time_to_resolve_ms),
        )
    out.print(table)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `venturegate` command tree."""
    app.command("errors")(errors)
    app.command("runbook")(runbook)
    app.add_typer(error_app, name="error")
