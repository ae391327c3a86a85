"""Stage-14 onboarding commands: show the team's checklists, check items off, record RACI approvals."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from venturegate.cli.context import STATE, emit_json, handled, out
from venturegate.cli.escape import safe

onboarding_app = typer.Typer(help="Stage-14 onboarding checklists and RACI approvals.", no_args_is_help=True)
VENTURE = Annotated[str, typer.Argument(help="Venture id or name.")]
MEMBER = Annotated[str, typer.Argument(help="The team member's id.")]
JSON = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _print(result: dict[str, Any]) -> None:
    out.print(
        f"{safe(result['team_structure'])}: onboarding {result['onboarding_completion_rate']:g}% · RACI approved "
        f"{result['raci_approval_rate']:g}% · readiness {result['readiness_score']:g}"
    )
    for fired in result.get("fired", []):
        out.print(f"  trigger: {safe(fired)}")


@onboarding_app.command("show")
@handled
def show(venture: VENTURE, as_json: JSON = False) -> None:
    """Every member's checklist and RACI approval."""
    from venturegate.crews.stage14 import onboarding

    got = onboarding.show(STATE.engine(), venture)
    if as_json:
        emit_json(got)
        return
    out.print(
        f"{safe(got['team_structure'])}: onboarding {got['onboarding_completion_rate']:g}% · "
        f"RACI approved {got['raci_approval_rate']:g}%"
    )
    table = Table()
    for col in ("member", "role", "RACI", "item", "done"):
        table.add_column(col)
    for m in got["members"]:
        for i, item in enumerate(m["items"]):
            first = i == 0
            approved = ("yes" if m["raci_approved"] else "no") if first else ""
            table.add_row(
                safe(m["id"]) if first else "",
                safe(m["role"]) if first else "",
                approved,
                safe(f"{item['id']}: {item['text']}"),
                "✓" if item["done"] else "",
            )
    out.print(table)


@onboarding_app.command("check")
@handled
def check(
    venture: VENTURE,
    member: MEMBER,
    item: Annotated[str, typer.Argument(help="The checklist item id (`onboarding show` lists them).")],
    undo: Annotated[bool, typer.Option("--undo", help="Reopen the item instead.")] = False,
    as_json: JSON = False,
) -> None:
    """Check off one item of a member's onboarding checklist."""
    from venturegate.crews.stage14 import onboarding

    got = onboarding.update(
        STATE.engine(), venture, member, actor=STATE.who("write_artifacts"), item=item, done=not undo
    )
    if as_json:
        emit_json(got)
    else:
        _print(got)


@onboarding_app.command("approve-raci")
@handled
def approve_raci(venture: VENTURE, member: MEMBER, as_json: JSON = False) -> None:
    """Record that a member approved the RACI matrix."""
    from venturegate.crews.stage14 import onboarding

    got = onboarding.update(STATE.engine(), venture, member, actor=STATE.who("write_artifacts"), approve_raci=True)
    if as_json:
        emit_json(got)
    else:
        _print(got)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `venturegate` command tree."""
    app.add_typer(onboarding_app, name="onboarding")
