"""Commands for approvals: request, approve, reject, bypass in an emergency, review a bypass, list."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from venturegate.cli.context import STATE, emit_json, handled, out
from venturegate.cli.escape import safe
from venturegate.engine.approvals import ReviewedApproval

approval_app = typer.Typer(help="Request, decide and bypass approvals; review bypasses.", no_args_is_help=True)
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
    a = STATE.engine().request_approval(venture, role, actor=STATE.who("request_approvals"), reason=reason)
    if as_json:
        emit_json(a.as_dict())
    else:
        out.print(f"approval #{a.id} requested from {safe(a.role)}, expires {a.expires_at}")


def _decide(verb: str, approve: bool) -> None:
    @approval_app.command(verb)
    @handled
    def command(
        approval_id: Annotated[int, typer.Argument(metavar="ID", help="Approval id.", min=1, max=2**62)],
        reason: REASON = "",
        as_json: JSON = False,
    ) -> None:
        a = STATE.engine().decide_approval(approval_id, approve, actor=STATE.who("decide_approvals"), reason=reason)
        if as_json:
            emit_json(a.as_dict())
        else:
            out.print(f"approval #{a.id} {a.status} by {safe(a.decided_by)}")

    command.__doc__ = f"{verb.capitalize()} a pending approval (only its role may)."


_decide("approve", True)
_decide("reject", False)


@approval_app.command("bypass")
@handled
def bypass(
    approval_id: Annotated[int, typer.Argument(metavar="ID", help="Approval id.", min=1, max=2**62)],
    reason: Annotated[
        str, typer.Option("--reason", help="Why it cannot wait (mandatory unless the policy says not).")
    ] = "",
    as_json: JSON = False,
) -> None:
    """Grant a pending approval in an emergency (roles in its bypass policy only); flags the venture until reviewed."""
    a = STATE.engine().bypass_approval(approval_id, actor=STATE.who("bypass_approvals"), reason=reason)
    if as_json:
        emit_json(a.as_dict())
    else:
        out.print(
            f"approval #{a.id} bypassed by {safe(a.decided_by)}; the venture is flagged until the bypass is reviewed"
        )


@approval_app.command("review")
@handled
def review(
    approval_id: Annotated[int, typer.Argument(metavar="ID", help="Id of a bypassed approval.", min=1, max=2**62)],
    reason: Annotated[str, typer.Option("--reason", help="The review's finding (mandatory).")] = "",
    as_json: JSON = False,
) -> None:
    """Review an emergency bypass (the escalation role, not the person who bypassed); lifts the venture's flag."""
    a = STATE.engine().review_bypass(approval_id, actor=STATE.who("decide_approvals"), reason=reason)
    if as_json:
        emit_json(a.as_dict())
    else:
        out.print(f"bypass of approval #{a.id} reviewed by {safe(a.reviewed_by)}")


@approval_app.command("list")
@handled
def list_(
    venture: Annotated[str | None, typer.Argument(help="Venture id or name (all when omitted).")] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="pending, approved, rejected, expired, bypassed")
    ] = None,
    unreviewed: Annotated[bool, typer.Option("--unreviewed", help="Only bypasses awaiting review.")] = False,
    as_json: JSON = False,
) -> None:
    """List approval requests, newest first (`--unreviewed`: the bypasses that flag their ventures)."""
    rows = STATE.engine().approvals(venture, status, unreviewed=unreviewed)
    if as_json:
        emit_json([a.as_dict() for a in rows])
        return
    table = Table(title="Approvals")
    for col in ("id", "venture", "stage", "role", "status", "requested", "expires", "decided by", "review"):
        table.add_column(col)
    for a in rows:
        table.add_row(
            str(a.id),
            str(a.venture_id),
            str(a.stage),
            safe(a.role),
            a.status,
            a.requested_at.strftime("%Y-%m-%d %H:%M"),
            a.expires_at.strftime("%Y-%m-%d %H:%M") if a.expires_at else "",
            safe(a.decided_by or ""),
            _review(a),
        )
    out.print(table)


def _review(a: ReviewedApproval) -> str:
    if a.awaiting_review:
        return "[red]⚑ open[/red]"
    return f"by {safe(a.reviewed_by)}" if a.reviewed_by else ""


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `venturegate` command tree."""
    app.add_typer(approval_app, name="approval")
