"""Commands for approvals: request, approve, reject, list."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from venturegate.cli.context import STATE, emit_json, handled, out

approval_app = typer.Typer(help="Request and decide approvals.", no_args_is_help=True)
JSON = Annotated[bool, typer.Option("--json", help="Print JSON.")]
REASON = Annotated[str, typer.Option("--reason", help="Why (recorded).")]


@approval_app.command("request")
@handled
def request(
    venture: Annotated[str, typer.Argument(help="Venture id or name.")],
    role: Annotated[str, typer.Option("--role", help="Role that must decide (e.g. chairman).")],
    reason: REASON = "",
    as_json: JSON = False,
) -> None:
    """Ask a role to approve the venture's current stage; the timeout comes from the stage's policy."""
    a = STATE.engine().request_approval(venture, role, actor=STATE.who(), reason=reason)
    if as_json:
        emit_json(a.as_dict())
    else:
        out.print(f"approval #{a.id} requested from {a.role}, expires {a.expires_at}")


def _decide(verb: str, approve: bool) -> None:
    @approval_app.command(verb)
    @handled
    def command(
        approval_id: Annotated[int, typer.Argument(metavar="ID", help="Approval id.")],
        reason: REASON = "",
        as_json: JSON = False,
    ) -> None:
        a = STATE.engine().decide_approval(approval_id, approve, actor=STATE.who(), reason=reason)
        if as_json:
            emit_json(a.as_dict())
        else:
            out.print(f"approval #{a.id} {a.status} by {a.decided_by}")

    command.__doc__ = f"{verb.capitalize()} a pending approval (only its role may)."


_decide("approve", True)
_decide("reject", False)


@approval_app.command("list")
@handled
def list_(
    venture: Annotated[str | None, typer.Argument(help="Venture id or name (all when omitted).")] = None,
    status: Annotated[str | None, typer.Option("--status", help="pending, approved, rejected, expired…")] = None,
    as_json: JSON = False,
) -> None:
    """List approval requests, newest first."""
    rows = STATE.engine().approvals(venture, status)
    if as_json:
        emit_json([a.as_dict() for a in rows])
        return
    table = Table(title="Approvals")
    for col in ("id", "venture", "stage", "role", "status", "requested", "expires", "decided by"):
        table.add_column(col)
    for a in rows:
        table.add_row(
            str(a.id),
            str(a.venture_id),
            str(a.stage),
            a.role,
            a.status,
            a.requested_at.strftime("%Y-%m-%d %H:%M"),
            a.expires_at.strftime("%Y-%m-%d %H:%M") if a.expires_at else "",
            a.decided_by or "",
        )
    out.print(table)
