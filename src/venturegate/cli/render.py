"""Rich renderings of engine results for people (the `--json` forms are the records' `as_dict`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.table import Table
from rich.tree import Tree

from venturegate.cli.context import out
from venturegate.cli.escape import safe
from venturegate.core.gates import GateResult
from venturegate.engine.records import Event, Venture

VERDICT_STYLE = {"pass": "[green]pass[/green]", "fail": "[red]fail[/red]", "unknown": "[yellow]unknown[/yellow]"}
STATUS_STYLE = {"active": "green", "blocked": "yellow", "paused": "magenta", "killed": "red", "completed": "cyan"}


def fmt(value: Any) -> str:
    """A short human form of an observed or expected value."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    return safe(value)


def ventures_table(rows: Sequence[Venture], title: str = "Ventures") -> None:
    """A table of ventures."""
    table = Table(title=title)
    for col in ("id", "name", "segment", "stage", "status", "updated"):
        table.add_column(col)
    for v in rows:
        style = STATUS_STYLE.get(v.status, "")
        table.add_row(
            str(v.id),
            safe(v.name),
            safe(v.segment),
            str(v.stage),
            f"[{style}]{v.status}[/{style}]",
            v.updated_at.strftime("%Y-%m-%d %H:%M"),
        )
    out.print(table)


def gate_result(result: GateResult, venture: Venture | None) -> None:
    """A gate's checks with observed value, expected level, verdict and reason."""
    head = f"{safe(venture.name)}: " if venture else ""
    verdict = "[green]PASSED[/green]" if result.passed else "[red]NOT PASSED[/red]"
    table = Table(title=f"{head}stage {result.stage} {result.gate} gate — {verdict}", title_justify="left")
    for col in ("check", "kind", "observed", "expected", "verdict", "reason"):
        table.add_column(col, overflow="fold")
    for c in result.checks:
        table.add_row(
            safe(c.name), safe(c.kind), fmt(c.observed), fmt(c.expected), VERDICT_STYLE[c.verdict], safe(c.reason)
        )
    out.print(table)
    for c in result.checks:
        expl = c.explanation
        if expl is not None and expl.children and c.verdict != "pass":
            tree = Tree(f"{safe(c.name)}: {VERDICT_STYLE[c.verdict]}")
            _grow(tree, expl)
            out.print(tree)


def _grow(tree: Tree, expl: Any) -> None:
    for child in expl.children:
        value = fmt(child.value)
        note = f" — {safe(child.reason)}" if child.reason else ""
        branch = tree.add(f"{safe(child.text)} = {value}{note}", highlight=False)
        _grow(branch, child)


def events_table(rows: Sequence[Event]) -> None:
    """The event log."""
    table = Table(title="Events")
    for col in ("id", "at", "kind", "stage", "actor", "reason"):
        table.add_column(col, overflow="fold")
    for e in rows:
        stage = f"{e.stage}" + (f" / {e.substage}" if e.substage else "") if e.stage is not None else ""
        table.add_row(
            str(e.id),
            e.at.strftime("%Y-%m-%d %H:%M:%S"),
            safe(e.kind),
            safe(stage),
            safe(f"{e.actor} ({e.actor_role or e.actor_kind})"),
            safe(e.reason),
        )
    out.print(table)
