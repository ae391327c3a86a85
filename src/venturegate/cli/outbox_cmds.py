"""The outbox commands: list notifications, deliver what is due, retry a dead-lettered one."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from venturegate.cli.context import STATE, emit_json, handled, out
from venturegate.cli.data import parse_time
from venturegate.cli.escape import safe
from venturegate.core.durations import format_time

JSON = Annotated[bool, typer.Option("--json", help="Print JSON.")]
outbox_app = typer.Typer(
    help="Notifications waiting, sent and dead-lettered (without a subcommand: list them).",
    invoke_without_command=True,
)


@outbox_app.callback()
@handled
def outbox_list(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option("--status", help="pending, sent or dead.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="Most rows shown, newest first.", min=1, max=100_000)] = 200,
    as_json: JSON = False,
) -> None:
    """List notifications, newest first: channel, event, status, attempts, next attempt, last error."""
    if ctx.invoked_subcommand is not None:
        return
    rows = STATE.engine().outbox_entries(status, limit=limit)
    if as_json:
        emit_json([r.as_dict() for r in rows])
        return
    table = Table(title="Outbox")
    for col in ("id", "channel", "kind", "sev", "venture", "status", "attempts", "next attempt", "last error"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(
            str(r.id),
            safe(r.channel),
            r.kind,
            r.severity,
            "" if r.venture_id is None else str(r.venture_id),
            r.status,
            str(r.attempts),
            format_time(r.next_attempt_at) if r.status == "pending" else "",
            safe(r.last_error or ""),
        )
    out.print(table)


@outbox_app.command("deliver")
@handled
def outbox_deliver(
    now: Annotated[str | None, typer.Option("--now", help="Pretend it is this time (ISO 8601).")] = None,
    as_json: JSON = False,
) -> None:
    """Send every due notification group as one message; failures back off, the exhausted are dead-lettered."""
    STATE.who("operate")
    report = STATE.engine().deliver_outbox(parse_time(now, "--now") if now else None)
    if as_json:
        emit_json(report.as_dict())
        return
    out.print(
        f"{report.sent} of {report.claimed} notifications sent in {report.messages} messages; "
        f"{report.retrying} to retry; {len(report.dead)} dead-lettered"
    )
    for line in report.errors:
        out.print(f"  failed: {safe(line)}")
    if report.next_due:
        out.print(f"next notification due {format_time(report.next_due)}")


@outbox_app.command("retry")
@handled
def outbox_retry(
    ident: Annotated[int, typer.Argument(metavar="ID", help="Id of a dead-lettered notification.", min=1, max=2**62)],
    as_json: JSON = False,
) -> None:
    """Put a dead-lettered notification back to pending, due now, its attempts reset."""
    entry = STATE.engine().retry_outbox(ident, actor=STATE.who("operate"))
    if as_json:
        emit_json(entry.as_dict())
    else:
        out.print(f"notification #{entry.id} to {safe(entry.channel)} is pending again")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `venturegate` command tree."""
    app.add_typer(outbox_app, name="outbox")
