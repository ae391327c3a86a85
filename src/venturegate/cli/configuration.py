"""The config, snapshot and rollback commands."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table
from typer.core import TyperGroup

from venturegate.cli.context import STATE, emit_json, handled, out
from venturegate.cli.escape import safe
from venturegate.engine.configuration import DiffEntry
from venturegate.engine.rollbacks import RollbackRecord

JSON = Annotated[bool, typer.Option("--json", help="Print JSON.")]
VENTURE = Annotated[str, typer.Argument(help="Venture id or name.")]


class _DefaultRun(TyperGroup):
    """`rollback VENTURE …` is short for `rollback run VENTURE …` (the group's other command is `plan`)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


config_app = typer.Typer(help="Read and change a venture's configuration; snapshots.", no_args_is_help=True)
rollback_app = typer.Typer(
    cls=_DefaultRun,
    help="Roll configuration back (`rollback VENTURE --to X` runs `rollback run`), plan a rollback, read the log.",
    no_args_is_help=True,
)


def _show(value: object) -> str:
    """A value as the terminal may print it (untrusted text escaped)."""
    return "—" if value is None else safe(json.dumps(value) if isinstance(value, list | bool) else value)


def _diff_table(title: str, changes: list[DiffEntry]) -> None:
    if not changes:
        out.print(f"{title}: no differences")
        return
    table = Table(title=title)
    for col in ("key", "before", "after"):
        table.add_column(col, overflow="fold")
    for e in changes:
        table.add_row(safe(e.key), f"{_show(e.before)} ({e.before_source})", f"{_show(e.after)} ({e.after_source})")
    out.print(table)


@config_app.command("get")
@handled
def get(
    venture: VENTURE,
    key: Annotated[
        str | None, typer.Argument(help="One parameter (all visible from the current stage when omitted).")
    ] = None,
    as_json: JSON = False,
) -> None:
    """Show effective configuration: value, where it came from (default, segment, venture) and its version."""
    rows = STATE.engine().config(venture, key)
    if as_json:
        emit_json(rows[0].as_dict() if key else [s.as_dict() for s in rows])
        return
    table = Table(title=f"Configuration of {safe(venture)}")
    for col in ("key", "value", "source", "version", "unit"):
        table.add_column(col, overflow="fold")
    for s in rows:
        table.add_row(safe(s.key), _show(s.value), s.source, _show(s.version), s.unit)
    out.print(table)


@config_app.command("set")
@handled
def set_(
    venture: VENTURE,
    key: Annotated[
        str,
        typer.Argument(
            help="Parameter, e.g. rollback.error_rate_threshold, or a metric level: level.METRIC.threshold."
        ),
    ],
    value: Annotated[str, typer.Argument(help="New value; lists as 10,50,100 or JSON.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (required, recorded).")] = "",
    as_json: JSON = False,
) -> None:
    """Check a value against the parameter's type and range and write it as a new version."""
    change = STATE.engine().set_config(venture, key, value, actor=STATE.who("change_config"), reason=reason)
    if as_json:
        emit_json(change.as_dict())
    else:
        out.print(f"{safe(key)} = {_show(change.value)} (was {_show(change.previous)}), version {change.version}")


@config_app.command("history")
@handled
def history(
    venture: VENTURE,
    key: Annotated[str | None, typer.Option("--key", help="Only this parameter.")] = None,
    as_json: JSON = False,
) -> None:
    """List configuration changes, newest first; every version is kept."""
    rows = STATE.engine().config_history(venture, key)
    if as_json:
        emit_json([c.as_dict() for c in rows])
        return
    table = Table(title=f"Configuration history of {safe(venture)}")
    for col in ("version", "key", "value", "previous", "change", "by", "at", "reason"):
        table.add_column(col, overflow="fold")
    for c in rows:
        value = "(inherited)" if c.unset else _show(c.value)
        at = c.at.strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(
            str(c.version), safe(c.key), value, _show(c.previous), c.change, safe(c.actor), at, safe(c.reason)
        )
    out.print(table)


@config_app.command("diff")
@handled
def diff(
    venture: VENTURE,
    a: Annotated[str, typer.Argument(help="A version number, a snapshot name or `current`.")],
    b: Annotated[str, typer.Argument(help="The same; `current` when omitted.")] = "current",
    as_json: JSON = False,
) -> None:
    """Show the parameters that differ between two configurations."""
    d = STATE.engine().config_diff(venture, a, b)
    if as_json:
        emit_json(d.as_dict())
        return
    _diff_table(f"{a} (version {d.a_version}) → {b} (version {d.b_version})", d.changes)


@config_app.command("snapshot")
@handled
def snapshot(
    venture: VENTURE,
    name: Annotated[str, typer.Argument(help="Snapshot name (unique; pre-stage-N is reserved).")],
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded).")] = "",
    as_json: JSON = False,
) -> None:
    """Name the venture's current configuration version."""
    s = STATE.engine().snapshot(venture, name, actor=STATE.who("change_config"), reason=reason)
    if as_json:
        emit_json(s.as_dict())
    else:
        out.print(f"snapshot {safe(s.name)} = version {s.version}")


@config_app.command("snapshots")
@handled
def snapshots(venture: VENTURE, as_json: JSON = False) -> None:
    """List the venture's snapshots, newest first (pre-stage-N ones are taken on entering a stage)."""
    rows = STATE.engine().snapshots(venture)
    if as_json:
        emit_json([s.as_dict() for s in rows])
        return
    table = Table(title=f"Snapshots of {safe(venture)}")
    for col in ("name", "version", "stage", "kind", "by", "at"):
        table.add_column(col)
    for s in rows:
        kind = "on entry" if s.auto else "named"
        at = s.created_at.strftime("%Y-%m-%d %H:%M")
        table.add_row(safe(s.name), str(s.version), str(s.stage), kind, safe(s.actor), at)
    out.print(table)


def _print_rollback(r: RollbackRecord) -> None:
    title = "dry run: would restore" if r.outcome == "dry-run" else "restored"
    _diff_table(f"{title} {safe(r.target)} (version {r.target_version}) over version {r.from_version}", r.diff)
    for h in r.handlers:
        out.print(f"handler {safe(h.scope)}/{safe(h.handler)}: {'ok' if h.ok else 'FAILED'} {safe(h.detail)}".rstrip())
    if r.outcome == "dry-run":
        out.print("nothing changed")
        return
    version = f"new version {r.to_version}" if r.to_version is not None else "no new version (nothing differed)"
    out.print(f"rollback #{r.id} {r.outcome} in {r.duration_ms:.1f} ms; {version}")
    if r.escalation:
        out.print(f"escalated: {r.escalation}")
    if r.recursion:
        out.print(safe(r.recursion))


@rollback_app.command("run")
@handled
def run(
    venture: VENTURE,
    to: Annotated[str | None, typer.Option("--to", help="Version number or snapshot name to restore.")] = None,
    scope: Annotated[list[str] | None, typer.Option("--scope", help="Only these scopes (repeatable).")] = None,
    cause: Annotated[str, typer.Option("--cause", help="Why it is needed; without --to, the stage's plan.")] = "",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the diff; change nothing.")] = False,
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded).")] = "",
    as_json: JSON = False,
) -> None:
    """Restore a version or snapshot as a new version, run its scopes' handlers, log it (`rollback V` for short)."""
    r = STATE.engine().rollback(
        venture, to, actor=STATE.who("change_config"), reason=reason, cause=cause, scope=scope or None, dry_run=dry_run
    )
    if as_json:
        emit_json(r.as_dict())
    else:
        _print_rollback(r)


@rollback_app.command("plan")
@handled
def plan(
    venture: VENTURE,
    cause: Annotated[str, typer.Option("--cause", help="The cause, as the stage's decision tree names it.")],
    as_json: JSON = False,
) -> None:
    """Explain which branch of the stage's rollback decision tree applies to a cause, and why."""
    p = STATE.engine().rollback_plan(venture, cause)
    if as_json:
        emit_json(p.as_dict())
        return
    out.print(f"stage {p.stage}, cause {safe(p.cause)}: {p.action}")
    if p.description:
        out.print(safe(p.description))
    out.print(f"why: {safe(p.why)}")
    for n, step in enumerate(p.steps, 1):
        out.print(f"  {n}. {safe(step)}")
    if p.restores:
        if p.snapshot_version is None:
            out.print(f"snapshot {safe(p.snapshot)} does not exist for this venture")
        else:
            _diff_table(f"restoring {safe(p.snapshot)} (version {p.snapshot_version}) would change", p.diff)
    out.print(f"causes of stage {p.stage}: {safe(', '.join(p.causes))}")


@rollback_app.command("log")
@handled
def log(
    venture: Annotated[str | None, typer.Argument(help="Venture id or name (all when omitted).")] = None,
    as_json: JSON = False,
) -> None:
    """List rollbacks, newest first: target, changes, handlers, duration, outcome."""
    rows = STATE.engine().rollbacks(venture)
    if as_json:
        emit_json([r.as_dict() for r in rows])
        return
    table = Table(title="Rollbacks")
    for col in ("id", "venture", "stage", "target", "changes", "handlers", "ms", "outcome", "cause", "at"):
        table.add_column(col, overflow="fold")
    for r in rows:
        handlers = f"{sum(h.ok for h in r.handlers)}/{len(r.handlers)} ok"
        table.add_row(
            str(r.id),
            safe(r.venture),
            str(r.stage),
            safe(r.target),
            str(len(r.diff)),
            handlers,
            f"{r.duration_ms:.1f}",
            r.outcome + (f" ({r.escalation})" if r.escalation else ""),
            safe(r.cause),
            r.started_at.strftime("%Y-%m-%d %H:%M:%S"),
        )
    out.print(table)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `venturegate` command tree."""
    app.add_typer(config_app, name="config")
    app.add_typer(rollback_app, name="rollback")
