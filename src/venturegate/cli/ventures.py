"""Commands about a venture's lifecycle: create, list, show, status, substages, attestations, gates, advance, events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import typer

from venturegate.cli.context import STATE, emit_json, handled, out
from venturegate.cli.data import parse_time
from venturegate.cli.escape import safe
from venturegate.cli.render import events_table, gate_result, levels_table, metric_levels, ventures_table
from venturegate.core.gates import GateName
from venturegate.engine.records import Approval

venture_app = typer.Typer(help="Create, list, show, pause, resume and kill ventures.", no_args_is_help=True)
substage_app = typer.Typer(help="Work on the substages of a venture's current stage.", no_args_is_help=True)
gate_app = typer.Typer(help="Judge a venture's gates.", no_args_is_help=True)

JSON = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
VENTURE = Annotated[str, typer.Argument(help="Venture id or name.")]
REASON = Annotated[str, typer.Option("--reason", help="Why (recorded on the event).")]


@venture_app.command("create")
@handled
def create(
    name: Annotated[str, typer.Argument(help="Unique venture name.")],
    segment: Annotated[str, typer.Option("--segment", help="b2b_enterprise, b2b_smb, b2c_mass or b2c_premium.")],
    stage: Annotated[int, typer.Option("--stage", help="Stage to start in.", min=1, max=10_000)] = 1,
    as_json: JSON = False,
) -> None:
    """Create a venture pinned to the current workflow version and enter its start stage."""
    actor = STATE.who("manage_ventures")
    v = STATE.engine(create=True).create_venture(name, segment, stage, actor=actor)
    if as_json:
        emit_json(v.as_dict())
    else:
        extra = " (blocked: entry gate not passed — see `gate check --entry`)" if v.status == "blocked" else ""
        out.print(f"created venture {v.id} '{safe(v.name)}' ({safe(v.segment)}) at stage {v.stage}{extra}")


@venture_app.command("list")
@handled
def list_(
    stage: Annotated[
        int | None, typer.Option("--stage", help="Only ventures in this stage.", min=1, max=10_000)
    ] = None,
    status: Annotated[str | None, typer.Option("--status", help="Only this status.")] = None,
    as_json: JSON = False,
) -> None:
    """List ventures."""
    eng = STATE.engine()
    rows = eng.ventures(stage, status)
    flags = _flags(eng.unreviewed_bypasses())
    if as_json:
        emit_json([{**v.as_dict(), **_flag_json(flags.get(v.id, []))} for v in rows])
    else:
        ventures_table(rows)
        for v in rows:
            _print_flag(v.name, flags.get(v.id, []))


@venture_app.command("show")
@handled
def show(venture: VENTURE, as_json: JSON = False) -> None:
    """Show a venture: status, stage visits, substages and open approvals."""
    eng = STATE.engine()
    v = eng.venture(venture)
    visits = eng.visits(v.id)
    subs = eng.substages(v.id)
    pending = eng.approvals(v.id, "pending")
    unreviewed = [a.id for a in eng.unreviewed_bypasses(v.id)]
    levels = metric_levels(eng, v)
    if as_json:
        emit_json(
            {
                **v.as_dict(),
                **_flag_json(unreviewed),
                "visits": [x.as_dict() for x in visits],
                "substages": [s.as_dict() for s in subs],
                "pending_approvals": [a.as_dict() for a in pending],
                "metrics": levels,
            }
        )
        return
    ventures_table([v], title=f"Venture {safe(v.name)}")
    _print_flag(v.name, unreviewed)
    for s in subs:
        mark = "[green]✓[/green]" if s.status == "done" else "·"
        out.print(f"  {mark} {s.id} {safe(s.title)}" + (f" — by {safe(s.completed_by)}" if s.completed_by else ""))
    for a in pending:
        out.print(f"  approval #{a.id} pending for {a.role} until {a.expires_at}")
    if v.status_detail:
        out.print(f"  detail: {safe(v.status_detail.get('reason', 'entry gate not passed'))}")
    levels_table(levels)


def _flags(bypasses: Sequence[Approval]) -> dict[int, list[int]]:
    """Venture id → ids of its bypassed approvals awaiting review (what flags it)."""
    out_: dict[int, list[int]] = {}
    for a in bypasses:
        out_.setdefault(a.venture_id, []).append(a.id)
    return out_


def _flag_json(approval_ids: list[int]) -> dict[str, bool | list[int]]:
    return {"flagged": bool(approval_ids), "unreviewed_bypasses": approval_ids}


def _print_flag(name: str, approval_ids: list[int]) -> None:
    if approval_ids:
        ids = ", ".join(f"#{i}" for i in approval_ids)
        out.print(
            f"  [bold red]⚑ {safe(name)} is flagged[/bold red]: "
            f"bypassed approval {ids} awaits review (`approval review ID`)"
        )


def _status(verb: str) -> None:
    @venture_app.command(verb)
    @handled
    def command(venture: VENTURE, reason: REASON = "", as_json: JSON = False) -> None:
        eng = STATE.engine()
        v = getattr(eng, verb)(venture, actor=STATE.who("manage_ventures"), reason=reason)
        if as_json:
            emit_json(v.as_dict())
        else:
            out.print(f"venture '{safe(v.name)}' is now {v.status}")

    command.__doc__ = {
        "pause": "Pause a venture: nothing advances it until it is resumed.",
        "resume": "Resume a paused venture; its entry gate is judged again.",
        "kill": "Stop a venture for good.",
    }[verb]


for _verb in ("pause", "resume", "kill"):
    _status(_verb)


@substage_app.command("complete")
@handled
def complete(
    venture: VENTURE,
    substage: Annotated[str, typer.Argument(help="Substage id, e.g. 19.1.")],
    item: Annotated[list[str] | None, typer.Option("--item", help="A done-when item (repeat); default: all.")] = None,
    as_json: JSON = False,
) -> None:
    """Complete a substage of the current stage, attesting its done-when items."""
    s = STATE.engine().complete_substage(venture, substage, actor=STATE.who("complete_substages"), items=item)
    if as_json:
        emit_json(s.as_dict())
    else:
        out.print(f"substage {s.id} {s.title} complete ({len(s.items)} items attested)")


@substage_app.command("reopen")
@handled
def reopen(
    venture: VENTURE,
    substage: Annotated[list[str], typer.Argument(help="Substage ids of the current stage, e.g. 19.1 19.2.")],
    reason: Annotated[str, typer.Option("--reason", help="Why they are measured again (recorded).")],
    as_json: JSON = False,
) -> None:
    """Re-open completed substages of the current stage so that they are done (and measured) again."""
    opened = STATE.engine().reopen_substages(venture, substage, actor=STATE.who("complete_substages"), reason=reason)
    if as_json:
        emit_json([s.as_dict() for s in opened])
    elif opened:
        out.print("re-opened " + ", ".join(f"{s.id} {s.title}" for s in opened))
    else:
        out.print("nothing to re-open: " + ", ".join(substage) + " not complete")


def attest(
    venture: VENTURE,
    criterion: Annotated[str, typer.Argument(help="The written gate criterion, exactly as defined.")],
    as_json: JSON = False,
) -> None:
    """Attest a written gate criterion of the current stage."""
    STATE.engine().attest(venture, criterion, actor=STATE.who("attest"))
    if as_json:
        emit_json({"venture": venture, "criterion": criterion, "attested": True})
    else:
        out.print(f'attested "{safe(criterion)}"')


@gate_app.command("check")
@handled
def check(
    venture: VENTURE,
    entry: Annotated[bool, typer.Option("--entry", help="Judge the entry gate.")] = False,
    exit_: Annotated[bool, typer.Option("--exit", help="Judge the exit gate (default).")] = False,
    at: Annotated[str | None, typer.Option("--at", help="Judge as of this time (ISO 8601; default now).")] = None,
    as_json: JSON = False,
) -> None:
    """Judge the current stage's gate and explain every check; exits 3 when it does not pass."""
    gate: GateName = "entry" if entry and not exit_ else "exit"
    eng = STATE.engine()
    v = eng.venture(venture)
    result = eng.check_gate(v.id, gate, now=parse_time(at, "--at") if at else None)
    if as_json:
        emit_json(
            {
                "venture": v.name,
                "stage": result.stage,
                "gate": result.gate,
                "passed": result.passed,
                "checks": [c.as_dict() for c in result.checks],
            }
        )
    else:
        gate_result(result, v)
    if not result.passed:
        raise typer.Exit(3)


def advance(
    venture: VENTURE,
    expected_stage: Annotated[
        int | None,
        typer.Option("--from-stage", help="Refuse unless the venture is still in this stage.", min=1, max=10_000),
    ] = None,
    as_json: JSON = False,
) -> None:
    """Advance a venture whose exit gate passes into the next stage; exits 3 with the explanation otherwise."""
    eng = STATE.engine()
    before = eng.venture(venture)
    v = eng.advance(before.id, actor=STATE.who("advance"), expected_stage=expected_stage)
    if as_json:
        emit_json({**v.as_dict(), "from_stage": before.stage})
    else:
        note = " (blocked: entry gate not passed)" if v.status == "blocked" else ""
        out.print(
            f"venture '{safe(v.name)}' advanced from stage {before.stage} to {v.stage}{note}"
            if v.status != "completed"
            else f"venture '{safe(v.name)}' completed the workflow"
        )


def events(
    venture: Annotated[str | None, typer.Argument(help="Venture id or name (all ventures when omitted).")] = None,
    kind: Annotated[str | None, typer.Option("--kind", help="Only events whose kind starts with this.")] = None,
    after: Annotated[int, typer.Option("--after", help="Only events with a larger id (paging).", min=0, max=2**62)] = 0,
    limit: Annotated[int, typer.Option("--limit", help="At most this many.", min=1, max=100_000)] = 100,
    as_json: JSON = False,
) -> None:
    """Show the append-only event log."""
    rows = STATE.engine().events(venture, kind=kind, after_id=after, limit=limit)
    if as_json:
        emit_json([e.as_dict() for e in rows])
    else:
        events_table(rows)


attest = handled(attest)
advance = handled(advance)
events = handled(events)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `venturegate` command tree."""
    app.add_typer(venture_app, name="venture")
    app.add_typer(substage_app, name="substage")
    app.command("attest")(attest)
    app.add_typer(gate_app, name="gate")
    app.command("advance")(advance)
    app.command("events")(events)
